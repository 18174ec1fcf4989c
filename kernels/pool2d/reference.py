"""2-D max and average pooling in plain NumPy: the readable version and the oracle.

The contract, shared by every implementation in this folder (same names, same arguments).
x is (N, C, H, W) float32 or float64; results are C-contiguous, x's dtype (argmax int32).

``max_pool2d_forward(x, kh, kw, sh, sw, ph, pw, dh, dw, ceil_mode) -> (y, argmax)``
    y, argmax : (N, C, OH, OW).  Output (oh, ow) looks at the window taps
    (oh*sh - ph + i*dh, ow*sw - pw + j*dw), i < kh, j < kw; taps in the padding count as
    -inf.  argmax[n, c, oh, ow] = h*W + w, the flat index into the input plane of the tap
    that gave y (PyTorch's ``return_indices``).  Taps are scanned row by row, left to
    right: the first tap inside the input is taken, and each later one replaces it when
    ``v > y or v is NaN``.  So a tie keeps the first maximum, a NaN wins (y is NaN, argmax
    the last NaN's), and an all -inf window points at its first tap: PyTorch's rule.

``max_pool2d_backward(gy, argmax, H, W) -> gx``
    gx : (N, C, H, W) = 0, then gx[n, c].flat[argmax[n, c, oh, ow]] += gy[n, c, oh, ow]
    (windows may overlap, so an input can collect from several outputs).  Any int32 argmax
    of flat indices in [0, H*W) works: adaptive max pooling's too.

``avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw, ceil_mode, count_include_pad,
divisor_override) -> y``
    y[n, c, oh, ow] = (sum of x over rows [h0, h1) x columns [w0, w1)) / divisor, with
    PyTorch's window and divisor:  start = oh*sh - ph, end = min(start + kh, H + ph),
    h0 = max(start, 0), h1 = min(end, H) (columns alike); divisor = divisor_override if
    given, else (end - start) * (column end - column start) if count_include_pad (zero
    padding counted, but not the overhang ceil_mode adds past it), else (h1-h0)*(w1-w0).

``avg_pool2d_backward(gy, H, W, kh, kw, sh, sw, ph, pw, ceil_mode, count_include_pad,
divisor_override) -> gx``
    The adjoint: gy[n, c, oh, ow] / divisor is added to every input of its window.

``adaptive_max_pool2d_forward(x, OH, OW) -> (y, argmax)``,
``adaptive_avg_pool2d_forward(x, OH, OW) -> y``, ``adaptive_avg_pool2d_backward(gy, H, W)``
    Output row oh pools rows [floor(oh*H/OH), ceil((oh+1)*H/OH)) (columns alike), no
    padding; max as above (its backward is max_pool2d_backward), mean over the window.

Output size (PyTorch's: a convolution's, plus ceil_mode)::

    OH = (H + 2*ph - dh*(kh-1) - 1 + (sh-1 if ceil_mode else 0)) // sh + 1
    and with ceil_mode, OH -= 1 when (OH-1)*sh >= H + ph: the last window must start
    inside the input or the left padding.  Padding is at most half the window: ph <= kh//2.
    Example: H = 5, kh = sh = 2: OH = 2 (row 4 is read by no window), 3 with ceil_mode
    (the last window is row 4 alone).

Every implementation reduces *windows* (windows.py): per output row, the in-bounds input
rows range(first, end, step) (columns alike), so padding never has to be materialised.
Here each window is a slice of x, reduced for all N*C planes at once: a loop over the
outputs (oh, ow), each step doing what one GPU thread of cuda.py does for one output.
"""
import numpy as np

from .windows import (adaptive_pool2d_windows, argmax_out_of_range, avg_pool2d_windows, check_gy,
                      check_x, max_pool2d_windows, sizes)


def _window_max(x, rows, cols, dh, dw):
    """Max (and its flat index) over every window: rows (first, end) step dh, cols alike."""
    N, C, H, W = x.shape
    y = np.empty((N, C) + sizes((rows, cols)), x.dtype)
    argmax = np.empty(y.shape, np.int32)
    for oh, (h0, h1) in enumerate(zip(*rows[:2])):
        for ow, (w0, w1) in enumerate(zip(*cols[:2])):
            hs, ws = np.arange(h0, h1, dh), np.arange(w0, w1, dw)  # the taps inside
            taps = x[:, :, h0:h1:dh, w0:w1:dw].reshape(N, C, hs.size * ws.size)  # scan order
            flat = (hs[:, None] * W + ws[None, :]).reshape(-1)     # their h*W + w
            k = taps.argmax(axis=-1)                               # first max (or first NaN)
            nan = np.isnan(taps)
            last_nan = nan.shape[-1] - 1 - nan[..., ::-1].argmax(axis=-1)
            k = np.where(nan.any(axis=-1), last_nan, k)            # a NaN wins: the last one
            y[:, :, oh, ow] = np.take_along_axis(taps, k[..., None], -1)[..., 0]
            argmax[:, :, oh, ow] = flat[k]
    return y, argmax


def _window_avg(x, rows, cols, divisor_override):
    """Sum over every window / its divisor: rows (first, end, count), cols alike."""
    y = np.empty(x.shape[:2] + sizes((rows, cols)), x.dtype)
    for oh, (h0, h1, count_h) in enumerate(zip(*rows)):
        for ow, (w0, w1, count_w) in enumerate(zip(*cols)):
            divisor = x.dtype.type(divisor_override or count_h * count_w)
            y[:, :, oh, ow] = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3)) / divisor
    return y


def _window_avg_backward(gy, H, W, rows, cols, divisor_override):
    """The adjoint of _window_avg: gy / divisor added over every window."""
    gx = np.zeros(gy.shape[:2] + (H, W), gy.dtype)
    for oh, (h0, h1, count_h) in enumerate(zip(*rows)):
        for ow, (w0, w1, count_w) in enumerate(zip(*cols)):
            divisor = gy.dtype.type(divisor_override or count_h * count_w)
            gx[:, :, h0:h1, w0:w1] += (gy[:, :, oh, ow] / divisor)[:, :, None, None]
    return gx


def max_pool2d_forward(x, kh, kw, sh, sw, ph, pw, dh, dw, ceil_mode):
    """(y, argmax), each (N, C, OH, OW); see the module docstring."""
    check_x("max_pool2d", x)
    rows, cols = max_pool2d_windows(*x.shape[2:], kh, kw, sh, sw, ph, pw, dh, dw, ceil_mode)
    return _window_max(x, rows, cols, dh, dw)


def max_pool2d_backward(gy, argmax, H, W):
    """gx (N, C, H, W): each gy added at the input its argmax names."""
    check_gy("max_pool2d_backward", gy, H, W, argmax=argmax)
    if argmax.size and not 0 <= argmax.min() <= argmax.max() < H * W:
        raise argmax_out_of_range(H, W)
    N, C, OH, OW = gy.shape
    gx = np.zeros((N * C, H * W), gy.dtype)
    plane = np.arange(N * C)[:, None]                          # the gx row of each gy
    np.add.at(gx, (plane, argmax.reshape(N * C, OH * OW)), gy.reshape(N * C, OH * OW))
    return gx.reshape(N, C, H, W)


def avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw, ceil_mode, count_include_pad, divisor_override):
    """y (N, C, OH, OW); see the module docstring."""
    check_x("avg_pool2d", x)
    rows, cols = avg_pool2d_windows(*x.shape[2:], kh, kw, sh, sw, ph, pw, ceil_mode,
                                    count_include_pad, divisor_override)
    return _window_avg(x, rows, cols, divisor_override)


def avg_pool2d_backward(gy, H, W, kh, kw, sh, sw, ph, pw, ceil_mode, count_include_pad,
                        divisor_override):
    """gx (N, C, H, W); see the module docstring."""
    windows = avg_pool2d_windows(H, W, kh, kw, sh, sw, ph, pw, ceil_mode, count_include_pad,
                                 divisor_override)
    check_gy("avg_pool2d_backward", gy, H, W, sizes(windows))
    return _window_avg_backward(gy, H, W, *windows, divisor_override)


def adaptive_max_pool2d_forward(x, OH, OW):
    """(y, argmax), each (N, C, OH, OW); see the module docstring."""
    check_x("adaptive_max_pool2d", x)
    rows, cols = adaptive_pool2d_windows("adaptive_max_pool2d", *x.shape[2:], OH, OW)
    return _window_max(x, rows, cols, 1, 1)


def adaptive_avg_pool2d_forward(x, OH, OW):
    """y (N, C, OH, OW); see the module docstring."""
    check_x("adaptive_avg_pool2d", x)
    rows, cols = adaptive_pool2d_windows("adaptive_avg_pool2d", *x.shape[2:], OH, OW)
    return _window_avg(x, rows, cols, None)


def adaptive_avg_pool2d_backward(gy, H, W):
    """gx (N, C, H, W); see the module docstring."""
    check_x("adaptive_avg_pool2d_backward", gy, "gy")
    windows = adaptive_pool2d_windows("adaptive_avg_pool2d_backward", H, W, *gy.shape[2:])
    return _window_avg_backward(gy, H, W, *windows, None)
