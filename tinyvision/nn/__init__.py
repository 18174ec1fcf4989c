"""Layers and models: ``Module``, ``Parameter``, containers, layers, losses, ``init``, ``utils``."""
from . import init, utils
from .activation import Dropout, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .container import ModuleDict, ModuleList, Sequential
from .linear import Flatten, Identity, Linear
from .loss import (BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss,
                   SmoothL1Loss, TripletMarginLoss)
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d
