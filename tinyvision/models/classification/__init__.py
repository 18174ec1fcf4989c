"""Classifiers, in the order the lectures meet them."""
from .alexnet import AlexNetSmall
from .allconv import AllConvNet
from .lenet import LeNet5
from .mobilenet import MobileNet
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet50, resnet_small
from .vgg import VGG
