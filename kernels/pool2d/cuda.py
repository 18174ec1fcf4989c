"""2-D pooling as Numba CUDA kernels, one GPU thread per output (forwards) or per element.

The contract is in reference.py, the windows in windows.py (computed on the host: a few
small int64 arrays, copied to the device per call).  Arrays are viewed as (P, H, W) planes,
P = N*C.  The launchers take CuPy arrays (used in place through ``__cuda_array_interface__``;
results are CuPy arrays) or NumPy arrays (copied to the GPU and back: how the tests run
them under Numba's simulator, NUMBA_ENABLE_CUDASIM=1).  Importing this file needs no GPU.

Forwards: thread t owns output y.flat[t] = (p, oh, ow) and scans its window, as reference.py.

max_pool2d_backward: thread t owns gy.flat[t] and adds it atomically at its argmax.  The
alternative, a gather (one thread per input, summing the gy of every window that chose
it, no atomics), needs the window geometry to find those windows, which the contract's
(gy, argmax, H, W) does not give; and atomics cost little here: windows that do not
overlap (2x2 stride 2, the common case) never collide, overlapping ones rarely (an input
wins at most a few windows).  NOTE: where they do collide the float adds land in no fixed
order, so gx may differ from run to run in the last bits.

avg backward: thread t owns gx.flat[t] = (p, h, w) and gathers gy/divisor over the windows
that hold it, rows lo_h[h] <= oh < hi_h[h] (windows are sorted, so these are contiguous)
and columns alike: each thread writes only its own element, no atomics, no zero-fill.
"""
import numpy as np
from numba import cuda

from .._gpu import array_module, launch_config
from .windows import (adaptive_pool2d_windows, argmax_out_of_range, avg_pool2d_windows, check_gy,
                      check_x, max_pool2d_windows, sizes)


@cuda.jit
def _max_kernel(x, y, argmax, h0, nh, w0, nw, dh, dw):
    P, H, W = x.shape
    OH, OW = y.shape[1:]
    t = cuda.grid(1)
    if t >= y.size:
        return
    ow = t % OW  # t = (p*OH + oh)*OW + ow
    oh = t // OW % OH
    p = t // (OW * OH)
    h, w = h0[oh], w0[ow]  # the first tap inside the input is taken
    best, k = x[p, h, w], h * W + w
    for i in range(nh[oh]):
        h = h0[oh] + i * dh
        for j in range(nw[ow]):
            w = w0[ow] + j * dw
            v = x[p, h, w]
            if v > best or v != v:  # a later tie loses; a NaN wins
                best, k = v, h * W + w
    y[p, oh, ow] = best
    argmax[p, oh, ow] = k


@cuda.jit
def _max_backward_kernel(gy, argmax, gx):
    P, OH, OW = gy.shape
    t = cuda.grid(1)
    if t >= gy.size:
        return
    ow = t % OW
    oh = t // OW % OH
    p = t // (OW * OH)
    k = argmax[p, oh, ow]
    if 0 <= k < gx.shape[1]:  # the launcher checked the range; never write outside gx
        cuda.atomic.add(gx, (p, k), gy[p, oh, ow])


@cuda.jit
def _avg_kernel(x, y, h0, h1, ch, w0, w1, cw, divisor_override):
    OH, OW = y.shape[1:]
    t = cuda.grid(1)
    if t >= y.size:
        return
    ow = t % OW
    oh = t // OW % OH
    p = t // (OW * OH)
    total = x.dtype.type(0)
    for h in range(h0[oh], h1[oh]):
        for w in range(w0[ow], w1[ow]):
            total += x[p, h, w]
    divisor = divisor_override if divisor_override else ch[oh] * cw[ow]
    y[p, oh, ow] = total / x.dtype.type(divisor)


@cuda.jit
def _avg_backward_kernel(g, gx, lo_h, hi_h, lo_w, hi_w):
    """gx[p, h, w] = sum of g[p, oh, ow] (gy / divisor) over the windows that hold (h, w)."""
    P, H, W = gx.shape
    t = cuda.grid(1)
    if t >= gx.size:
        return
    w = t % W
    h = t // W % H
    p = t // (W * H)
    total = gx.dtype.type(0)
    for oh in range(lo_h[h], hi_h[h]):
        for ow in range(lo_w[w], hi_w[w]):
            total += g[p, oh, ow]
    gx[p, h, w] = total


# ---- launchers: the contract's functions (reference.py) ----------------------------------------
def _planes(xp, a):
    return xp.ascontiguousarray(a).reshape(-1, *a.shape[2:])


def _max(x, rows, cols, dh, dw):
    xp = array_module(x)
    N, C = x.shape[:2]
    y = xp.empty((N * C,) + sizes((rows, cols)), x.dtype)
    argmax = xp.empty(y.shape, np.int32)
    nh, nw = (rows[1] - rows[0] + dh - 1) // dh, (cols[1] - cols[0] + dw - 1) // dw
    if y.size:
        _max_kernel[launch_config(y.size)](_planes(xp, x), y, argmax, xp.asarray(rows[0]),
                                           xp.asarray(nh), xp.asarray(cols[0]), xp.asarray(nw),
                                           dh, dw)
    return y.reshape(N, C, *y.shape[1:]), argmax.reshape(N, C, *y.shape[1:])


def _avg(x, rows, cols, divisor_override):
    xp = array_module(x)
    N, C = x.shape[:2]
    y = xp.empty((N * C,) + sizes((rows, cols)), x.dtype)
    if y.size:
        _avg_kernel[launch_config(y.size)](_planes(xp, x), y, *map(xp.asarray, rows + cols),
                                           divisor_override or 0)
    return y.reshape(N, C, *y.shape[1:])


def _covering(windows, size):
    """(lo, hi) int64 (size,): the windows holding position i are lo[i] <= o < hi[i]
    (first and end rise with o, so they are found by binary search)."""
    first, end = windows[:2]
    i = np.arange(size)
    return np.searchsorted(end, i, side="right"), np.searchsorted(first, i, side="right")


def _avg_backward(gy, H, W, rows, cols, divisor_override):
    xp = array_module(gy)
    N, C = gy.shape[:2]
    divisor = divisor_override or np.outer(rows[2], cols[2])  # (OH, OW)
    g = _planes(xp, gy / xp.asarray(divisor, gy.dtype))
    gx = xp.empty((N * C, H, W), gy.dtype)
    if gx.size:
        ranges = _covering(rows, H) + _covering(cols, W)
        _avg_backward_kernel[launch_config(gx.size)](g, gx, *map(xp.asarray, ranges))
    return gx.reshape(N, C, H, W)


def max_pool2d_forward(x, kh, kw, sh, sw, ph, pw, dh, dw, ceil_mode):
    """(y, argmax), each (N, C, OH, OW) (contract: reference.py)."""
    check_x("max_pool2d", x)
    rows, cols = max_pool2d_windows(*x.shape[2:], kh, kw, sh, sw, ph, pw, dh, dw, ceil_mode)
    return _max(x, rows, cols, dh, dw)


def max_pool2d_backward(gy, argmax, H, W):
    """gx (N, C, H, W): each gy added at the input its argmax names (contract: reference.py)."""
    check_gy("max_pool2d_backward", gy, H, W, argmax=argmax)
    xp = array_module(gy)
    if argmax.size and not 0 <= int(argmax.min()) <= int(argmax.max()) < H * W:
        raise argmax_out_of_range(H, W)
    N, C = gy.shape[:2]
    gx = xp.zeros((N * C, H * W), gy.dtype)  # the atomic adds need zeros to add to
    if gy.size:
        _max_backward_kernel[launch_config(gy.size)](_planes(xp, gy), _planes(xp, argmax), gx)
    return gx.reshape(N, C, H, W)


def avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw, ceil_mode, count_include_pad, divisor_override):
    """y (N, C, OH, OW) (contract: reference.py)."""
    check_x("avg_pool2d", x)
    windows = avg_pool2d_windows(*x.shape[2:], kh, kw, sh, sw, ph, pw, ceil_mode,
                                 count_include_pad, divisor_override)
    return _avg(x, *windows, divisor_override)


def avg_pool2d_backward(gy, H, W, kh, kw, sh, sw, ph, pw, ceil_mode, count_include_pad,
                        divisor_override):
    """gx (N, C, H, W) (contract: reference.py)."""
    windows = avg_pool2d_windows(H, W, kh, kw, sh, sw, ph, pw, ceil_mode, count_include_pad,
                                 divisor_override)
    check_gy("avg_pool2d_backward", gy, H, W, sizes(windows))
    return _avg_backward(gy, H, W, *windows, divisor_override)


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
