"""Resizing arrays without an image library: separable bilinear and nearest-neighbour.

Both follow ``torch.nn.functional.interpolate`` (``align_corners=False``, no antialiasing), so
an image resized here matches one resized in PyTorch:

    bilinear:  source coordinate s = (d + 0.5) · in/out − 0.5 (clamped at 0); the output is
               the two nearest source pixels mixed by the fraction of s, first along H, then
               along W (a 2-D bilinear filter is the product of two 1-D ones).
    nearest:   source index ⌊d · in/out⌋ (computed in float32, as PyTorch does), for masks and
               label maps, whose values must not be mixed.

NOTE: without antialiasing, shrinking by more than 2x skips source pixels (aliasing); fine
for augmentation, not for making thumbnails.
"""
import numpy as np


def _bilinear_taps(n_in, n_out):
    """For each output index: the two source indices and the weight of the second."""
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    src = np.maximum(src, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, src - i0


def _lerp_rows(x, size):
    """Bilinear along axis −2: (..., H, W) -> (..., size, W)."""
    i0, i1, f = _bilinear_taps(x.shape[-2], size)
    f = f.astype(x.dtype)[:, None]
    out = x[..., i0, :]                 # gathers make new arrays: finish in place
    out *= 1 - f
    out += x[..., i1, :] * f
    return out


def resize_bilinear(x, size):
    """Bilinear resize of the last two axes: (..., H, W) float -> (..., h, w), same dtype."""
    h, w = size
    rows = _lerp_rows(x, h)                                           # (..., h, W)
    # Gathering whole rows is much faster than gathering columns, so the second pass runs
    # on the transposed array.
    cols = _lerp_rows(np.ascontiguousarray(np.swapaxes(rows, -1, -2)), w)   # (..., w, h)
    return np.ascontiguousarray(np.swapaxes(cols, -1, -2))            # (..., h, w)


def _nearest_index(n_in, n_out):
    scale = np.float32(n_in) / np.float32(n_out)
    idx = np.floor(np.arange(n_out, dtype=np.float32) * scale).astype(np.int64)
    return np.minimum(idx, n_in - 1)


def resize_nearest(x, size):
    """Nearest-neighbour resize of the last two axes: (..., H, W) any dtype -> (..., h, w)."""
    h, w = size
    return x[..., _nearest_index(x.shape[-2], h)[:, None], _nearest_index(x.shape[-1], w)]
