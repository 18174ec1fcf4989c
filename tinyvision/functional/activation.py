"""Activations and dropout: relu, leaky_relu, sigmoid, tanh, softmax, log_softmax, dropout."""
import numpy as np

from ..autograd.function import Function
from ..random import default_generator
from ..tensor import Tensor
from ._util import normalize_dim, operand


class ReLUFn(Function):
    @staticmethod
    def forward(ctx, x, negative_slope):
        ctx.negative_slope = negative_slope
        positive = x > 0
        ctx.save_for_backward(positive)
        if negative_slope == 0:
            return np.maximum(x, 0, dtype=x.dtype)
        return np.where(positive, x, x * x.dtype.type(negative_slope))

    @staticmethod
    def backward(ctx, gy):
        """d relu/dx = 1 where x > 0, else the negative slope (0 for relu; 0 at x = 0)."""
        (positive,) = ctx.saved_tensors
        if ctx.negative_slope == 0:
            return gy * positive, None
        return gy * np.where(positive, 1, ctx.negative_slope).astype(gy.dtype), None


class SigmoidFn(Function):
    @staticmethod
    def forward(ctx, x):
        # NOTE: 1/(1+e^{-x}) overflows e^{-x} for x << 0; use e^{x}/(1+e^{x}) there instead.
        e = np.exp(-np.abs(x))
        y = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        """σ' = σ(1 − σ)."""
        (y,) = ctx.saved_tensors
        return gy * y * (1 - y)


class TanhFn(Function):
    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        """tanh' = 1 − tanh²."""
        (y,) = ctx.saved_tensors
        return gy * (1 - y * y)


class SoftmaxFn(Function):
    @staticmethod
    def forward(ctx, x, dim):
        # NOTE: subtracting the max leaves softmax unchanged and keeps exp from overflowing.
        e = np.exp(x - x.max(axis=dim, keepdims=True))
        y = e / e.sum(axis=dim, keepdims=True)
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, gy):
        """∂y_i/∂x_j = y_i(δ_ij − y_j), so gx = y ⊙ (gy − Σ_j gy_j y_j)."""
        (y,) = ctx.saved_tensors
        return y * (gy - (gy * y).sum(axis=ctx.dim, keepdims=True)), None


class LogSoftmaxFn(Function):
    @staticmethod
    def forward(ctx, x, dim):
        # log softmax = x − m − log Σ e^{x−m}: never takes the log of a rounded-to-0 softmax.
        shifted = x - x.max(axis=dim, keepdims=True)
        y = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, gy):
        """∂y_i/∂x_j = δ_ij − softmax_j, so gx = gy − softmax · Σ gy."""
        (y,) = ctx.saved_tensors
        return gy - np.exp(y) * gy.sum(axis=ctx.dim, keepdims=True), None


class DropoutFn(Function):
    @staticmethod
    def forward(ctx, x, p):
        # Inverted dropout: keep with probability 1 − p and scale by 1/(1 − p), so the
        # expected activation is unchanged and evaluation needs no rescaling.
        keep = default_generator().random(x.shape) >= p
        scale = keep * x.dtype.type(1 / (1 - p)) if p < 1 else np.zeros(x.shape, x.dtype)
        scale = scale.astype(x.dtype, copy=False)
        ctx.save_for_backward(scale)
        return x * scale

    @staticmethod
    def backward(ctx, gy):
        (scale,) = ctx.saved_tensors
        return gy * scale, None


def _float(input, fn):
    x = operand(input, input)
    arr = x.data if isinstance(x, Tensor) else x
    if arr.dtype.kind not in "fc":
        raise TypeError(f"{fn}: input must be floating point, got dtype {arr.dtype}")
    return x, arr


def relu(input):
    return ReLUFn.apply(_float(input, "relu")[0], 0.0)


def leaky_relu(input, negative_slope=0.01):
    return ReLUFn.apply(_float(input, "leaky_relu")[0], float(negative_slope))


def sigmoid(input):
    return SigmoidFn.apply(_float(input, "sigmoid")[0])


def tanh(input):
    return TanhFn.apply(_float(input, "tanh")[0])


def softmax(input, dim):
    """e^{x_i} / Σ_j e^{x_j} along ``dim`` (required, as PyTorch now asks)."""
    x, arr = _float(input, "softmax")
    (d,) = normalize_dim(dim, arr.ndim, "softmax")
    return SoftmaxFn.apply(x, d)


def log_softmax(input, dim):
    x, arr = _float(input, "log_softmax")
    (d,) = normalize_dim(dim, arr.ndim, "log_softmax")
    return LogSoftmaxFn.apply(x, d)


def dropout(input, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1/(1−p) (training only)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    x, _ = _float(input, "dropout")
    if not training or p == 0:
        return x if isinstance(x, Tensor) else Tensor(x)
    return DropoutFn.apply(x, p)
