"""2-D pooling with Numba, compiled on first call (one version per dtype, cached on disk).

The contract is in reference.py, the windows in windows.py.  Arrays are viewed as (P, H, W)
with P = N*C planes, and every loop runs over the planes in parallel (prange): each plane
writes only its own part of the output, so the threads never race.  The loops are those of
pool2d.pyx, line for line (see its NOTE on keeping the max loop free of branches, and the
2x2 stride-2 specialisations); LLVM compiles them for this very CPU (AVX-512 here).

NOTE: no array slices inside the prange loops: each view of an array takes and drops a
reference with an atomic operation, and two threads doing that on the same array fight
over one cache line (the 2x2 max pooling did not speed up on 2 threads until the
x[p, h] row views went).
"""
import numpy as np
from numba import njit, prange

from .windows import (adaptive_pool2d_windows, argmax_out_of_range, avg_pool2d_windows, check_gy,
                      check_x, max_pool2d_windows, sizes)


@njit(cache=True, parallel=True)
def _window_max(x, y, argmax, h0, nh, w0, nw, dh, dw):
    """Max over each output's window: nh[oh] rows h0[oh] + i*dh, nw[ow] columns alike."""
    P, H, W = x.shape
    OH, OW = y.shape[1:]
    for p in prange(P):
        plane = x[p].reshape(-1)
        for oh in range(OH):
            for ow in range(OW):
                k = h0[oh] * W + w0[ow]  # the first tap inside the input is taken
                best = plane[k]
                nan_k = -1
                for i in range(nh[oh]):
                    for j in range(nw[ow]):
                        t = (h0[oh] + i * dh) * W + w0[ow] + j * dw
                        v = plane[t]
                        k = t if v > best else k          # a later tie loses
                        best = v if v > best else best    # (so NaN never gets in)
                        nan_k = t if v != v else nan_k    # the last NaN, if any, wins
                if nan_k >= 0:
                    k = nan_k
                    best = plane[k]
                y[p, oh, ow] = best
                argmax[p, oh, ow] = k


@njit(cache=True, parallel=True)
def _max_2x2(x, y, argmax):
    """_window_max for 2x2 windows, stride 2, no padding: taps a b / c d of each window."""
    P, H, W = x.shape
    OH, OW = y.shape[1:]
    for p in prange(P):
        for oh in range(OH):
            t, base = 2 * oh, 2 * oh * W  # top row of the windows, and its flat index
            for ow in range(OW):
                m, k = x[p, t, 2 * ow], 0
                b, c, d = x[p, t, 2 * ow + 1], x[p, t + 1, 2 * ow], x[p, t + 1, 2 * ow + 1]
                take = (b > m) | (b != b)
                m, k = (b, 1) if take else (m, k)
                take = (c > m) | (c != c)
                m, k = (c, W) if take else (m, k)
                take = (d > m) | (d != d)
                m, k = (d, W + 1) if take else (m, k)
                y[p, oh, ow] = m
                argmax[p, oh, ow] = base + 2 * ow + k


@njit(cache=True, parallel=True)
def _max_backward(gy, argmax, gx):
    """Scatter gy to its argmax; returns how many argmax values were out of range."""
    P, H, W = gx.shape
    bad = 0
    for p in prange(P):
        plane = gx[p].reshape(-1)
        plane[:] = 0  # zeroed here, while the plane is in cache
        g, a = gy[p].reshape(-1), argmax[p].reshape(-1)
        for o in range(g.size):
            k = a[o]
            if 0 <= k < H * W:
                plane[k] += g[o]
            else:
                bad += 1
    return bad


@njit(cache=True, parallel=True)
def _window_avg(x, y, h0, h1, ch, w0, w1, cw, divisor_override):
    P = x.shape[0]
    OH, OW = y.shape[1:]
    for p in prange(P):
        for oh in range(OH):
            for ow in range(OW):
                total = x.dtype.type(0)
                for h in range(h0[oh], h1[oh]):  # each window row's sum, then their sum: two
                    row_total = x.dtype.type(0)  # short chains of dependent adds, not one long
                    for w in range(w0[ow], w1[ow]):
                        row_total += x[p, h, w]
                    total += row_total
                divisor = divisor_override if divisor_override else ch[oh] * cw[ow]
                y[p, oh, ow] = total / x.dtype.type(divisor)


@njit(cache=True, parallel=True)
def _window_add(g, gx, h0, h1, w0, w1):
    """gx = 0, then g[p, oh, ow] added to every input of its window (avg pooling's backward)."""
    P = gx.shape[0]
    OH, OW = g.shape[1:]
    for p in prange(P):
        gx[p] = 0
        for oh in range(OH):
            for ow in range(OW):
                for h in range(h0[oh], h1[oh]):
                    for w in range(w0[ow], w1[ow]):
                        gx[p, h, w] += g[p, oh, ow]


@njit(cache=True, parallel=True)
def _avg_2x2(x, y, divisor):
    """_window_avg for whole 2x2 windows, stride 2, no padding."""
    OH, OW = y.shape[1:]
    for p in prange(x.shape[0]):
        for oh in range(OH):
            t = 2 * oh
            for ow in range(OW):
                y[p, oh, ow] = ((x[p, t, 2 * ow] + x[p, t, 2 * ow + 1])
                                + (x[p, t + 1, 2 * ow] + x[p, t + 1, 2 * ow + 1])) / divisor


@njit(cache=True, parallel=True)
def _add_2x2(g, gx):
    """_window_add for whole 2x2 windows, stride 2: gx[h, w] = g[h // 2, w // 2], 0 in a
    last odd row or column no window reads.  Writes each gx element once: no zero-fill."""
    P, H, W = gx.shape
    OH, OW = g.shape[1:]
    for p in prange(P):
        for h in range(H):
            for w in range(W):
                inside = h < 2 * OH and w < 2 * OW
                gx[p, h, w] = g[p, h // 2, w // 2] if inside else 0


# ---- the contract's functions (reference.py), planes flattened to (N*C, H, W) ---------------
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
    if two_by_two:
        _max_2x2(_planes(x), y, argmax)
    else:
        nh, nw = (rows[1] - rows[0] + dh - 1) // dh, (cols[1] - cols[0] + dw - 1) // dw
        _window_max(_planes(x), y, argmax, rows[0], nh, cols[0], nw, dh, dw)
    return y.reshape(N, C, *y.shape[1:]), argmax.reshape(N, C, *y.shape[1:])


def _avg(x, rows, cols, divisor_override, two_by_two=False):
    N, C = x.shape[:2]
    y = np.empty((N * C,) + sizes((rows, cols)), x.dtype)
    if two_by_two:
        _avg_2x2(_planes(x), y, x.dtype.type(divisor_override or 4))
    else:
        _window_avg(_planes(x), y, *rows, *cols, divisor_override or 0)
    return y.reshape(N, C, *y.shape[1:])


def _avg_backward(gy, H, W, rows, cols, divisor_override, two_by_two=False):
    N, C = gy.shape[:2]
    divisor = divisor_override or np.outer(rows[2], cols[2])  # (OH, OW)
    g = _planes(gy / np.asarray(divisor, gy.dtype))
    gx = np.empty((N * C, H, W), gy.dtype)
    if two_by_two:
        _add_2x2(g, gx)
    else:
        _window_add(g, gx, *rows[:2], *cols[:2])
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
    if _max_backward(_planes(gy), _planes(argmax), gx):
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
