"""Differentiable ops, as ``torch.nn.functional`` (import as ``F``) plus the tensor maths.

Every op is a ``Function`` (forward and backward side by side) in one of these files:

    arithmetic.py     + − × ÷ pow neg exp log sqrt abs clamp where maximum minimum
    reduction.py      sum mean max min amax amin var std argmax argmin
    shape.py          reshape view flatten transpose permute squeeze unsqueeze expand
                      getitem cat stack split chunk pad
    linalg.py         matmul linear
    conv.py           conv2d conv_transpose2d
    activation.py     relu leaky_relu sigmoid tanh softmax log_softmax dropout
    normalization.py  batch_norm
    pooling.py        max_pool2d avg_pool2d adaptive_max_pool2d adaptive_avg_pool2d
    resample.py       interpolate
    loss.py           cross_entropy nll_loss binary_cross_entropy_with_logits mse_loss
                      l1_loss smooth_l1_loss huber_loss triplet_margin_loss
                      sigmoid_focal_loss
"""
from .activation import dropout, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .arithmetic import (abs, add, clamp, clip, div, exp, log, maximum, minimum, mul, neg, pow,
                         sqrt, sub, where)
from .conv import conv2d, conv_transpose2d
from .linalg import linear, matmul
from .loss import (binary_cross_entropy_with_logits, cross_entropy, huber_loss, l1_loss,
                   mse_loss, nll_loss, pairwise_distance, sigmoid_focal_loss, smooth_l1_loss,
                   triplet_margin_loss)
from .normalization import batch_norm
from .pooling import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d
from .reduction import amax, amin, argmax, argmin, max, mean, min, std, sum, var
from .resample import interpolate
from .shape import (cat, chunk, concatenate, expand, flatten, getitem, pad, permute, reshape,
                    split, squeeze, stack, transpose, unsqueeze, view)
