"""RoI pooling and RoI align as Numba CUDA kernels, one GPU thread per element.

The contract is in reference.py, the argument checks in common.py.  The launchers take
CuPy arrays (used in place through ``__cuda_array_interface__``; results are CuPy arrays)
or NumPy arrays (copied to the GPU and back: how the tests run them under Numba's
simulator, NUMBA_ENABLE_CUDASIM=1).  Importing this file needs no GPU.

Forwards: thread t owns output y.flat[t] = (r, c, oh, ow) and works out the geometry of
its bin itself (a few flops against the samples' reads; torchvision's CUDA kernels do the
same), then scans the bin (RoI pooling) or averages its gh x gw bilinear samples (RoI
align), in the reference's arithmetic.

Backwards: thread t owns gy.flat[t] and adds it atomically where its forward read: at
argmax (RoI pooling), or spread by the bilinear weights of its samples (RoI align).  Bins
of different RoIs, and the samples of one bin, share pixels, so the adds can collide.
NOTE: colliding float adds land in no fixed order, so gx may differ from run to run in
the last bits.  A sample outside [-1, H] x [-1, W] is skipped, where the CPU versions add
zeros: the same gx.

NOTE: float32 kernels must do no float64 arithmetic (slow on most GPUs): T = x.dtype.type
wraps every constant and every int that meets a float, e.g. T(i) + T(0.5), not T(i + 0.5).
"""
import math

import numpy as np
from numba import cuda

from .._gpu import array_module, launch_config
from .common import (check_argmax_range, check_gy, check_input_size, check_output_size,
                     check_rois, check_x)
from .reference import FLT_MAX


@cuda.jit(device=True)
def _round(v, T):
    """C's round(): halves away from zero."""
    a = abs(v)
    whole = T(math.floor(a))
    whole = whole + T(1) if a - whole >= T(0.5) else whole
    return int(whole) if v >= T(0) else -int(whole)


@cuda.jit(device=True)
def _at_least(v, low):
    return v if v > low else low  # (Python's max: its CUDA overload fails to compile here)


@cuda.jit(device=True)
def _clip(v, low, high):
    return low if v < low else high if v > high else v


@cuda.jit(device=True)
def _bin(o, start, bin_size, length, T):
    """[first, end) of bin o along one axis, clipped to [0, length) (RoI pooling)."""
    first = _clip(int(math.floor(T(o) * bin_size)) + start, 0, length)
    end = _clip(int(math.ceil(T(o + 1) * bin_size)) + start, 0, length)
    return first, end


@cuda.jit(device=True)
def _axis(v, length, T):
    """(lo, hi, w_lo, w_hi): the pixels a sample at v reads along one axis, and their
    weights; lo = -1 outside [-1, length] (the sample reads 0)."""
    if not (v >= T(-1) and v <= T(length)):
        return -1, -1, T(0), T(0)
    if v <= T(0):
        v = T(0)
    lo = int(v)
    hi = lo + 1
    if lo >= length - 1:  # at or past the last pixel: it alone
        lo = hi = length - 1
        v = T(lo)
    w_hi = v - T(lo)
    return lo, hi, T(1) - w_hi, w_hi


@cuda.jit(device=True)
def _align_bin(rois, r, oh, ow, OH, OW, scale, sampling_ratio, aligned, T):
    """(batch index, y1, x1, bin height, bin width, gh, gw) of one RoI align bin."""
    offset = T(0.5) if aligned else T(0)
    x1, y1 = rois[r, 1] * scale - offset, rois[r, 2] * scale - offset
    w, h = rois[r, 3] * scale - offset - x1, rois[r, 4] * scale - offset - y1
    if not aligned:  # a malformed RoI becomes 1x1
        w, h = _at_least(w, T(1)), _at_least(h, T(1))
    gh = sampling_ratio if sampling_ratio > 0 else _at_least(int(math.ceil(h / T(OH))), 0)
    gw = sampling_ratio if sampling_ratio > 0 else _at_least(int(math.ceil(w / T(OW))), 0)
    return int(rois[r, 0]), y1, x1, h / T(OH), w / T(OW), gh, gw


@cuda.jit
def _roi_pool_forward_kernel(x, rois, y, argmax, scale):
    H, W = x.shape[2:]
    R, C, OH, OW = y.shape
    T = x.dtype.type
    t = cuda.grid(1)
    if t >= y.size:
        return
    ow = t % OW  # t = ((r*C + c)*OH + oh)*OW + ow
    oh = t // OW % OH
    c = t // (OW * OH) % C
    r = t // (OW * OH * C)
    x1, y1 = _round(rois[r, 1] * scale, T), _round(rois[r, 2] * scale, T)
    x2, y2 = _round(rois[r, 3] * scale, T), _round(rois[r, 4] * scale, T)
    h0, h1 = _bin(oh, y1, T(_at_least(y2 - y1 + 1, 1)) / T(OH), H, T)
    w0, w1 = _bin(ow, x1, T(_at_least(x2 - x1 + 1, 1)) / T(OW), W, T)
    b = int(rois[r, 0])
    best = T(0) if h1 <= h0 or w1 <= w0 else T(-FLT_MAX)
    k = -1                                        # an empty bin: 0, argmax -1
    for h in range(h0, h1):
        for w in range(w0, w1):
            v = x[b, c, h, w]
            if v > best:                          # the first maximum; NaN never wins
                best, k = v, h * W + w
    y[r, c, oh, ow] = best
    argmax[r, c, oh, ow] = k


@cuda.jit
def _roi_pool_backward_kernel(gy, rois, argmax, gx):
    """gx (N, C, H*W), zeros on entry."""
    R, C, OH, OW = gy.shape
    t = cuda.grid(1)
    if t >= gy.size:
        return
    ow = t % OW
    oh = t // OW % OH
    c = t // (OW * OH) % C
    r = t // (OW * OH * C)
    k = argmax[r, c, oh, ow]
    if 0 <= k < gx.shape[2]:  # the launcher checked the range; never write outside gx
        cuda.atomic.add(gx, (int(rois[r, 0]), c, k), gy[r, c, oh, ow])


@cuda.jit
def _roi_align_forward_kernel(x, rois, y, scale, sampling_ratio, aligned):
    H, W = x.shape[2:]
    R, C, OH, OW = y.shape
    T = x.dtype.type
    t = cuda.grid(1)
    if t >= y.size:
        return
    ow = t % OW
    oh = t // OW % OH
    c = t // (OW * OH) % C
    r = t // (OW * OH * C)
    b, y1, x1, bin_h, bin_w, gh, gw = _align_bin(rois, r, oh, ow, OH, OW, scale,
                                                 sampling_ratio, aligned, T)
    total = T(0)
    for iy in range(gh):
        y_lo, y_hi, wy_lo, wy_hi = _axis(y1 + T(oh) * bin_h + (T(iy) + T(0.5)) * bin_h / T(gh),
                                         H, T)
        for ix in range(gw):
            x_lo, x_hi, wx_lo, wx_hi = _axis(
                x1 + T(ow) * bin_w + (T(ix) + T(0.5)) * bin_w / T(gw), W, T)
            if y_lo >= 0 and x_lo >= 0:
                total += (wy_lo * wx_lo * x[b, c, y_lo, x_lo] + wy_lo * wx_hi * x[b, c, y_lo, x_hi]
                          + wy_hi * wx_lo * x[b, c, y_hi, x_lo]
                          + wy_hi * wx_hi * x[b, c, y_hi, x_hi])
    y[r, c, oh, ow] = total / T(_at_least(gh * gw, 1))


@cuda.jit
def _roi_align_backward_kernel(gy, rois, gx, scale, sampling_ratio, aligned):
    """gx (N, C, H, W), zeros on entry."""
    H, W = gx.shape[2:]
    R, C, OH, OW = gy.shape
    T = gx.dtype.type
    t = cuda.grid(1)
    if t >= gy.size:
        return
    ow = t % OW
    oh = t // OW % OH
    c = t // (OW * OH) % C
    r = t // (OW * OH * C)
    b, y1, x1, bin_h, bin_w, gh, gw = _align_bin(rois, r, oh, ow, OH, OW, scale,
                                                 sampling_ratio, aligned, T)
    g = gy[r, c, oh, ow] / T(_at_least(gh * gw, 1))  # each sample's share of its bin's gradient
    for iy in range(gh):
        y_lo, y_hi, wy_lo, wy_hi = _axis(y1 + T(oh) * bin_h + (T(iy) + T(0.5)) * bin_h / T(gh),
                                         H, T)
        for ix in range(gw):
            x_lo, x_hi, wx_lo, wx_hi = _axis(
                x1 + T(ow) * bin_w + (T(ix) + T(0.5)) * bin_w / T(gw), W, T)
            if y_lo >= 0 and x_lo >= 0:
                cuda.atomic.add(gx, (b, c, y_lo, x_lo), g * (wy_lo * wx_lo))
                cuda.atomic.add(gx, (b, c, y_lo, x_hi), g * (wy_lo * wx_hi))
                cuda.atomic.add(gx, (b, c, y_hi, x_lo), g * (wy_hi * wx_lo))
                cuda.atomic.add(gx, (b, c, y_hi, x_hi), g * (wy_hi * wx_hi))


# ---- launchers: the contract's functions (reference.py) ----------------------------------------
def roi_pool_forward(x, rois, OH, OW, spatial_scale):
    """(y, argmax), each (R, C, OH, OW) (contract: reference.py)."""
    check_x("roi_pool_forward", x)
    check_output_size("roi_pool_forward", OH, OW)
    check_rois("roi_pool_forward", rois, x.shape[0], x.dtype, spatial_scale)
    xp = array_module(x)
    y = xp.empty((rois.shape[0], x.shape[1], OH, OW), x.dtype)
    argmax = xp.empty(y.shape, np.int32)
    if y.size:
        _roi_pool_forward_kernel[launch_config(y.size)](
            xp.ascontiguousarray(x), xp.ascontiguousarray(rois), y, argmax,
            x.dtype.type(spatial_scale))
    return y, argmax


def roi_pool_backward(gy, rois, argmax, N, H, W):
    """gx (N, C, H, W) (contract: reference.py)."""
    check_input_size("roi_pool_backward", N, H, W)
    check_gy("roi_pool_backward", gy, rois, argmax)
    check_rois("roi_pool_backward", rois, N, gy.dtype, 1.0)
    check_argmax_range("roi_pool_backward", argmax, H, W)
    xp = array_module(gy)
    gx = xp.zeros((N, gy.shape[1], H * W), gy.dtype)  # the atomic adds need zeros to add to
    if gy.size:
        _roi_pool_backward_kernel[launch_config(gy.size)](
            xp.ascontiguousarray(gy), xp.ascontiguousarray(rois), xp.ascontiguousarray(argmax),
            gx)
    return gx.reshape(N, gy.shape[1], H, W)


def roi_align_forward(x, rois, OH, OW, spatial_scale, sampling_ratio, aligned):
    """y (R, C, OH, OW) (contract: reference.py)."""
    check_x("roi_align_forward", x)
    check_output_size("roi_align_forward", OH, OW)
    check_rois("roi_align_forward", rois, x.shape[0], x.dtype, spatial_scale)
    xp = array_module(x)
    y = xp.empty((rois.shape[0], x.shape[1], OH, OW), x.dtype)
    if y.size:
        _roi_align_forward_kernel[launch_config(y.size)](
            xp.ascontiguousarray(x), xp.ascontiguousarray(rois), y, x.dtype.type(spatial_scale),
            int(sampling_ratio), bool(aligned))
    return y


def roi_align_backward(gy, rois, N, H, W, spatial_scale, sampling_ratio, aligned):
    """gx (N, C, H, W) (contract: reference.py)."""
    check_input_size("roi_align_backward", N, H, W)
    check_gy("roi_align_backward", gy, rois)
    check_rois("roi_align_backward", rois, N, gy.dtype, spatial_scale)
    xp = array_module(gy)
    gx = xp.zeros((N, gy.shape[1], H, W), gy.dtype)  # the atomic adds need zeros to add to
    if gy.size:
        _roi_align_backward_kernel[launch_config(gy.size)](
            xp.ascontiguousarray(gy), xp.ascontiguousarray(rois), gx,
            gy.dtype.type(spatial_scale), int(sampling_ratio), bool(aligned))
    return gx
