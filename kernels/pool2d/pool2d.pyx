"""2-D pooling in Cython: def wrappers check and allocate, cdef nogil loops reduce windows.

The contract is in reference.py, the windows in windows.py.  The wrappers view x as
(P, H, W) with P = N*C planes; every loop runs over a range of planes, one range per thread
(kernels/_threads.py, which says why not OpenMP), each plane writing only its own part of
the output, so the threads never race.  setup.py compiles with boundscheck off: the wrappers check the
arguments, and the max backward checks each argmax before it writes.

NOTE: on real data ``v > best`` is a coin flip, so an ``if`` there mispredicts half the time
(measured 2.5x slower).  The max loop keeps the running maximum with ``v if v > best else
best`` (one maxss instruction, which also keeps NaN out) and the index of the last NaN on
the side, both without branches; a NaN found overrides the maximum at the end.

Specialised: whole 2x2 windows, stride 2, no padding (the pooling of most CNNs): the four
taps are read without loops (and, for max, chosen with selects), so gcc vectorises the
row (float32); avg's backward then writes each gx element once.  The other backwards zero
one gx plane at a time and scatter into it while it is in cache, rather than zero-filling
all of gx in a separate pass.
"""
from libc.stdint cimport int32_t, int64_t
from libc.string cimport memset

from functools import partial

import numpy as np

from .._threads import parallel_range
from .windows import (adaptive_pool2d_windows, argmax_out_of_range, avg_pool2d_windows, check_gy,
                      check_x, max_pool2d_windows, sizes)

ctypedef fused real:
    float
    double


def _window_max(const real[:, :, ::1] x, real[:, :, ::1] y, int32_t[:, :, ::1] argmax,
                const int64_t[::1] h0, const int64_t[::1] nh, const int64_t[::1] w0,
                const int64_t[::1] nw, Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t first,
                Py_ssize_t last):
    """Max over each output's window: nh[oh] rows h0[oh] + i*dh, nw[ow] columns alike."""
    cdef Py_ssize_t W = x.shape[2], OH = y.shape[1], OW = y.shape[2]
    cdef Py_ssize_t p, oh, ow, i, j, t, k, nan_k
    cdef const real* plane
    cdef real best, v
    with nogil:
        for p in range(first, last):
            plane = &x[p, 0, 0]
            for oh in range(OH):
                for ow in range(OW):
                    k = h0[oh] * W + w0[ow]  # the first tap inside the input is taken
                    best = plane[k]
                    nan_k = -1
                    for i in range(nh[oh]):
                        for j in range(nw[ow]):
                            t = (h0[oh] + i * dh) * W + w0[ow] + j * dw
                            v = plane[t]
                            k = t if v > best else k            # a later tie loses
                            best = v if v > best else best      # (maxss: NaN never gets in)
                            nan_k = t if v != v else nan_k      # the last NaN, if any, wins
                    if nan_k >= 0:
                        k = nan_k
                        best = plane[k]
                    y[p, oh, ow] = best
                    argmax[p, oh, ow] = <int32_t>k


def _max_2x2(const real[:, :, ::1] x, real[:, :, ::1] y,
             int32_t[:, :, ::1] argmax, Py_ssize_t first, Py_ssize_t last):
    """_window_max for 2x2 windows, stride 2, no padding: taps a b / c d of each window."""
    cdef Py_ssize_t W = x.shape[2], OH = y.shape[1], OW = y.shape[2]
    cdef Py_ssize_t p, oh, ow
    cdef const real* top
    cdef const real* bottom
    cdef real* yrow
    cdef int32_t* arow
    cdef real m, b, c, d
    cdef int32_t k, base
    cdef bint take
    with nogil:
        for p in range(first, last):
            for oh in range(OH):
                top = &x[p, 2 * oh, 0]
                bottom = &x[p, 2 * oh + 1, 0]
                yrow = &y[p, oh, 0]
                arow = &argmax[p, oh, 0]
                base = <int32_t>(2 * oh * W)
                for ow in range(OW):
                    m, k = top[2 * ow], 0
                    b, c, d = top[2 * ow + 1], bottom[2 * ow], bottom[2 * ow + 1]
                    take = (b > m) | (b != b)  # bitwise: no branch, so the loop vectorises
                    m = b if take else m
                    k = 1 if take else k
                    take = (c > m) | (c != c)
                    m = c if take else m
                    k = <int32_t>W if take else k
                    take = (d > m) | (d != d)
                    m = d if take else m
                    k = <int32_t>W + 1 if take else k
                    yrow[ow] = m
                    arow[ow] = base + 2 * <int32_t>ow + k


def _max_backward(const real[:, :, ::1] gy, const int32_t[:, :, ::1] argmax,
                  real[:, :, ::1] gx, Py_ssize_t[::1] bad, Py_ssize_t first, Py_ssize_t last):
    """Scatter gy to its argmax; sets bad[0] = 1 if an argmax value is out of range."""
    cdef Py_ssize_t HW = gx.shape[1] * gx.shape[2]
    cdef Py_ssize_t O = gy.shape[1] * gy.shape[2], p, o, k
    cdef real* plane
    cdef const real* g
    cdef const int32_t* a
    with nogil:
        for p in range(first, last):
            plane = &gx[p, 0, 0]
            g = &gy[p, 0, 0]
            a = &argmax[p, 0, 0]
            memset(plane, 0, HW * sizeof(real))  # zeroed here, while the plane is in cache
            for o in range(O):
                k = a[o]
                if 0 <= k < HW:
                    plane[k] += g[o]
                else:
                    bad[0] = 1  # every part that finds one writes the same 1


def _window_avg(const real[:, :, ::1] x, real[:, :, ::1] y, const int64_t[::1] h0,
                const int64_t[::1] h1, const int64_t[::1] ch, const int64_t[::1] w0,
                const int64_t[::1] w1, const int64_t[::1] cw,
                      Py_ssize_t divisor_override, Py_ssize_t first, Py_ssize_t last):
    cdef Py_ssize_t OH = y.shape[1], OW = y.shape[2], p, oh, ow, h, w
    cdef const real* row
    cdef real total, row_total
    with nogil:
        for p in range(first, last):
            for oh in range(OH):
                for ow in range(OW):
                    total = 0
                    for h in range(h0[oh], h1[oh]):  # each window row's sum, then their sum: two
                        row = &x[p, h, 0]            # short chains of dependent adds, not one long
                        row_total = 0
                        for w in range(w0[ow], w1[ow]):
                            row_total = row_total + row[w]
                        total = total + row_total
                    y[p, oh, ow] = total / <real>(divisor_override if divisor_override
                                                  else ch[oh] * cw[ow])


def _window_add(const real[:, :, ::1] g, real[:, :, ::1] gx, const int64_t[::1] h0,
                const int64_t[::1] h1, const int64_t[::1] w0,
                const int64_t[::1] w1, Py_ssize_t first, Py_ssize_t last):
    """gx = 0, then g[p, oh, ow] added to every input of its window (avg pooling's backward)."""
    cdef Py_ssize_t W = gx.shape[2], OH = g.shape[1], OW = g.shape[2]
    cdef Py_ssize_t p, oh, ow, h, w
    cdef real* row
    cdef real v
    with nogil:
        for p in range(first, last):
            memset(&gx[p, 0, 0], 0, gx.shape[1] * W * sizeof(real))  # while the plane is in cache
            for oh in range(OH):
                for ow in range(OW):
                    v = g[p, oh, ow]
                    for h in range(h0[oh], h1[oh]):
                        row = &gx[p, h, 0]
                        for w in range(w0[ow], w1[ow]):
                            row[w] += v


def _avg_2x2(const real[:, :, ::1] x, real[:, :, ::1] y, real divisor, Py_ssize_t first,
             Py_ssize_t last):
    """_window_avg for whole 2x2 windows, stride 2, no padding."""
    cdef Py_ssize_t OH = y.shape[1], OW = y.shape[2], p, oh, ow
    cdef const real* top
    cdef const real* bottom
    cdef real* yrow
    with nogil:
        for p in range(first, last):
            for oh in range(OH):
                top, bottom, yrow = &x[p, 2 * oh, 0], &x[p, 2 * oh + 1, 0], &y[p, oh, 0]
                for ow in range(OW):
                    yrow[ow] = ((top[2 * ow] + top[2 * ow + 1])
                                + (bottom[2 * ow] + bottom[2 * ow + 1])) / divisor


def _add_2x2(const real[:, :, ::1] g, real[:, :, ::1] gx, Py_ssize_t first, Py_ssize_t last):
    """_window_add for whole 2x2 windows, stride 2: gx[h, w] = g[h // 2, w // 2], 0 in a
    last odd row or column no window reads.  Writes each gx element once: no zero-fill."""
    cdef Py_ssize_t H = gx.shape[1], W = gx.shape[2]
    cdef Py_ssize_t OH = g.shape[1], OW = g.shape[2], p, h, w
    cdef const real* grow
    cdef real* row
    with nogil:
        for p in range(first, last):
            for h in range(H):
                row = &gx[p, h, 0]
                if h < 2 * OH:
                    grow = &g[p, h // 2, 0]
                    for w in range(2 * OW):
                        row[w] = grow[w // 2]
                    for w in range(2 * OW, W):
                        row[w] = 0
                else:
                    memset(row, 0, W * sizeof(real))


# ---- the contract's functions (reference.py), planes flattened to (N*C, H, W) --------------
def _planes(a):
    return np.ascontiguousarray(a).reshape(-1, *a.shape[2:])


def _two_by_two(H, W, geometry, ceil_mode):
    """Whole 2x2 windows, stride 2, no padding or dilation: the specialised loops apply."""
    return tuple(geometry) in ((2, 2, 2, 2, 0, 0), (2, 2, 2, 2, 0, 0, 1, 1)) and (
        H % 2 == W % 2 == 0 or not ceil_mode)


def _max(x, rows, cols, dh, dw, two_by_two=False):
    N, C = x.shape[:2]
    y = np.empty((N * C,) + sizes((rows, cols)), x.dtype)
    argmax = np.empty(y.shape, np.int32)
    rows = rows[0], (rows[1] - rows[0] + dh - 1) // dh  # (first tap, number of taps)
    cols = cols[0], (cols[1] - cols[0] + dw - 1) // dw
    body = (partial(_max_2x2, _planes(x), y, argmax) if two_by_two else
            partial(_window_max, _planes(x), y, argmax, *rows, *cols, dh, dw))
    parallel_range(body, N * C, x.size)
    return y.reshape(N, C, *y.shape[1:]), argmax.reshape(N, C, *y.shape[1:])


def _avg(x, rows, cols, divisor_override, two_by_two=False):
    N, C = x.shape[:2]
    y = np.empty((N * C,) + sizes((rows, cols)), x.dtype)
    body = (partial(_avg_2x2, _planes(x), y, divisor_override or 4) if two_by_two else
            partial(_window_avg, _planes(x), y, *rows, *cols, divisor_override or 0))
    parallel_range(body, N * C, x.size)
    return y.reshape(N, C, *y.shape[1:])


def _avg_backward(gy, H, W, rows, cols, divisor_override, two_by_two=False):
    N, C = gy.shape[:2]
    divisor = divisor_override or np.outer(rows[2], cols[2])  # (OH, OW)
    g = _planes(gy / np.asarray(divisor, gy.dtype))
    gx = np.empty((N * C, H, W), gy.dtype)
    body = (partial(_add_2x2, g, gx) if two_by_two else
            partial(_window_add, g, gx, *rows[:2], *cols[:2]))
    parallel_range(body, N * C, gx.size)
    return gx.reshape(N, C, H, W)


def max_pool2d_forward(x, kh, kw, sh, sw, ph, pw, dh, dw, ceil_mode):
    """(y, argmax), each (N, C, OH, OW) (contract: reference.py)."""
    check_x("max_pool2d", x)
    rows, cols = max_pool2d_windows(*x.shape[2:], kh, kw, sh, sw, ph, pw, dh, dw, ceil_mode)
    geometry = (kh, kw, sh, sw, ph, pw, dh, dw)
    return _max(x, rows, cols, dh, dw, _two_by_two(*x.shape[2:], geometry, ceil_mode))


def max_pool2d_backward(gy, argmax, H, W):
    """gx (N, C, H, W): each gy added at the input its argmax names (contract: reference.py)."""
    check_gy("max_pool2d_backward", gy, H, W, argmax=argmax)
    N, C = gy.shape[:2]
    gx = np.empty((N * C, H, W), gy.dtype)
    bad = np.zeros(1, np.intp)
    parallel_range(partial(_max_backward, _planes(gy), _planes(argmax), gx, bad), N * C, gx.size)
    if bad[0]:
        raise argmax_out_of_range(H, W)
    return gx.reshape(N, C, H, W)


def avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw, ceil_mode, count_include_pad, divisor_override):
    """y (N, C, OH, OW) (contract: reference.py)."""
    check_x("avg_pool2d", x)
    geometry = (kh, kw, sh, sw, ph, pw)
    windows = avg_pool2d_windows(*x.shape[2:], *geometry, ceil_mode, count_include_pad,
                                 divisor_override)
    return _avg(x, *windows, divisor_override, _two_by_two(*x.shape[2:], geometry, ceil_mode))


def avg_pool2d_backward(gy, H, W, kh, kw, sh, sw, ph, pw, ceil_mode, count_include_pad,
                        divisor_override):
    """gx (N, C, H, W) (contract: reference.py)."""
    geometry = (kh, kw, sh, sw, ph, pw)
    windows = avg_pool2d_windows(H, W, *geometry, ceil_mode, count_include_pad, divisor_override)
    check_gy("avg_pool2d_backward", gy, H, W, sizes(windows))
    return _avg_backward(gy, H, W, *windows, divisor_override,
                         _two_by_two(H, W, geometry, ceil_mode))


def adaptive_max_pool2d_forward(x, OH, OW):
    """(y, argmax), each (N, C, OH, OW) (contract: reference.py)."""
    check_x("adaptive_max_pool2d", x)
    rows, cols = adaptive_pool2d_windows("adaptive_max_pool2d", *x.shape[2:], OH, OW)
    return _max(x, rows, cols, 1, 1)


def adaptive_avg_pool2d_forward(x, OH, OW):
    """y (N, C, OH, OW) (contract: reference.py)."""
    check_x("adaptive_avg_pool2d", x)
    return _avg(x, *adaptive_pool2d_windows("adaptive_avg_pool2d", *x.shape[2:], OH, OW), None)


def adaptive_avg_pool2d_backward(gy, H, W):
    """gx (N, C, H, W) (contract: reference.py)."""
    check_x("adaptive_avg_pool2d_backward", gy, "gy")
    windows = adaptive_pool2d_windows("adaptive_avg_pool2d_backward", H, W, *gy.shape[2:])
    return _avg_backward(gy, H, W, *windows, None)
