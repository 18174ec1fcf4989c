"""Nearest and bilinear resampling as Numba CUDA kernels.

The contract and the coordinate rules are in reference.py, whose table functions the
launchers call on the host (O(OH + OW) work) before copying the tables to the GPU.  The
launchers take CuPy arrays (read and written in place through ``__cuda_array_interface__``;
results are CuPy arrays) or NumPy arrays (copied to the GPU and back: how the tests run
these kernels under the simulator, NUMBA_ENABLE_CUDASIM=1).  Importing needs no GPU.

Forward: one thread per output element (n, c, oh, ow), reading its 1 or 4 inputs.

Backward as a gather, one thread per input element (n, c, h, w), rather than a scatter with
atomics from one thread per output: each thread sums the gradients of the outputs that read
its pixel and writes its own gx element once, so no atomics are needed and the result is
the same bits on every run (float atomics land in no fixed order), and no two threads
contend for one address (a x2 upsample would send 16 atomic adds to every input pixel).
Which outputs read input row h?  The source indices i0 <= i1 are non-decreasing in the
output index, so it is the contiguous range of outputs o with i0[o] <= h <= i1[o]:
``reader_ranges`` finds its ends with a binary search per input row (and column).
"""
import numpy as np
from numba import cuda

from .._gpu import array_module, launch_config
from .reference import check_backward, check_forward, linear_table, nearest_table


def reader_ranges(i0, i1, in_size):
    """(start, end), each (in_size,) int64: outputs start[h] <= o < end[h] read input h."""
    h = np.arange(in_size)
    return np.searchsorted(i1, h, "left"), np.searchsorted(i0, h, "right")


@cuda.jit
def _nearest_forward_kernel(x, y, ih, iw):
    N, C, OH, OW = y.shape
    t = cuda.grid(1)
    if t >= y.size:
        return
    ow = t % OW  # t = ((n*C + c)*OH + oh)*OW + ow
    oh = t // OW % OH
    c = t // (OW * OH) % C
    n = t // (OW * OH * C)
    y[n, c, oh, ow] = x[n, c, ih[oh], iw[ow]]


@cuda.jit
def _nearest_backward_kernel(gy, gx, h_start, h_end, w_start, w_end):
    N, C, H, W = gx.shape
    t = cuda.grid(1)
    if t >= gx.size:
        return
    w = t % W  # t = ((n*C + c)*H + h)*W + w
    h = t // W % H
    c = t // (W * H) % C
    n = t // (W * H * C)
    total = gx.dtype.type(0)
    for oh in range(h_start[h], h_end[h]):      # every output that copied pixel (h, w)
        for ow in range(w_start[w], w_end[w]):
            total += gy[n, c, oh, ow]
    gx[n, c, h, w] = total


@cuda.jit
def _bilinear_forward_kernel(x, y, h0, h1, lh0, lh1, w0, w1, lw0, lw1):
    N, C, OH, OW = y.shape
    t = cuda.grid(1)
    if t >= y.size:
        return
    ow = t % OW
    oh = t // OW % OH
    c = t // (OW * OH) % C
    n = t // (OW * OH * C)
    y[n, c, oh, ow] = (
        lh0[oh] * (lw0[ow] * x[n, c, h0[oh], w0[ow]] + lw1[ow] * x[n, c, h0[oh], w1[ow]])
        + lh1[oh] * (lw0[ow] * x[n, c, h1[oh], w0[ow]] + lw1[ow] * x[n, c, h1[oh], w1[ow]]))


@cuda.jit
def _bilinear_backward_kernel(gy, gx, h0, h1, lh0, lh1, w0, w1, lw0, lw1,
                              h_start, h_end, w_start, w_end):
    N, C, H, W = gx.shape
    t = cuda.grid(1)
    if t >= gx.size:
        return
    w = t % W
    h = t // W % H
    c = t // (W * H) % C
    n = t // (W * H * C)
    zero = gx.dtype.type(0)
    total = zero
    for oh in range(h_start[h], h_end[h]):
        a = zero  # the weight output row oh gave input row h (both taps, at the last row)
        if h0[oh] == h:
            a += lh0[oh]
        if h1[oh] == h:
            a += lh1[oh]
        for ow in range(w_start[w], w_end[w]):
            b = zero
            if w0[ow] == w:
                b += lw0[ow]
            if w1[ow] == w:
                b += lw1[ow]
            total += a * b * gy[n, c, oh, ow]
    gx[n, c, h, w] = total


def _to_device(xp, *tables):
    """The host tables on the GPU: CuPy arrays beside CuPy data, else Numba device arrays
    (the tables are read-only, so Numba must not copy them back after the launch)."""
    return [xp.asarray(a) if xp is not np else cuda.to_device(a) for a in tables]


def _launch(kernel, out, *args):
    if out.size:
        kernel[launch_config(out.size)](*args)
    return out


def nearest_forward(x, OH, OW, scale_h=None, scale_w=None, exact=False):
    """(N, C, H, W) x -> (N, C, OH, OW) y, nearest pixel (contract: reference.py)."""
    check_forward("nearest_forward", x, OH, OW)
    H, W = x.shape[2:]
    xp = array_module(x)
    x = xp.ascontiguousarray(x)
    y = xp.empty(x.shape[:2] + (OH, OW), x.dtype)
    tables = _to_device(xp, nearest_table(H, OH, scale_h, exact),
                        nearest_table(W, OW, scale_w, exact))
    return _launch(_nearest_forward_kernel, y, x, y, *tables)


def nearest_backward(gy, H, W, scale_h=None, scale_w=None, exact=False):
    """(N, C, OH, OW) gy -> (N, C, H, W) gx, the transpose of nearest_forward."""
    check_backward("nearest_backward", gy, H, W)
    OH, OW = gy.shape[2:]
    xp = array_module(gy)
    gy = xp.ascontiguousarray(gy)
    gx = xp.empty(gy.shape[:2] + (H, W), gy.dtype)
    ih = nearest_table(H, OH, scale_h, exact)
    iw = nearest_table(W, OW, scale_w, exact)
    ranges = _to_device(xp, *reader_ranges(ih, ih, H), *reader_ranges(iw, iw, W))
    return _launch(_nearest_backward_kernel, gx, gy, gx, *ranges)


def bilinear_forward(x, OH, OW, align_corners, scale_h=None, scale_w=None):
    """(N, C, H, W) x -> (N, C, OH, OW) y, bilinear (contract: reference.py)."""
    check_forward("bilinear_forward", x, OH, OW)
    H, W = x.shape[2:]
    xp = array_module(x)
    x = xp.ascontiguousarray(x)
    y = xp.empty(x.shape[:2] + (OH, OW), x.dtype)
    tables = _to_device(xp, *linear_table(H, OH, align_corners, scale_h, x.dtype),
                        *linear_table(W, OW, align_corners, scale_w, x.dtype))
    return _launch(_bilinear_forward_kernel, y, x, y, *tables)


def bilinear_backward(gy, H, W, align_corners, scale_h=None, scale_w=None):
    """(N, C, OH, OW) gy -> (N, C, H, W) gx, the transpose of bilinear_forward."""
    check_backward("bilinear_backward", gy, H, W)
    OH, OW = gy.shape[2:]
    xp = array_module(gy)
    gy = xp.ascontiguousarray(gy)
    gx = xp.empty(gy.shape[:2] + (H, W), gy.dtype)
    rows = linear_table(H, OH, align_corners, scale_h, gy.dtype)   # h0, h1, lh0, lh1
    cols = linear_table(W, OW, align_corners, scale_w, gy.dtype)   # w0, w1, lw0, lw1
    ranges = (*reader_ranges(rows[0], rows[1], H), *reader_ranges(cols[0], cols[1], W))
    tables = _to_device(xp, *rows, *cols, *ranges)
    return _launch(_bilinear_backward_kernel, gx, gy, gx, *tables)
