"""Nearest and bilinear resampling in plain NumPy: the readable version and the oracle.

The contract, shared by every implementation in this folder (same names, same arguments),
follows PyTorch's ``upsample_nearest2d`` / ``upsample_bilinear2d``::

    nearest_forward(x, OH, OW, scale_h=None, scale_w=None, exact=False)   -> y
    nearest_backward(gy, H, W, scale_h=None, scale_w=None, exact=False)   -> gx
    bilinear_forward(x, OH, OW, align_corners, scale_h=None, scale_w=None) -> y
    bilinear_backward(gy, H, W, align_corners, scale_h=None, scale_w=None) -> gx

    x, gx : (N, C, H, W)     float32 or float64; results are C-contiguous, same dtype
    y, gy : (N, C, OH, OW)   H, W, OH, OW >= 1
    scale_h, scale_w : the scale factors the user gave (output/input), or None

Source coordinates.  Output pixel d of an axis (input length `in`, output length `out`)
reads input coordinate src(d), with the step between output pixels, in input pixels,

    step = 1/scale   when a scale factor is given          (NOTE: not in/out: PyTorch's rule;
         = in/out    otherwise                               in 5, scale 1.5: out 7, step 2/3)

    nearest             src = floor(d·step)                  y[d] = x[min(src, in−1)]
    nearest-exact       src = floor((d + 0.5)·step)          (pixel centres, as Pillow)
    bilinear, align_corners=True:   src = d·(in−1)/(out−1)   (0 when out = 1)
    bilinear, align_corners=False:  src = max((d + 0.5)·step − 0.5, 0)
        i0 = min(floor(src), in−1),  i1 = min(i0 + 1, in−1),  λ = src − i0
        y[d] = (1−λ)·x[i0] + λ·x[i1]

In 2-D the two axes are independent (the interpolation is separable): with A_h (OH × H)
and A_w (OW × W) the 1-D interpolation matrices, y = A_h · x · A_wᵀ per image plane, so

    y[oh, ow] = Σ_{a,b ∈ {0,1}} λh_a[oh] · λw_b[ow] · x[ih_a[oh], iw_b[ow]]

and the backward is the transpose, gx = A_hᵀ · gy · A_w: each output's gradient goes back
to the 1 (nearest) or 4 (bilinear) inputs it read, with the same weights.  So every
implementation computes the per-row tables (ih_a, λh_a) and per-column tables (iw_b, λw_b)
once per call, O(OH + OW) work, with the functions below, and its loops only look them up.

NOTE: PyTorch's picks, which the tables reproduce bit for bit (its upsample_nearest2d,
forward and backward), bend the nearest rule in two ways.  (1) An axis whose output length
is its input length is copied, and one of twice the length halved (src = d // 2), whatever
the scale factor: in 5, scale 1.1 gives out 5 and y = x, not rows [0, 0, 1, 2, 3] as
step 1/1.1 would.  (2) The step and src are float32 for every dtype, and floored after
rounding: 14 -> 46 has step 14/46 = 0.30434781 (rounded down), so output 23 reads row 6
(23·step = 6.9999995), not 7.
NOTE: bilinear also copies an axis whose output length equals its input length, whatever
the scale factor (PyTorch's CPU special case), and works in the input's dtype, flooring
src after rounding it to float32 (floorf), as PyTorch's kernel does.

References
----------
PyTorch, aten/src/ATen/native/UpSample.h: nearest_idx, nearest_exact_idx (nearest's
picks), area_pixel_compute_scale, area_pixel_compute_source_index (bilinear's src).
"""
import functools

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def _step(in_size, out_size, scale, real):
    """Input pixels per output pixel: 1/scale when a scale factor is given, else in/out."""
    return real(1.0 / scale) if scale is not None else real(in_size) / real(out_size)


def _cached(table):
    """Keep the last tables, read-only: a training loop asks for the same ones every step."""
    @functools.lru_cache(maxsize=64)
    @functools.wraps(table)
    def cached(*args, **kwargs):
        arrays = table(*args, **kwargs)
        for a in arrays if isinstance(arrays, tuple) else (arrays,):
            a.flags.writeable = False
        return arrays
    return cached


@_cached
def nearest_table(in_size, out_size, scale, exact=False):
    """(out_size,) int64: the input index each output copies, for one axis (NOTE above)."""
    if not exact and out_size == in_size:
        return np.arange(in_size)                  # copied, whatever the scale factor
    if not exact and out_size == 2 * in_size:
        return np.arange(out_size) // 2            # halved, whatever the scale factor
    step = _step(in_size, out_size, scale, np.float32)
    d = np.arange(out_size)
    if exact:
        src = ((d + 0.5) * np.float64(step)).astype(np.float32)
    else:
        src = d.astype(np.float32) * step
    return np.minimum(np.floor(src).astype(np.int64), in_size - 1)


@_cached
def linear_table(in_size, out_size, align_corners, scale, dtype):
    """(i0, i1, l0, l1), each (out_size,): output d = l0[d]·x[i0[d]] + l1[d]·x[i1[d]].

    i0, i1 are int64 and non-decreasing in d; l0, l1 have the given dtype and sum to 1.
    """
    real = np.dtype(dtype).type
    if out_size == in_size:  # an axis of the same length is copied (NOTE above)
        i = np.arange(in_size, dtype=np.int64)
        return i, i, np.ones(in_size, real), np.zeros(in_size, real)
    d = np.arange(out_size).astype(real)
    if align_corners:  # the corner pixels' centres line up: 0 -> 0, out-1 -> in-1
        src = d * (real(in_size - 1) / real(out_size - 1) if out_size > 1 else real(0))
    else:  # pixel centres line up: d + 0.5 -> (d + 0.5)·step; clamped at the first pixel
        src = np.maximum((d + real(0.5)) * _step(in_size, out_size, scale, real) - real(0.5),
                         real(0))
    i0 = np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), in_size - 1)  # floorf
    i1 = i0 + (i0 < in_size - 1)                       # the last pixel pairs with itself
    l1 = np.clip(src - i0.astype(real), 0, 1).astype(real)
    return i0, i1, (real(1) - l1).astype(real), l1


def _check(fn, name, a, sizes, labels):
    if a.ndim != 4:
        raise ValueError(f"{fn}: {name} must be 4-D (N, C, {labels[0]}, {labels[1]}), "
                         f"got shape {tuple(a.shape)}")
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{fn}: {name} must be float32 or float64, got {a.dtype}")
    for label, value in zip(labels, (*a.shape[2:], *sizes)):
        if int(value) != value or value < 1:
            raise ValueError(f"{fn}: sizes must be integers >= 1, got {label} = {value!r} "
                             f"({name} has shape {tuple(a.shape)})")


def check_forward(fn, x, OH, OW):
    """Check a forward's arguments against the contract."""
    _check(fn, "x", x, (OH, OW), ("H", "W", "OH", "OW"))


def check_backward(fn, gy, H, W):
    """Check a backward's arguments against the contract."""
    _check(fn, "gy", gy, (H, W), ("OH", "OW", "H", "W"))


def nearest_forward(x, OH, OW, scale_h=None, scale_w=None, exact=False):
    """y[n, c, oh, ow] = x[n, c, ih[oh], iw[ow]]: (N, C, H, W) -> (N, C, OH, OW)."""
    check_forward("nearest_forward", x, OH, OW)
    H, W = x.shape[2:]
    ih = nearest_table(H, OH, scale_h, exact)   # (OH,)
    iw = nearest_table(W, OW, scale_w, exact)   # (OW,)
    return np.ascontiguousarray(x[:, :, ih[:, None], iw[None, :]])


def nearest_backward(gy, H, W, scale_h=None, scale_w=None, exact=False):
    """gx[n, c, h, w] = Σ gy[n, c, oh, ow] over the outputs with ih[oh] = h, iw[ow] = w."""
    check_backward("nearest_backward", gy, H, W)
    OH, OW = gy.shape[2:]
    ih = nearest_table(H, OH, scale_h, exact)
    iw = nearest_table(W, OW, scale_w, exact)
    gx = np.zeros(gy.shape[:2] + (H, W), gy.dtype)
    np.add.at(gx, (slice(None), slice(None), ih[:, None], iw[None, :]), gy)  # repeats add up
    return gx


def bilinear_forward(x, OH, OW, align_corners, scale_h=None, scale_w=None):
    """Bilinear resampling of (N, C, H, W) x to (N, C, OH, OW); module docstring for the rule.

    Along each row first, then along each column (the rounding order of PyTorch's kernel):
        t[h, ow]  = lw0[ow]·x[h, w0[ow]] + lw1[ow]·x[h, w1[ow]]        (N, C, H, OW)
        y[oh, ow] = lh0[oh]·t[h0[oh], ow] + lh1[oh]·t[h1[oh], ow]      (N, C, OH, OW)
    """
    check_forward("bilinear_forward", x, OH, OW)
    H, W = x.shape[2:]
    h0, h1, lh0, lh1 = linear_table(H, OH, align_corners, scale_h, x.dtype)
    w0, w1, lw0, lw1 = linear_table(W, OW, align_corners, scale_w, x.dtype)
    t = x[..., w0] * lw0 + x[..., w1] * lw1                              # (N, C, H, OW)
    return t[:, :, h0] * lh0[:, None] + t[:, :, h1] * lh1[:, None]       # (N, C, OH, OW)


def bilinear_backward(gy, H, W, align_corners, scale_h=None, scale_w=None):
    """The transpose of bilinear_forward: gx = A_hᵀ · gy · A_w, pass by pass.

    Each output row oh gave weight lh0[oh] to input row h0[oh] and lh1[oh] to h1[oh], so its
    gradient goes back to those rows with the same weights; then the same along columns.
    """
    check_backward("bilinear_backward", gy, H, W)
    N, C, OH, OW = gy.shape
    h0, h1, lh0, lh1 = linear_table(H, OH, align_corners, scale_h, gy.dtype)
    w0, w1, lw0, lw1 = linear_table(W, OW, align_corners, scale_w, gy.dtype)
    gt = np.zeros((N, C, H, OW), gy.dtype)                               # dL/dt
    for oh in range(OH):
        gt[:, :, h0[oh]] += lh0[oh] * gy[:, :, oh]
        gt[:, :, h1[oh]] += lh1[oh] * gy[:, :, oh]
    gx = np.zeros((N, C, H, W), gy.dtype)
    for ow in range(OW):
        gx[..., w0[ow]] += lw0[ow] * gt[..., ow]
        gx[..., w1[ow]] += lw1[ow] * gt[..., ow]
    return gx
