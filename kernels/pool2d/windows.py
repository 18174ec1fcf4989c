"""Pooling geometry every implementation shares: output size, windows, argument checks.

Every implementation works on *windows*: for each output row oh, the in-bounds input rows
range(first[oh], end[oh], step) it reduces (columns alike).  The functions here turn the
pooling arguments into those arrays, refusing bad arguments with a clear error first; the
formulas are the contract in reference.py.
"""
import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)
MAX_PLANE = 2**31 - 1  # argmax is int32


def pool_output_size(size, k, s, p, d, ceil_mode):
    """Output length along one axis (PyTorch's rule, see reference.py)."""
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:  # the last window must start before the
        out -= 1                                 # right padding
    return out


def max_windows(size, k, s, p, d, out):
    """(first, end) int64 arrays (out,): window o's in-bounds taps are range(first, end, d).

    NOTE: with d > 1 a window can hold no tap at all (first >= end) when its taps jump over
    the whole input; max_pool2d_windows refuses that.
    """
    start = np.arange(out) * s - p
    first = np.where(start < 0, start + (-start + d - 1) // d * d, start)  # first tap >= 0
    end = np.minimum(start + (k - 1) * d + 1, size)
    return first, end


def avg_windows(size, k, s, p, out, count_include_pad):
    """(first, end, count) int64 arrays (out,): window o sums rows [first, end) and counts
    `count` rows in the divisor (the zero padding too if count_include_pad)."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)  # with ceil_mode a window may overhang the padding
    first, last = np.maximum(start, 0), np.minimum(end, size)
    return first, last, (end - start) if count_include_pad else (last - first)


def adaptive_windows(size, out):
    """(first, end, count) int64 arrays (out,): [floor(o*size/out), ceil((o+1)*size/out))."""
    o = np.arange(out)
    first, end = o * size // out, -(-(o + 1) * size // out)
    return first, end, end - first


# ---- checks ------------------------------------------------------------------------------
def check_x(fn, x, name="x"):
    if x.ndim != 4:
        raise ValueError(f"{fn}: {name} must be 4-D (N, C, H, W), got shape {tuple(x.shape)}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{fn}: {name} must be float32 or float64, got {x.dtype}")


def _check_hw(fn, H, W):
    if int(H) != H or int(W) != W or H < 1 or W < 1 or H * W > MAX_PLANE:
        raise ValueError(f"{fn}: the input plane must be H x W with H, W >= 1 and H*W <= "
                         f"{MAX_PLANE} (argmax is int32), got {H!r} x {W!r}")


def _check_geometry(fn, k, s, p, d):
    for name, v, least in (("kh", k[0], 1), ("kw", k[1], 1), ("sh", s[0], 1), ("sw", s[1], 1),
                           ("ph", p[0], 0), ("pw", p[1], 0), ("dh", d[0], 1), ("dw", d[1], 1)):
        if int(v) != v or v < least:
            raise ValueError(f"{fn}: {name} must be an integer >= {least}, got {v!r}")
    for axis, kk, pp in (("h", k[0], p[0]), ("w", k[1], p[1])):
        if pp > kk // 2:
            raise ValueError(f"{fn}: padding must be at most half the window, got "
                             f"p{axis}={pp} for k{axis}={kk}")


def _output_size(fn, H, W, k, s, p, d, ceil_mode):
    _check_hw(fn, H, W)
    _check_geometry(fn, k, s, p, d)
    OH, OW = (pool_output_size(H, k[0], s[0], p[0], d[0], ceil_mode),
              pool_output_size(W, k[1], s[1], p[1], d[1], ceil_mode))
    if OH < 1 or OW < 1:
        raise ValueError(f"{fn}: a {k[0]}x{k[1]} window with dilation ({d[0]}, {d[1]}) does "
                         f"not fit the {H}x{W} input padded by ({p[0]}, {p[1]}): output "
                         f"would be {OH}x{OW}")
    return OH, OW


def max_pool2d_windows(H, W, kh, kw, sh, sw, ph, pw, dh, dw, ceil_mode):
    """Check max_pool2d's arguments for an (H, W) input; return the windows (rows, cols)."""
    OH, OW = _output_size("max_pool2d", H, W, (kh, kw), (sh, sw), (ph, pw), (dh, dw), ceil_mode)
    rows, cols = max_windows(H, kh, sh, ph, dh, OH), max_windows(W, kw, sw, pw, dw, OW)
    for axis, (first, end) in (("rows", rows), ("columns", cols)):
        if np.any(first >= end):  # PyTorch returns -inf and an index outside the plane here
            raise ValueError(f"max_pool2d: with dilation ({dh}, {dw}) the {axis} of some "
                             f"window all fall in the padding of the {H}x{W} input")
    return rows, cols


def avg_pool2d_windows(H, W, kh, kw, sh, sw, ph, pw, ceil_mode, count_include_pad,
                       divisor_override):
    """Check avg_pool2d's arguments for an (H, W) input; return the windows (rows, cols)."""
    if divisor_override is not None and (int(divisor_override) != divisor_override
                                         or divisor_override < 1):
        raise ValueError("avg_pool2d: divisor_override must be None or an integer >= 1, "
                         f"got {divisor_override!r}")
    OH, OW = _output_size("avg_pool2d", H, W, (kh, kw), (sh, sw), (ph, pw), (1, 1), ceil_mode)
    return (avg_windows(H, kh, sh, ph, OH, count_include_pad),
            avg_windows(W, kw, sw, pw, OW, count_include_pad))


def adaptive_pool2d_windows(fn, H, W, OH, OW):
    """Check an adaptive pooling's sizes; return the windows (rows, cols)."""
    _check_hw(fn, H, W)
    if int(OH) != OH or int(OW) != OW or OH < 1 or OW < 1:
        raise ValueError(f"{fn}: output size must be integers >= 1, got ({OH!r}, {OW!r})")
    return adaptive_windows(H, int(OH)), adaptive_windows(W, int(OW))


def check_gy(fn, gy, H, W, out_hw=None, argmax=None):
    """Check a backward's gy against the (OH, OW) its windows give (any for max_pool2d),
    and argmax's shape and dtype.  Each backward range-checks the argmax values itself."""
    check_x(fn, gy, "gy")
    _check_hw(fn, H, W)
    if out_hw is not None and gy.shape[2:] != tuple(out_hw):
        raise ValueError(f"{fn}: gy has a {gy.shape[2]}x{gy.shape[3]} plane, but this pooling "
                         f"of an {H}x{W} input gives {out_hw[0]}x{out_hw[1]}")
    if argmax is not None and (argmax.shape != gy.shape or argmax.dtype != np.int32):
        raise ValueError(f"{fn}: argmax must be int32 of gy's shape {tuple(gy.shape)}, got "
                         f"{argmax.dtype} of shape {tuple(argmax.shape)}")


def argmax_out_of_range(H, W):
    return IndexError(f"max_pool2d_backward: argmax values must lie in [0, {H * W}) for an "
                      f"{H}x{W} input")


def sizes(windows):
    """(OH, OW) of the windows (rows, cols)."""
    return len(windows[0][0]), len(windows[1][0])
