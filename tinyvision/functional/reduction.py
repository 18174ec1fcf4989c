"""Reductions over dims: sum, mean, max/min (with indices), amax/amin, var, std, argmax/argmin.

Every backward starts by putting the reduced dims back (``keepdim``), so the upstream
gradient broadcasts against the input again.
"""
import builtins
from collections import namedtuple

import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor
from ._util import normalize_dim, operand

MaxMin = namedtuple("MaxMin", ["values", "indices"])  # what torch.max(x, dim) returns


def _expand_back(gy, shape, axes, keepdim):
    """Give gy its reduced axes back as size 1 so it broadcasts over the input's shape."""
    if not keepdim:
        gy = np.expand_dims(gy, axes)
    return gy


class SumFn(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        return np.asarray(x.sum(axis=axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx, gy):
        """Every summed element gets the same gy: broadcast it back."""
        gy = _expand_back(gy, ctx.shape, ctx.axes, ctx.keepdim)
        return np.broadcast_to(gy, ctx.shape).copy(), None, None


class MeanFn(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        ctx.count = int(np.prod([x.shape[a] for a in axes]))
        return np.asarray(x.mean(axis=axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx, gy):
        """mean = sum / n: each element gets gy / n."""
        gy = _expand_back(gy, ctx.shape, ctx.axes, ctx.keepdim) / gy.dtype.type(ctx.count)
        return np.broadcast_to(gy, ctx.shape).copy(), None, None


class AmaxFn(Function):
    """max (or min, by sign) over several dims; ties share the gradient evenly (as torch.amax)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, largest):
        y = x.max(axis=axes, keepdims=True) if largest else x.min(axis=axes, keepdims=True)
        ctx.save_for_backward(x, y)
        ctx.axes, ctx.keepdim = axes, keepdim
        return y if keepdim else np.squeeze(y, axes)

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        hit = x == y
        share = (hit / hit.sum(axis=ctx.axes, keepdims=True)).astype(gy.dtype, copy=False)
        gy = _expand_back(gy, x.shape, ctx.axes, ctx.keepdim)
        return gy * share, None, None, None


class MaxDimFn(Function):
    """max (or min) along one dim, with the index of the winner; the gradient goes there."""

    @staticmethod
    def forward(ctx, x, dim, keepdim, largest):
        idx = np.expand_dims((x.argmax if largest else x.argmin)(axis=dim), dim)
        values = np.take_along_axis(x, idx, axis=dim)
        ctx.save_for_backward(idx)
        ctx.shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        if not keepdim:
            values, idx = np.squeeze(values, dim), np.squeeze(idx, dim)
        indices = idx.astype(np.int64)
        ctx.mark_non_differentiable(indices)
        return values, indices

    @staticmethod
    def backward(ctx, gy, _gidx):
        (idx,) = ctx.saved_tensors
        gx = np.zeros(ctx.shape, gy.dtype)
        gy = _expand_back(gy, ctx.shape, (ctx.dim,), ctx.keepdim)
        np.put_along_axis(gx, idx, gy, axis=ctx.dim)
        return gx, None, None, None


class VarFn(Function):
    @staticmethod
    def forward(ctx, x, axes, correction, keepdim):
        n = int(np.prod([x.shape[a] for a in axes]))
        centred = x - x.mean(axis=axes, keepdims=True)
        ctx.save_for_backward(centred)
        ctx.axes, ctx.keepdim, ctx.denom = axes, keepdim, builtins.max(n - correction, 0)
        return np.asarray((centred * centred).sum(axis=axes, keepdims=keepdim) / ctx.denom)

    @staticmethod
    def backward(ctx, gy):
        """var = Σ(x − x̄)² / (n − c); d var/dx_i = 2(x_i − x̄)/(n − c) (the x̄ terms sum to 0)."""
        (centred,) = ctx.saved_tensors
        gy = _expand_back(gy, centred.shape, ctx.axes, ctx.keepdim)
        return gy * centred * (2.0 / ctx.denom), None, None, None


class StdFn(Function):
    @staticmethod
    def forward(ctx, x, axes, correction, keepdim):
        ctx.std = np.sqrt(VarFn.forward(ctx, x, axes, correction, keepdim))
        return ctx.std

    @staticmethod
    def backward(ctx, gy):
        """std = √var: d std/dx = (d var/dx) / (2 std), taken as 0 where std = 0 (PyTorch's
        choice; √ has no derivative at 0, and composing sqrt(var) would give 0·∞ = nan)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            gvar = np.where(ctx.std == 0, 0, gy / (2 * ctx.std)).astype(gy.dtype, copy=False)
        return VarFn.backward(ctx, gvar)


# ---- public functions ---------------------------------------------------------------------
def _x(input):
    return operand(input, input)


def _axes(x, dim, fn):
    """The reduced axes; a 0-d tensor takes dim 0 or -1 and reduces nothing (as PyTorch)."""
    ndim = np.ndim(_arr(x))
    axes = normalize_dim(dim, ndim, fn)
    return axes if ndim else ()


def sum(input, dim=None, keepdim=False):
    x = _x(input)
    return SumFn.apply(x, _axes(x, dim, "sum"), keepdim)


def mean(input, dim=None, keepdim=False):
    x = _x(input)
    arr = x.data if isinstance(x, Tensor) else x
    if arr.dtype.kind not in "fc":
        raise TypeError(f"mean: input must be floating point, got dtype {arr.dtype}")
    return MeanFn.apply(x, _axes(x, dim, "mean"), keepdim)


def _extreme(input, dim, keepdim, largest, name):
    x = _x(input)
    arr = x.data if isinstance(x, Tensor) else x
    if arr.size == 0:
        raise ValueError(f"{name}: input is empty (shape {arr.shape})")
    if dim is None:
        return AmaxFn.apply(x, normalize_dim(None, arr.ndim, name), False, largest)
    (d,) = normalize_dim(dim, arr.ndim, name)
    if arr.ndim == 0:  # the value itself, at index 0
        return MaxMin(AmaxFn.apply(x, (), False, largest), Tensor(np.zeros((), np.int64)))
    return MaxMin(*MaxDimFn.apply(x, d, keepdim, largest))


def max(input, dim=None, keepdim=False):
    """Largest value; with ``dim``, a (values, indices) pair as ``torch.max``."""
    return _extreme(input, dim, keepdim, True, "max")


def min(input, dim=None, keepdim=False):
    """Smallest value; with ``dim``, a (values, indices) pair as ``torch.min``."""
    return _extreme(input, dim, keepdim, False, "min")


def amax(input, dim=None, keepdim=False):
    x = _x(input)
    return AmaxFn.apply(x, _axes(x, dim, "amax"), keepdim, True)


def amin(input, dim=None, keepdim=False):
    x = _x(input)
    return AmaxFn.apply(x, _axes(x, dim, "amin"), keepdim, False)


def _arr(x):
    return x.data if isinstance(x, Tensor) else x


def argmax(input, dim=None, keepdim=False):
    arr = _arr(_x(input))
    if dim is None:
        return Tensor(np.asarray(arr.argmax(), np.int64))
    return Tensor(np.asarray(arr.argmax(axis=dim, keepdims=keepdim), np.int64))


def argmin(input, dim=None, keepdim=False):
    arr = _arr(_x(input))
    if dim is None:
        return Tensor(np.asarray(arr.argmin(), np.int64))
    return Tensor(np.asarray(arr.argmin(axis=dim, keepdims=keepdim), np.int64))


def var(input, dim=None, unbiased=True, keepdim=False, *, correction=None):
    """Variance Σ(x − x̄)²/(n − correction); correction defaults to 1 (Bessel), 0 if not unbiased."""
    x = _x(input)
    c = (1 if unbiased else 0) if correction is None else correction
    return VarFn.apply(x, _axes(x, dim, "var"), c, keepdim)


def std(input, dim=None, unbiased=True, keepdim=False, *, correction=None):
    """√var, with var's arguments."""
    x = _x(input)
    c = (1 if unbiased else 0) if correction is None else correction
    return StdFn.apply(x, _axes(x, dim, "std"), c, keepdim)
