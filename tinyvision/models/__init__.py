"""The model zoo. Each model is one file a student reads top to bottom, with its paper.

    classification/  LeNet5, AlexNetSmall, VGG, ResNet (resnet_small, resnet18, resnet50),
                     MobileNet, AllConvNet
    localization.py  Localizer (class head + box head), localization_loss (α·CE + (1−α)·box)
    pose.py          PoseRegressor (DeepPose), pose_loss (ℓ2 over visible joints), pck
    selective_search.py  selective_search (object proposals), felzenszwalb (its initial
                     segmentation), proposals_for (a data set, cached)
    sliding_window.py  WindowClassifier (with a background class), SlidingWindowDetector
    overfeat.py      fc_to_conv (FC layers as convolutions), Overfeat (one pass, multi-scale)
    rcnn.py          RCNN (warped proposals, CNN features, SVMs, box regression), RCNNNet
    fast_rcnn.py     FastRCNN (one pass, RoI pooling, multitask loss, end to end)
    detection/       FasterRCNN, YOLOv1, SSD, RetinaNet on one small ResNet + FPN backbone
"""
from .classification import (AlexNetSmall, AllConvNet, BasicBlock, Bottleneck, LeNet5,
                             MobileNet, ResNet, VGG, resnet18, resnet50, resnet_small)
from .localization import Localizer, localization_loss
from .pose import PoseRegressor, pck, pose_loss
from .selective_search import felzenszwalb, proposals_for, selective_search
from .sliding_window import SlidingWindowDetector, WindowClassifier
from .overfeat import Overfeat, fc_to_conv
from .rcnn import RCNN, RCNNNet
from .fast_rcnn import FastRCNN
from .detection import SSD, FasterRCNN, RetinaNet, YOLOv1

# Names for the CLI and the training scripts: name -> constructor(num_classes, in_channels)
CLASSIFIERS = {
    "lenet5": lambda num_classes, in_channels, **kw: LeNet5(num_classes, in_channels, **kw),
    "alexnet": lambda num_classes, in_channels, **kw: AlexNetSmall(num_classes, in_channels, **kw),
    "vgg": lambda num_classes, in_channels, **kw: VGG("vgg-small", num_classes, in_channels, **kw),
    "resnet": lambda num_classes, in_channels, **kw: resnet_small(num_classes, in_channels, **kw),
    "mobilenet": lambda num_classes, in_channels, **kw: MobileNet(num_classes, in_channels, **kw),
    "allconv": lambda num_classes, in_channels, **kw: AllConvNet(num_classes, in_channels, **kw),
}
