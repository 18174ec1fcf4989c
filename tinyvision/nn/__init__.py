"""Layers and models: ``Module``, ``Parameter``, containers, layers, losses, ``init``, ``utils``."""
from . import init, utils
from .activation import Dropout, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .container import ModuleDict, ModuleList, Sequential
from .conv import Conv2d, ConvTranspose2d
from .linear import Flatten, Identity, Linear
from .loss import (BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss,
                   SmoothL1Loss, TripletMarginLoss)
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d
from .pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d
from .upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from ..ops.roi import MultiScaleRoIAlign, RoIAlign, RoIPool  # as torchvision.ops; last: ops needs nn
