"""RoI pooling and RoI align in plain NumPy: the readable version and the oracle.

The contract, shared by every implementation in this folder (same names, same arguments).
x is (N, C, H, W) float32 or float64; rois is (R, 5) of x's dtype, rows (batch_index, x1,
y1, x2, y2) in input-image pixels, which spatial_scale s maps onto the feature map x.
Results are C-contiguous, x's dtype (argmax int32); the argument checks are in common.py.
Arithmetic is in x's dtype and in the order of torchvision's CPU kernels
(roi_pool_kernel.cpp, roi_align_kernel.cpp), whose semantics these are.

``roi_pool_forward(x, rois, OH, OW, spatial_scale) -> (y, argmax)``      (Fast R-CNN)
    y, argmax : (R, C, OH, OW).  The RoI snaps to whole pixels: x1' = round(x1 * s) (C's
    round: halves away from zero), y1', x2', y2' alike; it is w = max(x2' - x1' + 1, 1)
    pixels wide (both ends inside; a malformed box becomes one pixel), h alike.  Bin
    (oh, ow) covers rows [floor(oh * h/OH), ceil((oh + 1) * h/OH)) shifted by y1' and
    clipped to [0, H) (columns alike): neighbouring bins may share a row, bins outside the
    map are empty.  y is the bin's maximum and argmax its flat index h*W + w in the plane:
    the first maximum in row-major order; the running maximum starts at -FLT_MAX and only
    a strictly greater value replaces it, so NaN never wins and a bin holding nothing above
    -FLT_MAX gives y = -FLT_MAX, argmax = -1.  An empty bin gives y = 0, argmax = -1.

``roi_pool_backward(gy, rois, argmax, N, H, W) -> gx``
    gx (N, C, H, W) = 0, then each gy[r, c, oh, ow] added at the flat index
    argmax[r, c, oh, ow] of plane (batch_index[r], c); nothing where argmax is -1.

``roi_align_forward(x, rois, OH, OW, spatial_scale, sampling_ratio, aligned) -> y``  (Mask R-CNN)
    y : (R, C, OH, OW).  No snapping: the RoI starts at x1 * s - o, with o = 0.5 if aligned
    (pixel i then covers [i - 0.5, i + 0.5]: the half-pixel shift) else 0, and is
    w = x2 * s - x1 * s wide, forced to at least 1 when not aligned (h alike).  Bin (oh, ow)
    averages a grid of gh x gw bilinear samples, gh = sampling_ratio if > 0 else
    ceil(h / OH) (gw alike), at rows

        y_iy = (y1 * s - o)  +  oh * (h / OH)  +  (iy + 0.5) * (h / OH) / gh,   iy < gh

    and columns x_ix alike.  Bilinear reading with torchvision's border rule, per axis: a
    sample beyond [-1, H] reads 0 (the whole sample); one in [-1, 0] reads row 0; from
    row H - 1 on it reads row H - 1 alone.  An empty grid (gh or gw = 0: an aligned RoI of
    height or width <= 0) gives 0.

``roi_align_backward(gy, rois, N, H, W, spatial_scale, sampling_ratio, aligned) -> gx``
    The adjoint: g = gy[r, c, oh, ow] / (gh * gw) is spread with each sample's four bilinear
    weights w onto the pixels the sample read, g * w added (samples and RoIs overlap).
    NOTE: torchvision divides per tap, (gy * w) / (gh * gw); dividing once per bin is the
    same to within one rounding and spares the fast kernels a division per tap (the Cython
    backward took twice as long with it).

Here the geometry is worked out per RoI (_pool_bins, _align_samples) and each RoI's bins
are read for all C channels at once; the Cython, Numba and CUDA versions do the same
arithmetic in loops.
"""
import math

import numpy as np

from .common import (check_argmax_range, check_gy, check_input_size, check_output_size,
                     check_rois, check_x)

FLT_MAX = float(np.finfo(np.float32).max)  # torchvision's start for the running maximum


def _round(v):
    """C's round(): halves go away from zero (np.round sends them to the even neighbour).
    NOTE: floor(|v| + 0.5) would round 0.49999999999999994 up; |v| - floor(|v|) is exact."""
    a = abs(float(v))
    whole = math.floor(a)
    return int(math.copysign(whole + (a - whole >= 0.5), v))


# ---- RoI pooling -----------------------------------------------------------------------------
def _bins(start, size, bins, length, dtype):
    """(first, end) int64 (bins,): bin o covers [floor(o * size/bins), ceil((o+1) * size/bins))
    shifted by start, clipped to [0, length)."""
    T = dtype.type
    bin_size = T(size) / T(bins)
    o = np.arange(bins, dtype=dtype)
    first = np.floor(o * bin_size).astype(np.int64) + start
    end = np.ceil((o + T(1)) * bin_size).astype(np.int64) + start
    return np.clip(first, 0, length), np.clip(end, 0, length)


def _pool_bins(rois, OH, OW, spatial_scale, H, W):
    """Per RoI: (batch index, (row first, row end) (OH,), (column first, column end) (OW,))."""
    T = rois.dtype.type
    for roi in rois:
        x1, y1, x2, y2 = (_round(v) for v in roi[1:] * T(spatial_scale))
        w, h = max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)  # a malformed box becomes one pixel
        yield int(roi[0]), _bins(y1, h, OH, H, rois.dtype), _bins(x1, w, OW, W, rois.dtype)


def roi_pool_forward(x, rois, OH, OW, spatial_scale):
    """(y, argmax), each (R, C, OH, OW); see the module docstring."""
    check_x("roi_pool_forward", x)
    check_output_size("roi_pool_forward", OH, OW)
    N, C, H, W = x.shape
    check_rois("roi_pool_forward", rois, N, x.dtype, spatial_scale)
    y = np.zeros((len(rois), C, OH, OW), x.dtype)
    argmax = np.full(y.shape, -1, np.int32)
    for r, (b, (h0, h1), (w0, w1)) in enumerate(_pool_bins(rois, OH, OW, spatial_scale, H, W)):
        for oh, ow in np.ndindex(OH, OW):
            window = x[b, :, h0[oh]:h1[oh], w0[ow]:w1[ow]].reshape(C, -1)  # row-major order
            if window.shape[1] == 0:
                continue                                   # an empty bin: 0, argmax -1
            candidate = np.where(window > -FLT_MAX, window, -np.inf)  # NaN never wins
            k = candidate.argmax(axis=1)                   # the first maximum
            best = candidate[np.arange(C), k]
            taken = best > -FLT_MAX
            y[r, :, oh, ow] = np.where(taken, best, -FLT_MAX)
            width = w1[ow] - w0[ow]
            flat = (h0[oh] + k // width) * W + w0[ow] + k % width
            argmax[r, :, oh, ow] = np.where(taken, flat, -1)
    return y, argmax


def roi_pool_backward(gy, rois, argmax, N, H, W):
    """gx (N, C, H, W): each gy added at the input its argmax names; see the module docstring."""
    check_input_size("roi_pool_backward", N, H, W)
    check_gy("roi_pool_backward", gy, rois, argmax)
    check_rois("roi_pool_backward", rois, N, gy.dtype, 1.0)
    check_argmax_range("roi_pool_backward", argmax, H, W)
    R, C = gy.shape[:2]
    gx = np.zeros((N, C, H * W), gy.dtype)
    for r in range(R):
        a, g = argmax[r].reshape(C, -1), gy[r].reshape(C, -1)
        c, o = np.nonzero(a >= 0)
        np.add.at(gx[int(rois[r, 0])], (c, a[c, o]), g[c, o])  # bins may share a maximum
    return gx.reshape(N, C, H, W)


# ---- RoI align -------------------------------------------------------------------------------
def _axis_samples(start, size, bins, grid, length, dtype):
    """The samples along one axis of one RoI: (lo, hi, w_lo, w_hi), each (bins, grid).

    Sample (o, i) sits at start + o*(size/bins) + (i + 0.5)*(size/bins)/grid and reads
    pixels lo and hi with weights w_lo + w_hi = 1, by the border rule (module docstring);
    outside [-1, length] both weights are 0 (and lo = hi = 0).
    """
    T = dtype.type
    bin_size = size / T(bins)
    v = (start + np.arange(bins, dtype=dtype)[:, None] * bin_size
         + (np.arange(grid, dtype=dtype) + T(0.5)) * bin_size / T(grid))     # (bins, grid)
    inside = (v >= -1) & (v <= length)
    v = np.where(v <= 0, T(0), v)                     # in [-1, 0]: the first pixel
    lo = v.astype(np.int64)
    last = lo >= length - 1                           # at or past the last pixel: it alone
    lo = np.where(last, length - 1, lo)
    hi = np.where(last, length - 1, lo + 1)
    v = np.where(last, lo.astype(dtype), v)
    w_hi = v - lo.astype(dtype)
    w_lo = T(1) - w_hi
    return lo * inside, hi * inside, w_lo * inside, w_hi * inside


def _align_samples(rois, OH, OW, spatial_scale, sampling_ratio, aligned, H, W):
    """Per RoI: (batch index, row samples, column samples), as _axis_samples returns them."""
    T = rois.dtype.type
    offset = T(0.5) if aligned else T(0)
    for roi in rois:
        x1, y1, x2, y2 = roi[1:] * T(spatial_scale) - offset
        w, h = x2 - x1, y2 - y1
        if not aligned:  # a malformed RoI becomes 1x1
            w, h = max(w, T(1)), max(h, T(1))
        gh = sampling_ratio if sampling_ratio > 0 else max(int(np.ceil(h / T(OH))), 0)
        gw = sampling_ratio if sampling_ratio > 0 else max(int(np.ceil(w / T(OW))), 0)
        yield (int(roi[0]), _axis_samples(y1, h, OH, gh, H, rois.dtype),
               _axis_samples(x1, w, OW, gw, W, rois.dtype))


def _corners(rows, cols):
    """The four (row index, column index, weight) of bilinear reading, for every sample
    pair: (OH*gh, 1) and (1, OW*gw) indices, (OH*gh, OW*gw) weights, torchvision's order."""
    y_lo, y_hi, wy_lo, wy_hi = (a.reshape(-1, 1) for a in rows)
    x_lo, x_hi, wx_lo, wx_hi = (a.reshape(1, -1) for a in cols)
    return [(y_lo, x_lo, wy_lo * wx_lo), (y_lo, x_hi, wy_lo * wx_hi),
            (y_hi, x_lo, wy_hi * wx_lo), (y_hi, x_hi, wy_hi * wx_hi)]


def roi_align_forward(x, rois, OH, OW, spatial_scale, sampling_ratio, aligned):
    """y (R, C, OH, OW); see the module docstring."""
    check_x("roi_align_forward", x)
    check_output_size("roi_align_forward", OH, OW)
    N, C, H, W = x.shape
    check_rois("roi_align_forward", rois, N, x.dtype, spatial_scale)
    y = np.zeros((len(rois), C, OH, OW), x.dtype)
    geometry = _align_samples(rois, OH, OW, spatial_scale, sampling_ratio, aligned, H, W)
    for r, (b, rows, cols) in enumerate(geometry):
        gh, gw = rows[0].shape[1], cols[0].shape[1]
        if gh * gw == 0:
            continue
        (i1, j1, w1), (i2, j2, w2), (i3, j3, w3), (i4, j4, w4) = _corners(rows, cols)
        plane = x[b]                                                 # (C, H, W)
        samples = (w1 * plane[:, i1, j1] + w2 * plane[:, i2, j2]
                   + w3 * plane[:, i3, j3] + w4 * plane[:, i4, j4])  # (C, OH*gh, OW*gw)
        y[r] = samples.reshape(C, OH, gh, OW, gw).sum(axis=(2, 4)) / x.dtype.type(gh * gw)
    return y


def roi_align_backward(gy, rois, N, H, W, spatial_scale, sampling_ratio, aligned):
    """gx (N, C, H, W); see the module docstring."""
    check_input_size("roi_align_backward", N, H, W)
    check_gy("roi_align_backward", gy, rois)
    check_rois("roi_align_backward", rois, N, gy.dtype, spatial_scale)
    R, C, OH, OW = gy.shape
    gx = np.zeros((N, C, H, W), gy.dtype)
    geometry = _align_samples(rois, OH, OW, spatial_scale, sampling_ratio, aligned, H, W)
    for r, (b, rows, cols) in enumerate(geometry):
        gh, gw = rows[0].shape[1], cols[0].shape[1]
        if gh * gw == 0:
            continue
        g = gy[r] / gy.dtype.type(gh * gw)              # each sample's share of its bin's
        g = g.repeat(gh, axis=1).repeat(gw, axis=2)     # gradient: (C, OH*gh, OW*gw)
        for i, j, w in _corners(rows, cols):
            np.add.at(gx[b], (slice(None), i, j), g * w)  # samples and RoIs overlap
    return gx
