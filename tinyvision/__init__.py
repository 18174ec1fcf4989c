"""tinyvision: a deep-learning framework for computer vision, from scratch on NumPy.

    import tinyvision as tv
    import tinyvision.functional as F

    x = tv.tensor([[1.0, 2.0]], requires_grad=True)
    y = F.relu(x @ tv.randn(2, 3)).sum()
    y.backward()            # x.grad now holds dy/dx

The package: ``tensor`` (Tensor, creation), ``autograd`` (Function, the engine, no_grad),
``functional`` (ops), ``nn`` (layers), ``optim`` (optimizers), ``testing`` (gradcheck),
and ``kernels`` (the native hot loops and their dispatch).
"""
from . import autograd
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .random import manual_seed
from .tensor import (Tensor, arange, bool_, eye, float16, float32, float64, from_numpy, full,
                     int32, int64, linspace, ones, ones_like, rand, randint, randn, randperm,
                     tensor, uint8, zeros, zeros_like)
from . import functional
from .functional import (abs, cat, chunk, clamp, exp, flatten, log, matmul, maximum, mean,
                         minimum, reshape, split, sqrt, squeeze, stack, sum, unsqueeze, where)
from .testing import GradcheckError, gradcheck
from .serialization import load, save
from . import data, nn, optim

__version__ = "0.1.0"
