"""Pooling: max_pool2d, avg_pool2d, adaptive_max_pool2d, adaptive_avg_pool2d (as PyTorch's).

Each output reduces one window of its input plane; per axis (k kernel, s stride, p padding,
d dilation, i the output index)::

    max/avg     window taps  i·s − p + j·d,  j < k   (avg: d = 1; padding: −inf for max,
                                                      zeros for avg)
                out = (in + 2p − d(k−1) − 1 + (s−1 if ceil_mode)) // s + 1
    adaptive    window       [floor(i·in/out), ceil((i+1)·in/out))

Worked example: a 5x5 input, 2x2 max pooling: out = (5 − 1 − 1)//2 + 1 = 2 (row and column 4
are read by no window); with ceil_mode, 3 (the last window holds row 4 alone).  Adaptive
pooling of 5 rows to 3: windows [0, 2), [1, 4), [3, 5), overlapping where 5/3 is not whole.

The formulas in full (divisors, ceil_mode's last window, NaN and ties) and the hot loops
are in kernels/pool2d/ (``kernels.get("pool2d", x)`` picks the implementation).  Inputs are
(N, C, H, W) or (C, H, W), float32 or float64.
"""
import numpy as np

from .. import kernels
from ..autograd.function import Function
from ..kernels.pool2d import windows
from ..tensor import Tensor, as_array


class MaxPool2dFn(Function):
    @staticmethod
    def forward(ctx, x, geometry, ceil_mode, return_indices):
        """x (N, C, H, W) -> y (N, C, OH, OW), the max of each window, and its indices."""
        ctx.kernel, ctx.in_size = kernels.get("pool2d", x), x.shape[2:]
        y, argmax = ctx.kernel.max_pool2d_forward(x, *geometry, ceil_mode)  # argmax int32
        ctx.save_for_backward(argmax)
        return _with_indices(ctx, y, argmax, return_indices)

    @staticmethod
    def backward(ctx, gy, gindices=None):
        """y[o] = x[argmax[o]], so dL/dx[argmax[o]] += dL/dy[o] and every other input gets 0:
        a scatter-add (windows may overlap, so one input can win several windows).  The
        tap that won a tie or held a NaN takes the whole gradient, as in PyTorch."""
        (argmax,) = ctx.saved_tensors
        return ctx.kernel.max_pool2d_backward(gy, argmax, *ctx.in_size), None, None, None


class AvgPool2dFn(Function):
    @staticmethod
    def forward(ctx, x, geometry, ceil_mode, count_include_pad, divisor_override):
        """x (N, C, H, W) -> y (N, C, OH, OW) = (sum over each window) / divisor."""
        ctx.kernel, ctx.in_size = kernels.get("pool2d", x), x.shape[2:]
        ctx.args = geometry, ceil_mode, count_include_pad, divisor_override
        return ctx.kernel.avg_pool2d_forward(x, *geometry, ceil_mode, count_include_pad,
                                             divisor_override)

    @staticmethod
    def backward(ctx, gy):
        """y[o] = Σ_{x_j in window o} x_j / divisor[o], so dL/dx_j = Σ_{o whose window holds
        x_j} dL/dy[o] / divisor[o]: each output's gradient spread evenly over its window."""
        geometry, ceil_mode, count_include_pad, divisor_override = ctx.args
        gx = ctx.kernel.avg_pool2d_backward(gy, *ctx.in_size, *geometry, ceil_mode,
                                            count_include_pad, divisor_override)
        return gx, None, None, None, None


class AdaptiveMaxPool2dFn(Function):
    @staticmethod
    def forward(ctx, x, output_size, return_indices):
        """x (N, C, H, W) -> y (N, C, OH, OW), the max of each adaptive window."""
        ctx.kernel, ctx.in_size = kernels.get("pool2d", x), x.shape[2:]
        y, argmax = ctx.kernel.adaptive_max_pool2d_forward(x, *output_size)
        ctx.save_for_backward(argmax)
        return _with_indices(ctx, y, argmax, return_indices)

    @staticmethod
    def backward(ctx, gy, gindices=None):
        """As max_pool2d's: each dL/dy[o] goes to the input argmax[o] named."""
        (argmax,) = ctx.saved_tensors
        return ctx.kernel.max_pool2d_backward(gy, argmax, *ctx.in_size), None, None


class AdaptiveAvgPool2dFn(Function):
    @staticmethod
    def forward(ctx, x, output_size):
        """x (N, C, H, W) -> y (N, C, OH, OW), the mean of each adaptive window."""
        ctx.kernel, ctx.in_size = kernels.get("pool2d", x), x.shape[2:]
        return ctx.kernel.adaptive_avg_pool2d_forward(x, *output_size)

    @staticmethod
    def backward(ctx, gy):
        """y[o] = mean of window o, so dL/dx_j = Σ_{o whose window holds x_j} dL/dy[o] / |o|."""
        return ctx.kernel.adaptive_avg_pool2d_backward(gy, *ctx.in_size), None


def _with_indices(ctx, y, argmax, return_indices):
    if not return_indices:
        return y
    indices = argmax.astype(np.int64)  # PyTorch's dtype; the kernels keep int32 (half the bytes)
    ctx.mark_non_differentiable(indices)
    return y, indices


# ---- public functions -------------------------------------------------------------------------
def _input(fn, input):
    """input as a checked Tensor: 3-D (C, H, W) or 4-D (N, C, H, W), float32/float64."""
    x = input if isinstance(input, Tensor) else Tensor(as_array(input))
    if x.ndim not in (3, 4) or any(n == 0 for n in x.shape[-3:]):
        raise ValueError(f"{fn}: input must be 3-D (C, H, W) or 4-D (N, C, H, W) with non-zero "
                         f"C, H, W, got shape {tuple(x.shape)}")
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{fn}: input must be float32 or float64, got {x.dtype}")
    return x


def _batched(apply, x, *args):
    """apply(x, *args) on a 4-D view of x: a (C, H, W) input is a batch of one."""
    if x.ndim == 4:
        return apply(x, *args)
    outs = apply(x.reshape(1, *x.shape), *args)
    if isinstance(outs, tuple):
        return tuple(o.reshape(o.shape[1:]) for o in outs)
    return outs.reshape(outs.shape[1:])


def _pair(value, name, fn, least):
    """An int for each spatial axis, from an int or a sequence of one or two ints."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    pair = pair * 2 if len(pair) == 1 else pair
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                 and v >= least for v in pair):
        raise ValueError(f"{fn}: {name} must be an int >= {least} or a pair of them, got {value!r}")
    return tuple(int(v) for v in pair)


def _geometry(fn, kernel_size, stride, padding, dilation=1):
    """(kh, kw, sh, sw, ph, pw[, dh, dw]) from PyTorch's arguments; stride defaults to the
    kernel size, padding is at most half of it."""
    kh, kw = _pair(kernel_size, "kernel_size", fn, 1)
    no_stride = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
    sh, sw = (kh, kw) if no_stride else _pair(stride, "stride", fn, 1)
    ph, pw = _pair(padding, "padding", fn, 0)
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"{fn}: padding must be at most half the kernel size, got padding "
                         f"{(ph, pw)} for kernel_size {(kh, kw)}")
    if dilation is None:  # avg_pool2d has none
        return kh, kw, sh, sw, ph, pw
    return (kh, kw, sh, sw, ph, pw) + _pair(dilation, "dilation", fn, 1)


def _output_size(fn, output_size, in_size):
    """(OH, OW) from an int or a pair whose entries may be None (keep that input size)."""
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    if len(sizes) != 2:
        raise ValueError(f"{fn}: output_size must be an int or a pair, got {output_size!r}")
    sizes = tuple(n if s is None else s for s, n in zip(sizes, in_size))
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1
               for s in sizes):
        raise ValueError(f"{fn}: output_size entries must be ints >= 1 or None, got "
                         f"{output_size!r}")
    return tuple(int(s) for s in sizes)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over each (dilated) window; with return_indices also the int64 flat index
    h*W + w of each maximum in its input plane.  Padding counts as −inf; a NaN in a window
    wins; ties go to the first maximum in row-major order (all as in PyTorch)."""
    x = _input("max_pool2d", input)
    geometry = _geometry("max_pool2d", kernel_size, stride, padding, dilation)
    windows.max_pool2d_windows(*x.shape[-2:], *geometry, ceil_mode)  # the window fits
    return _batched(MaxPool2dFn.apply, x, geometry, bool(ceil_mode), bool(return_indices))


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over each window; count_include_pad counts the zero padding in the divisor;
    divisor_override (an int) replaces the divisor."""
    x = _input("avg_pool2d", input)
    geometry = _geometry("avg_pool2d", kernel_size, stride, padding, None)
    if divisor_override is not None and not (isinstance(divisor_override, (int, np.integer))
                                             and divisor_override >= 1):
        raise ValueError("avg_pool2d: divisor_override must be None or an int >= 1, got "
                         f"{divisor_override!r}")
    windows.avg_pool2d_windows(*x.shape[-2:], *geometry, ceil_mode, count_include_pad,
                               divisor_override)  # the window fits
    return _batched(AvgPool2dFn.apply, x, geometry, bool(ceil_mode), bool(count_include_pad),
                    divisor_override)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over the adaptive windows that tile the input into output_size cells."""
    x = _input("adaptive_max_pool2d", input)
    size = _output_size("adaptive_max_pool2d", output_size, x.shape[-2:])
    return _batched(AdaptiveMaxPool2dFn.apply, x, size, bool(return_indices))


def adaptive_avg_pool2d(input, output_size):
    """Mean over the adaptive windows that tile the input into output_size cells
    (output_size 1: global average pooling)."""
    x = _input("adaptive_avg_pool2d", input)
    size = _output_size("adaptive_avg_pool2d", output_size, x.shape[-2:])
    return _batched(AdaptiveAvgPool2dFn.apply, x, size)
