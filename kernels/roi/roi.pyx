"""RoI pooling and RoI align in Cython: def wrappers check and allocate, cdef nogil loops work.

The contract is in reference.py; the argument checks and the channel-block layout are in
common.py.  numba_cpu.py has the same design, loop for loop:

* The geometry of every RoI is worked out once, before the channel loops: the bins of
  RoI pooling (_pool_bins), or the sample rows and columns of RoI align with their
  bilinear weights (_align_samples: tables lo, hi, w_lo, w_hi per row and column sample).
* RoI align runs on channel blocks: x (or gx) is laid out as (N, C/16, H, W, 16), so the
  16 channels of one pixel are one contiguous run (a 64-byte cache line in float32) and
  each tap of a sample is a 16-wide multiply-add that gcc vectorises.  On the plain
  (N, C, H, W) layout the same loops took 3.7x longer (70 against 19 ms on one thread, the
  benchmark's 512 RoIs on (2, 256, 50, 50)): each tap was a scalar load from its own plane.
  RoI pooling stays on planes: its windows are contiguous row runs, and its branch-free
  max (see pool2d.pyx) is as fast there.
* The channels (or blocks) are split into one contiguous range per thread
  (kernels/_threads.py, the GIL released), so in the backward passes each thread adds only
  into its own channels of gx: no races, no atomics, the same sums on any number of threads.

Arithmetic is in the input's type (``real``: float or double), in torchvision's order.
NOTE: a C literal such as 0.5 is a double, so a constant that meets a ``real`` is cast to
it first (``<real>(i + 0.5)``), or float32 inputs would be computed in double.
"""
from libc.float cimport FLT_MAX
from libc.math cimport ceil, floor, round

from functools import partial

import numpy as np

from .._threads import parallel_range
from .common import (blocked, check_argmax_range, check_gy, check_input_size,
                     check_output_size, check_rois, check_x, unblocked)

ctypedef fused real:
    float
    double

cdef enum:
    BLOCK = 16  # channels per block (common.BLOCK)


# ---- RoI pooling -----------------------------------------------------------------------------
def _pool_bins(const real[:, ::1] rois, Py_ssize_t OH, Py_ssize_t OW, real scale, Py_ssize_t H,
               Py_ssize_t W):
    """(first, end) rows (R, OH) and columns (R, OW) of every RoI's bins, clipped to the
    plane (see reference.py)."""
    cdef Py_ssize_t R = rois.shape[0], r, o, x1, y1, x2, y2
    first_h, end_h = np.empty((R, OH), np.intp), np.empty((R, OH), np.intp)
    first_w, end_w = np.empty((R, OW), np.intp), np.empty((R, OW), np.intp)
    cdef Py_ssize_t[:, ::1] h0 = first_h, h1 = end_h, w0 = first_w, w1 = end_w
    cdef real bin_h, bin_w
    for r in range(R):
        x1, y1 = <Py_ssize_t>round(rois[r, 1] * scale), <Py_ssize_t>round(rois[r, 2] * scale)
        x2, y2 = <Py_ssize_t>round(rois[r, 3] * scale), <Py_ssize_t>round(rois[r, 4] * scale)
        bin_h = <real>max(y2 - y1 + 1, 1) / <real>OH  # a malformed box becomes one pixel
        bin_w = <real>max(x2 - x1 + 1, 1) / <real>OW
        for o in range(OH):
            h0[r, o] = min(max(<Py_ssize_t>floor(<real>o * bin_h) + y1, 0), H)
            h1[r, o] = min(max(<Py_ssize_t>ceil(<real>(o + 1) * bin_h) + y1, 0), H)
        for o in range(OW):
            w0[r, o] = min(max(<Py_ssize_t>floor(<real>o * bin_w) + x1, 0), W)
            w1[r, o] = min(max(<Py_ssize_t>ceil(<real>(o + 1) * bin_w) + x1, 0), W)
    return first_h, end_h, first_w, end_w


cdef void _roi_pool_forward(const real[:, :, :, ::1] x, const real[:, ::1] rois,
                            real[:, :, :, ::1] y, int[:, :, :, ::1] argmax,
                            const Py_ssize_t[:, ::1] h0, const Py_ssize_t[:, ::1] h1,
                            const Py_ssize_t[:, ::1] w0, const Py_ssize_t[:, ::1] w1,
                            Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """Channels [c0, c1)."""
    cdef Py_ssize_t W = x.shape[3], OH = y.shape[2], OW = y.shape[3]
    cdef Py_ssize_t r, b, c, oh, ow, h, w, k, t
    cdef const real* plane
    cdef real best, v
    for r in range(rois.shape[0]):
        b = <Py_ssize_t>rois[r, 0]
        for c in range(c0, c1):
            plane = &x[b, c, 0, 0]
            for oh in range(OH):
                for ow in range(OW):
                    best = 0 if h1[r, oh] <= h0[r, oh] or w1[r, ow] <= w0[r, ow] else -FLT_MAX
                    k = -1                                  # an empty bin: 0, argmax -1
                    for h in range(h0[r, oh], h1[r, oh]):
                        for w in range(w0[r, ow], w1[r, ow]):
                            t = h * W + w
                            v = plane[t]
                            k = t if v > best else k        # the first maximum wins
                            best = v if v > best else best  # (maxss: NaN never wins)
                    y[r, c, oh, ow] = best
                    argmax[r, c, oh, ow] = <int>k


cdef void _roi_pool_backward(const real[:, :, ::1] gy, const real[:, ::1] rois,
                             const int[:, :, ::1] argmax, real[:, :, ::1] gx, Py_ssize_t c0,
                             Py_ssize_t c1) noexcept nogil:
    """Channels [c0, c1): gy, argmax (R, C, OH*OW); gx (N, C, H*W), zeros on entry."""
    cdef Py_ssize_t r, b, c, o, k
    for r in range(gy.shape[0]):
        b = <Py_ssize_t>rois[r, 0]
        for c in range(c0, c1):
            for o in range(gy.shape[2]):
                k = argmax[r, c, o]
                if k >= 0:
                    gx[b, c, k] += gy[r, c, o]


# ---- RoI align -------------------------------------------------------------------------------
cdef void _axis_samples(real start, real size, Py_ssize_t bins, Py_ssize_t grid,
                        Py_ssize_t length, Py_ssize_t[::1] lo, Py_ssize_t[::1] hi,
                        real[::1] w_lo, real[::1] w_hi, Py_ssize_t first) noexcept nogil:
    """Sample o*grid + i along one axis reads pixels lo and hi with weights w_lo, w_hi (both
    0, and lo = hi = 0, outside [-1, length]); written at entries first + o*grid + i."""
    cdef real bin_size = size / <real>bins
    cdef real v
    cdef Py_ssize_t o, i, k
    for o in range(bins):
        for i in range(grid):
            v = start + <real>o * bin_size + <real>(i + 0.5) * bin_size / <real>grid
            k = first + o * grid + i
            lo[k], hi[k], w_lo[k], w_hi[k] = 0, 0, 0, 0
            if not (v >= -1 and v <= length):
                continue                                # the sample reads 0
            if v <= 0:
                v = 0
            lo[k] = <Py_ssize_t>v
            if lo[k] >= length - 1:                     # at or past the last pixel: it alone
                lo[k] = hi[k] = length - 1
                v = <real>lo[k]
            else:
                hi[k] = lo[k] + 1
            w_hi[k] = v - <real>lo[k]
            w_lo[k] = 1 - w_hi[k]


def _align_samples(const real[:, ::1] rois, Py_ssize_t OH, Py_ssize_t OW, real scale,
                   Py_ssize_t sampling_ratio, bint aligned, Py_ssize_t H, Py_ssize_t W):
    """The samples of every RoI (see reference.py): grid (R, 2) = (gh, gw); RoI r's rows are
    entries rows[r] to rows[r+1] of the row tables (OH*gh of them, bin oh's from
    rows[r] + oh*gh), its columns alike; tables (lo, hi, w_lo, w_hi) for rows, then columns."""
    if real is float:
        dtype = np.float32
    else:
        dtype = np.float64
    cdef Py_ssize_t R = rois.shape[0], r
    cdef real offset = <real>0.5 if aligned else 0
    start_size = np.empty((R, 4), dtype)  # (y1, h, x1, w) per RoI
    cdef real[:, ::1] box = start_size
    grid = np.empty((R, 2), np.intp)
    cdef Py_ssize_t[:, ::1] g = grid
    for r in range(R):
        box[r, 2], box[r, 0] = rois[r, 1] * scale - offset, rois[r, 2] * scale - offset
        box[r, 3] = rois[r, 3] * scale - offset - box[r, 2]
        box[r, 1] = rois[r, 4] * scale - offset - box[r, 0]
        if not aligned:  # a malformed RoI becomes 1x1
            box[r, 1], box[r, 3] = max(box[r, 1], <real>1), max(box[r, 3], <real>1)
        if sampling_ratio > 0:
            g[r, 0] = g[r, 1] = sampling_ratio
        else:
            g[r, 0] = max(<Py_ssize_t>ceil(box[r, 1] / <real>OH), 0)
            g[r, 1] = max(<Py_ssize_t>ceil(box[r, 3] / <real>OW), 0)
    rows = np.zeros(R + 1, np.intp)
    cols = np.zeros(R + 1, np.intp)
    np.cumsum(OH * grid[:, 0], out=rows[1:])
    np.cumsum(OW * grid[:, 1], out=cols[1:])
    y_tables = (np.empty(rows[R], np.intp), np.empty(rows[R], np.intp),
                np.empty(rows[R], dtype), np.empty(rows[R], dtype))
    x_tables = (np.empty(cols[R], np.intp), np.empty(cols[R], np.intp),
                np.empty(cols[R], dtype), np.empty(cols[R], dtype))
    cdef Py_ssize_t[::1] first_row = rows, first_col = cols
    cdef Py_ssize_t[::1] y_lo = y_tables[0], y_hi = y_tables[1]
    cdef Py_ssize_t[::1] x_lo = x_tables[0], x_hi = x_tables[1]
    cdef real[::1] wy_lo = y_tables[2], wy_hi = y_tables[3]
    cdef real[::1] wx_lo = x_tables[2], wx_hi = x_tables[3]
    for r in range(R):
        _axis_samples(box[r, 0], box[r, 1], OH, g[r, 0], H, y_lo, y_hi, wy_lo, wy_hi, first_row[r])
        _axis_samples(box[r, 2], box[r, 3], OW, g[r, 1], W, x_lo, x_hi, wx_lo, wx_hi, first_col[r])
    return grid, rows, cols, y_tables, x_tables


cdef void _roi_align_forward(const real[:, :, :, :, ::1] xb, const real[:, ::1] rois,
                             real[:, :, :, ::1] y, const Py_ssize_t[:, ::1] grid,
                             const Py_ssize_t[::1] rows, const Py_ssize_t[::1] cols,
                             const Py_ssize_t[::1] y_lo, const Py_ssize_t[::1] y_hi,
                             const real[::1] wy_lo, const real[::1] wy_hi,
                             const Py_ssize_t[::1] x_lo, const Py_ssize_t[::1] x_hi,
                             const real[::1] wx_lo, const real[::1] wx_hi,
                             Py_ssize_t cb0, Py_ssize_t cb1) noexcept nogil:
    """Channel blocks [cb0, cb1) of xb (N, C/16, H, W, 16); tables from _align_samples."""
    cdef Py_ssize_t C = y.shape[1], W = xb.shape[3], OH = y.shape[2], OW = y.shape[3]
    cdef Py_ssize_t r, b, cb, oh, ow, iy, ix, j, gh, gw
    cdef const real* plane
    cdef const real* p1
    cdef const real* p2
    cdef const real* p3
    cdef const real* p4
    cdef real w1, w2, w3, w4, count
    cdef real total[BLOCK]
    for r in range(rois.shape[0]):
        b, gh, gw = <Py_ssize_t>rois[r, 0], grid[r, 0], grid[r, 1]
        count = <real>max(gh * gw, 1)
        for cb in range(cb0, cb1):
            plane = &xb[b, cb, 0, 0, 0]
            for oh in range(OH):
                for ow in range(OW):
                    for j in range(BLOCK):
                        total[j] = 0
                    for iy in range(rows[r] + oh * gh, rows[r] + (oh + 1) * gh):
                        for ix in range(cols[r] + ow * gw, cols[r] + (ow + 1) * gw):
                            w1, w2 = wy_lo[iy] * wx_lo[ix], wy_lo[iy] * wx_hi[ix]
                            w3, w4 = wy_hi[iy] * wx_lo[ix], wy_hi[iy] * wx_hi[ix]
                            p1 = plane + (y_lo[iy] * W + x_lo[ix]) * BLOCK  # the four taps'
                            p2 = plane + (y_lo[iy] * W + x_hi[ix]) * BLOCK  # 16 channels
                            p3 = plane + (y_hi[iy] * W + x_lo[ix]) * BLOCK
                            p4 = plane + (y_hi[iy] * W + x_hi[ix]) * BLOCK
                            for j in range(BLOCK):
                                total[j] += w1 * p1[j] + w2 * p2[j] + w3 * p3[j] + w4 * p4[j]
                    for j in range(min(BLOCK, C - cb * BLOCK)):
                        y[r, cb * BLOCK + j, oh, ow] = total[j] / count


cdef void _roi_align_backward(const real[:, :, :, ::1] gy, const real[:, ::1] rois,
                              real[:, :, :, :, ::1] gxb, const Py_ssize_t[:, ::1] grid,
                              const Py_ssize_t[::1] rows, const Py_ssize_t[::1] cols,
                              const Py_ssize_t[::1] y_lo, const Py_ssize_t[::1] y_hi,
                              const real[::1] wy_lo, const real[::1] wy_hi,
                              const Py_ssize_t[::1] x_lo, const Py_ssize_t[::1] x_hi,
                              const real[::1] wx_lo, const real[::1] wx_hi,
                              Py_ssize_t cb0, Py_ssize_t cb1) noexcept nogil:
    """Channel blocks [cb0, cb1) of gxb (N, C/16, H, W, 16), zeros on entry."""
    cdef Py_ssize_t C = gy.shape[1], W = gxb.shape[3], OH = gy.shape[2], OW = gy.shape[3]
    cdef Py_ssize_t r, b, cb, oh, ow, iy, ix, j, gh, gw
    cdef real* plane
    cdef real* p1
    cdef real* p2
    cdef real* p3
    cdef real* p4
    cdef real w1, w2, w3, w4, count
    cdef real g[BLOCK]
    for r in range(rois.shape[0]):
        b, gh, gw = <Py_ssize_t>rois[r, 0], grid[r, 0], grid[r, 1]
        if gh * gw == 0:
            continue                    # an empty grid read nothing
        count = <real>(gh * gw)
        for cb in range(cb0, cb1):
            plane = &gxb[b, cb, 0, 0, 0]
            for oh in range(OH):
                for ow in range(OW):
                    for j in range(BLOCK):  # each sample's share of the bin's gradient
                        g[j] = gy[r, cb * BLOCK + j, oh, ow] / count if cb * BLOCK + j < C else 0
                    for iy in range(rows[r] + oh * gh, rows[r] + (oh + 1) * gh):
                        for ix in range(cols[r] + ow * gw, cols[r] + (ow + 1) * gw):
                            w1, w2 = wy_lo[iy] * wx_lo[ix], wy_lo[iy] * wx_hi[ix]
                            w3, w4 = wy_hi[iy] * wx_lo[ix], wy_hi[iy] * wx_hi[ix]
                            p1 = plane + (y_lo[iy] * W + x_lo[ix]) * BLOCK
                            p2 = plane + (y_lo[iy] * W + x_hi[ix]) * BLOCK
                            p3 = plane + (y_hi[iy] * W + x_lo[ix]) * BLOCK
                            p4 = plane + (y_hi[iy] * W + x_hi[ix]) * BLOCK
                            for j in range(BLOCK):  # (two taps may be one pixel)
                                p1[j] += g[j] * w1
                                p2[j] += g[j] * w2
                                p3[j] += g[j] * w3
                                p4[j] += g[j] * w4


# ---- one thread's share: channels (or channel blocks) [first, last), the GIL released -------
def _roi_pool_forward_part(const real[:, :, :, ::1] x, const real[:, ::1] rois,
                           real[:, :, :, ::1] y, int[:, :, :, ::1] argmax,
                           const Py_ssize_t[:, ::1] h0, const Py_ssize_t[:, ::1] h1,
                           const Py_ssize_t[:, ::1] w0, const Py_ssize_t[:, ::1] w1,
                           Py_ssize_t first, Py_ssize_t last):
    with nogil:
        _roi_pool_forward(x, rois, y, argmax, h0, h1, w0, w1, first, last)


def _roi_pool_backward_part(const real[:, :, ::1] gy, const real[:, ::1] rois,
                            const int[:, :, ::1] argmax, real[:, :, ::1] gx, Py_ssize_t first,
                            Py_ssize_t last):
    with nogil:
        _roi_pool_backward(gy, rois, argmax, gx, first, last)


def _roi_align_forward_part(const real[:, :, :, :, ::1] xb, const real[:, ::1] rois,
                            real[:, :, :, ::1] y, samples, Py_ssize_t first, Py_ssize_t last):
    grid, rows, cols, (y_lo, y_hi, wy_lo, wy_hi), (x_lo, x_hi, wx_lo, wx_hi) = samples
    cdef const Py_ssize_t[:, ::1] g = grid
    cdef const Py_ssize_t[::1] r0 = rows, c0 = cols, yl = y_lo, yh = y_hi, xl = x_lo, xh = x_hi
    cdef const real[::1] ayl = wy_lo, ayh = wy_hi, axl = wx_lo, axh = wx_hi
    with nogil:
        _roi_align_forward(xb, rois, y, g, r0, c0, yl, yh, ayl, ayh, xl, xh, axl, axh, first,
                           last)


def _roi_align_backward_part(const real[:, :, :, ::1] gy, const real[:, ::1] rois,
                             real[:, :, :, :, ::1] gxb, samples, Py_ssize_t first,
                             Py_ssize_t last):
    grid, rows, cols, (y_lo, y_hi, wy_lo, wy_hi), (x_lo, x_hi, wx_lo, wx_hi) = samples
    cdef const Py_ssize_t[:, ::1] g = grid
    cdef const Py_ssize_t[::1] r0 = rows, c0 = cols, yl = y_lo, yh = y_hi, xl = x_lo, xh = x_hi
    cdef const real[::1] ayl = wy_lo, ayh = wy_hi, axl = wx_lo, axh = wx_hi
    with nogil:
        _roi_align_backward(gy, rois, gxb, g, r0, c0, yl, yh, ayl, ayh, xl, xh, axl, axh, first,
                            last)


# ---- the contract's functions (reference.py) ---------------------------------------------------
def roi_pool_forward(x, rois, OH, OW, spatial_scale):
    """(y, argmax), each (R, C, OH, OW) (contract: reference.py)."""
    check_x("roi_pool_forward", x)
    check_output_size("roi_pool_forward", OH, OW)
    N, C, H, W = x.shape
    check_rois("roi_pool_forward", rois, N, x.dtype, spatial_scale)
    rois = np.ascontiguousarray(rois)
    y = np.empty((len(rois), C, OH, OW), x.dtype)
    argmax = np.empty(y.shape, np.int32)
    bins = _pool_bins(rois, OH, OW, x.dtype.type(spatial_scale), H, W)
    parallel_range(partial(_roi_pool_forward_part, np.ascontiguousarray(x), rois, y, argmax, *bins),
                   C, y.size * 4)
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
    body = partial(_roi_pool_backward_part, gy, np.ascontiguousarray(rois), argmax, gx)
    parallel_range(body, C, gy.size)
    return gx.reshape(N, C, H, W)


def roi_align_forward(x, rois, OH, OW, spatial_scale, sampling_ratio, aligned):
    """y (R, C, OH, OW) (contract: reference.py)."""
    check_x("roi_align_forward", x)
    check_output_size("roi_align_forward", OH, OW)
    N, C, H, W = x.shape
    check_rois("roi_align_forward", rois, N, x.dtype, spatial_scale)
    rois = np.ascontiguousarray(rois)
    y = np.empty((len(rois), C, OH, OW), x.dtype)
    samples = _align_samples(rois, OH, OW, x.dtype.type(spatial_scale), int(sampling_ratio),
                             bool(aligned), H, W)
    xb = blocked(x)
    parallel_range(partial(_roi_align_forward_part, xb, rois, y, samples), xb.shape[1],
                   y.size * 16)
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
    parallel_range(partial(_roi_align_backward_part, gy, rois, gxb, samples), gxb.shape[1],
                   gy.size * 16)
    return unblocked(gxb, C)
