"""RoI pooling and RoI align with Numba, compiled on first call (one version per dtype, cached).

The contract is in reference.py; the argument checks and the channel-block layout are in
common.py.  The design is roi.pyx's, loop for loop (see its docstring): the geometry of
every RoI worked out once into tables; RoI align on channel blocks, each tap a 16-channel
multiply-add; one contiguous range of channels (or blocks) per thread (kernels/_threads.py,
the jitted loops release the GIL), so each thread adds only into its own channels of gx.
(Not parallel=True: Numba's threading layer here is OpenMP, whose idle threads spin beside
the GEMMs of the box head that follows; see kernels/_threads.py.)

NOTE: arithmetic stays in x's dtype, as in torchvision: T = x.dtype.type wraps every
constant and every int that meets a float (Numba, like NumPy, turns float32 * int64 into
float64), and a variable is never assigned a value of another type (Numba would widen it).

NOTE: the taps are read through views, plane[y, x] (16 channels): indexing
xb[b, cb, y, x, j] with indices from the tables checks each index for wraparound (it
might be negative, as far as LLVM knows), which kept the 16-channel loop from vectorising
(2.8x slower, measured).
"""
import math
from functools import partial

import numpy as np
from numba import njit

from .._threads import parallel_range
from .common import (BLOCK, blocked, check_argmax_range, check_gy, check_input_size,
                     check_output_size, check_rois, check_x, unblocked)
from .reference import FLT_MAX


@njit(cache=True, nogil=True)
def _round(v):
    """C's round(): halves away from zero (Python's round sends them to the even neighbour)."""
    a = abs(v)
    whole = math.floor(a)
    whole += 1 if a - whole >= 0.5 else 0
    return whole if v >= 0 else -whole


# ---- RoI pooling -----------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _pool_bins(rois, OH, OW, scale, H, W):
    """(first, end) rows (R, OH) and columns (R, OW) of every RoI's bins, clipped to the
    plane (see reference.py)."""
    T = rois.dtype.type
    R = rois.shape[0]
    h0, h1 = np.empty((R, OH), np.int64), np.empty((R, OH), np.int64)
    w0, w1 = np.empty((R, OW), np.int64), np.empty((R, OW), np.int64)
    for r in range(R):
        x1, y1 = _round(rois[r, 1] * scale), _round(rois[r, 2] * scale)
        x2, y2 = _round(rois[r, 3] * scale), _round(rois[r, 4] * scale)
        bin_h = T(max(y2 - y1 + 1, 1)) / T(OH)  # a malformed box becomes one pixel
        bin_w = T(max(x2 - x1 + 1, 1)) / T(OW)
        for oh in range(OH):
            h0[r, oh] = min(max(math.floor(T(oh) * bin_h) + y1, 0), H)
            h1[r, oh] = min(max(math.ceil(T(oh + 1) * bin_h) + y1, 0), H)
        for ow in range(OW):
            w0[r, ow] = min(max(math.floor(T(ow) * bin_w) + x1, 0), W)
            w1[r, ow] = min(max(math.ceil(T(ow + 1) * bin_w) + x1, 0), W)
    return h0, h1, w0, w1


@njit(cache=True, nogil=True)
def _roi_pool_forward(x, rois, y, argmax, h0, h1, w0, w1, c0, c1):
    """Channels [c0, c1)."""
    W = x.shape[3]
    OH, OW = y.shape[2:]
    T = x.dtype.type
    for r in range(rois.shape[0]):
        b = int(rois[r, 0])
        for c in range(c0, c1):
            for oh in range(OH):
                for ow in range(OW):
                    empty = h1[r, oh] <= h0[r, oh] or w1[r, ow] <= w0[r, ow]
                    best = T(0) if empty else T(-FLT_MAX)
                    k = -1                                  # an empty bin: 0, argmax -1
                    for h in range(h0[r, oh], h1[r, oh]):
                        for w in range(w0[r, ow], w1[r, ow]):
                            v = x[b, c, h, w]
                            k = h * W + w if v > best else k  # the first maximum wins
                            best = v if v > best else best    # (maxss: NaN never wins)
                    y[r, c, oh, ow] = best
                    argmax[r, c, oh, ow] = k


@njit(cache=True, nogil=True)
def _roi_pool_backward(gy, rois, argmax, gx, c0, c1):
    """gy, argmax (R, C, OH*OW); gx (N, C, H*W), zeros on entry."""
    for r in range(gy.shape[0]):
        b = int(rois[r, 0])
        for c in range(c0, c1):
            for o in range(gy.shape[2]):
                k = argmax[r, c, o]
                if k >= 0:
                    gx[b, c, k] += gy[r, c, o]


# ---- RoI align -------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _axis_samples(start, size, bins, grid, length, lo, hi, w_lo, w_hi):
    """Fill lo, hi, w_lo, w_hi (bins*grid,): sample o*grid + i along one axis reads pixels
    lo and hi with these weights (both 0 outside [-1, length]); see reference.py."""
    T = w_lo.dtype.type
    bin_size = size / T(bins)
    for o in range(bins):
        for i in range(grid):
            v = start + T(o) * bin_size + T(i + 0.5) * bin_size / T(grid)
            k = o * grid + i
            lo[k], hi[k], w_lo[k], w_hi[k] = 0, 0, T(0), T(0)
            if not (v >= -1 and v <= length):
                continue                                # the sample reads 0
            if v <= 0:
                v = T(0)
            lo[k] = int(v)
            if lo[k] >= length - 1:                     # at or past the last pixel: it alone
                lo[k] = hi[k] = length - 1
                v = T(lo[k])
            else:
                hi[k] = lo[k] + 1
            w_hi[k] = v - T(lo[k])
            w_lo[k] = T(1) - w_hi[k]


@njit(cache=True, nogil=True)
def _align_samples(rois, OH, OW, scale, sampling_ratio, aligned, H, W):
    """The samples of every RoI (see reference.py): grid (R, 2) = (gh, gw); RoI r's rows are
    entries rows[r] to rows[r+1] of the row tables (OH*gh of them, bin oh's from
    rows[r] + oh*gh), its columns alike."""
    T = rois.dtype.type
    R = rois.shape[0]
    offset = T(0.5) if aligned else T(0)
    start, size = np.empty((R, 2), rois.dtype), np.empty((R, 2), rois.dtype)  # (y, x)
    grid = np.empty((R, 2), np.int64)
    for r in range(R):
        x1, y1 = rois[r, 1] * scale - offset, rois[r, 2] * scale - offset
        w, h = rois[r, 3] * scale - offset - x1, rois[r, 4] * scale - offset - y1
        if not aligned:  # a malformed RoI becomes 1x1
            w, h = max(w, T(1)), max(h, T(1))
        start[r, 0], start[r, 1], size[r, 0], size[r, 1] = y1, x1, h, w
        grid[r, 0] = sampling_ratio if sampling_ratio > 0 else max(math.ceil(h / T(OH)), 0)
        grid[r, 1] = sampling_ratio if sampling_ratio > 0 else max(math.ceil(w / T(OW)), 0)
    rows, cols = np.zeros(R + 1, np.int64), np.zeros(R + 1, np.int64)
    rows[1:], cols[1:] = np.cumsum(OH * grid[:, 0]), np.cumsum(OW * grid[:, 1])
    y_lo, y_hi = np.empty(rows[R], np.int64), np.empty(rows[R], np.int64)
    wy_lo, wy_hi = np.empty(rows[R], rois.dtype), np.empty(rows[R], rois.dtype)
    x_lo, x_hi = np.empty(cols[R], np.int64), np.empty(cols[R], np.int64)
    wx_lo, wx_hi = np.empty(cols[R], rois.dtype), np.empty(cols[R], rois.dtype)
    for r in range(R):
        y, x = slice(rows[r], rows[r + 1]), slice(cols[r], cols[r + 1])
        _axis_samples(start[r, 0], size[r, 0], OH, grid[r, 0], H, y_lo[y], y_hi[y], wy_lo[y],
                      wy_hi[y])
        _axis_samples(start[r, 1], size[r, 1], OW, grid[r, 1], W, x_lo[x], x_hi[x], wx_lo[x],
                      wx_hi[x])
    return grid, rows, cols, (y_lo, y_hi, wy_lo, wy_hi), (x_lo, x_hi, wx_lo, wx_hi)


@njit(cache=True, nogil=True)
def _roi_align_forward(xb, rois, y, samples, cb0, cb1):
    """Channel blocks [cb0, cb1) of xb (N, C/16, H, W, 16); tables from _align_samples."""
    C, OH, OW = y.shape[1:]
    T = y.dtype.type
    grid, rows, cols, (y_lo, y_hi, wy_lo, wy_hi), (x_lo, x_hi, wx_lo, wx_hi) = samples
    total = np.empty(BLOCK, y.dtype)
    for r in range(rois.shape[0]):
        b, gh, gw = int(rois[r, 0]), grid[r, 0], grid[r, 1]
        count = T(max(gh * gw, 1))
        for cb in range(cb0, cb1):
            plane = xb[b, cb]
            for oh in range(OH):
                for ow in range(OW):
                    for j in range(BLOCK):
                        total[j] = 0
                    for iy in range(rows[r] + oh * gh, rows[r] + (oh + 1) * gh):
                        for ix in range(cols[r] + ow * gw, cols[r] + (ow + 1) * gw):
                            w1, w2 = wy_lo[iy] * wx_lo[ix], wy_lo[iy] * wx_hi[ix]
                            w3, w4 = wy_hi[iy] * wx_lo[ix], wy_hi[iy] * wx_hi[ix]
                            t1, t2 = plane[y_lo[iy], x_lo[ix]], plane[y_lo[iy], x_hi[ix]]
                            t3, t4 = plane[y_hi[iy], x_lo[ix]], plane[y_hi[iy], x_hi[ix]]
                            for j in range(BLOCK):  # the four taps' 16 channels
                                total[j] += w1 * t1[j] + w2 * t2[j] + w3 * t3[j] + w4 * t4[j]
                    for j in range(min(BLOCK, C - cb * BLOCK)):
                        y[r, cb * BLOCK + j, oh, ow] = total[j] / count


@njit(cache=True, nogil=True)
def _roi_align_backward(gy, rois, gxb, samples, cb0, cb1):
    """Channel blocks [cb0, cb1) of gxb (N, C/16, H, W, 16), zeros on entry."""
    C, OH, OW = gy.shape[1:]
    T = gy.dtype.type
    grid, rows, cols, (y_lo, y_hi, wy_lo, wy_hi), (x_lo, x_hi, wx_lo, wx_hi) = samples
    g = np.empty(BLOCK, gy.dtype)
    for r in range(rois.shape[0]):
        b, gh, gw = int(rois[r, 0]), grid[r, 0], grid[r, 1]
        if gh * gw == 0:
            continue                    # an empty grid read nothing
        count = T(gh * gw)
        for cb in range(cb0, cb1):
            plane = gxb[b, cb]
            for oh in range(OH):
                for ow in range(OW):
                    for j in range(BLOCK):  # each sample's share of the bin's gradient
                        g[j] = gy[r, cb * BLOCK + j, oh, ow] / count if cb * BLOCK + j < C else T(0)
                    for iy in range(rows[r] + oh * gh, rows[r] + (oh + 1) * gh):
                        for ix in range(cols[r] + ow * gw, cols[r] + (ow + 1) * gw):
                            w1, w2 = wy_lo[iy] * wx_lo[ix], wy_lo[iy] * wx_hi[ix]
                            w3, w4 = wy_hi[iy] * wx_lo[ix], wy_hi[iy] * wx_hi[ix]
                            t1, t2 = plane[y_lo[iy], x_lo[ix]], plane[y_lo[iy], x_hi[ix]]
                            t3, t4 = plane[y_hi[iy], x_lo[ix]], plane[y_hi[iy], x_hi[ix]]
                            for j in range(BLOCK):  # (two taps may be one pixel)
                                t1[j] += g[j] * w1
                                t2[j] += g[j] * w2
                                t3[j] += g[j] * w3
                                t4[j] += g[j] * w4


# ---- the contract's functions (reference.py) ---------------------------------------------------
def roi_pool_forward(x, rois, OH, OW, spatial_scale):
    """(y, argmax), each (R, C, OH, OW) (contract: reference.py)."""
    check_x("roi_pool_forward", x)
    check_output_size("roi_pool_forward", OH, OW)
    N, C, H, W = x.shape
    check_rois("roi_pool_forward", rois, N, x.dtype, spatial_scale)
    x, rois = np.ascontiguousarray(x), np.ascontiguousarray(rois)
    y = np.empty((len(rois), C, OH, OW), x.dtype)
    argmax = np.empty(y.shape, np.int32)
    bins = _pool_bins(rois, OH, OW, x.dtype.type(spatial_scale), H, W)
    parallel_range(partial(_roi_pool_forward, x, rois, y, argmax, *bins), C, y.size * 4)
    return y, argmax


def roi_pool_backward(gy, rois, argmax, N, H, W):
    """gx (N, C, H, W) (contract: reference.py)."""
    check_input_size("roi_pool_backward", N, H, W)
    check_gy("roi_pool_backward", gy, rois, argmax)
    check_rois("roi_pool_backward", rois, N, gy.dtype, 1.0)
    check_argmax_range("roi_pool_backward", argmax, H, W)
    R, C, OH, OW = gy.shape
    gx = np.zeros((N, C, H * W), gy.dtype)
    gy, argmax = (np.ascontiguousarray(a).reshape(R, C, OH * OW) for a in (gy, argmax))
    parallel_range(partial(_roi_pool_backward, gy, np.ascontiguousarray(rois), argmax, gx), C,
                   gy.size)
    return gx.reshape(N, C, H, W)


def roi_align_forward(x, rois, OH, OW, spatial_scale, sampling_ratio, aligned):
    """y (R, C, OH, OW) (contract: reference.py)."""
    check_x("roi_align_forward", x)
    check_output_size("roi_align_forward", OH, OW)
    N, C, H, W = x.shape
    check_rois("roi_align_forward", rois, N, x.dtype, spatial_scale)
    x, rois = np.ascontiguousarray(x), np.ascontiguousarray(rois)
    y = np.empty((len(rois), C, OH, OW), x.dtype)
    samples = _align_samples(rois, OH, OW, x.dtype.type(spatial_scale), int(sampling_ratio),
                             bool(aligned), H, W)
    xb = blocked(x)
    parallel_range(partial(_roi_align_forward, xb, rois, y, samples), xb.shape[1], y.size * 16)
    return y


def roi_align_backward(gy, rois, N, H, W, spatial_scale, sampling_ratio, aligned):
    """gx (N, C, H, W) (contract: reference.py)."""
    check_input_size("roi_align_backward", N, H, W)
    check_gy("roi_align_backward", gy, rois)
    check_rois("roi_align_backward", rois, N, gy.dtype, spatial_scale)
    gy, rois = np.ascontiguousarray(gy), np.ascontiguousarray(rois)
    R, C, OH, OW = gy.shape
    samples = _align_samples(rois, OH, OW, gy.dtype.type(spatial_scale), int(sampling_ratio),
                             bool(aligned), H, W)
    gxb = np.zeros((N, -(-C // BLOCK), H, W, BLOCK), gy.dtype)
    parallel_range(partial(_roi_align_backward, gy, rois, gxb, samples), gxb.shape[1],
                   gy.size * 16)
    return unblocked(gxb, C)
