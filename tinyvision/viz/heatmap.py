"""Heat maps over images: how CAM and Grad-CAM show where a network looked.

A class activation map is small (the last conv layer's h x w, e.g. 7x7) and in arbitrary
units. To show it, scale it to [0, 1], resize it to the image bilinearly, colour it (jet:
blue = low, red = high) and blend it with the image:

    out = (1 − α) · image + α · colormap(resize(normalize(heatmap)))
"""
import numpy as np

from .colors import apply_colormap
from .image import to_array, to_rgb_uint8


def resize_bilinear(a, height, width):
    """Resize a 2-D array bilinearly, as ``F.interpolate(mode='bilinear', align_corners=False)``.

    Output pixel i samples the input at s = (i + 0.5) · in / out − 0.5 (pixel centres line up;
    a pixel is a 1x1 square), clamped to [0, in − 1], and mixes its two neighbours by the
    fractional part of s; rows and columns are done one after the other.

    (h, w) -> (height, width), float64.
    """
    a = np.asarray(a, np.float64)

    def taps(n_in, n_out):
        s = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        i0 = np.floor(s).astype(np.int64)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, s - i0

    y0, y1, wy = taps(a.shape[0], height)
    x0, x1, wx = taps(a.shape[1], width)
    rows = a[y0] * (1 - wy)[:, None] + a[y1] * wy[:, None]        # (height, w)
    return rows[:, x0] * (1 - wx) + rows[:, x1] * wx              # (height, width)


def overlay_heatmap(image, heatmap, alpha=0.5, colormap="jet", normalize=True):
    """Blend a coloured heat map over an image.

    Parameters
    ----------
    image : (C, H, W) float in [0, 1] or (H, W, C) uint8
    heatmap : (h, w) (or (1, h, w)) floats of any size; resized to (H, W) bilinearly
    alpha : weight of the heat map, 0 (image only) to 1 (heat map only)
    colormap : 'jet' (default, as in the CAM papers), 'viridis' or 'gray'
    normalize : scale the heat map to [0, 1] by its min and max (a constant map becomes 0);
        with False it must already be in [0, 1]

    Returns
    -------
    (H, W, 3) uint8
    """
    fn = "overlay_heatmap"
    rgb = to_rgb_uint8(image, fn)
    h = to_array(heatmap)
    if h.ndim == 3 and h.shape[0] == 1:
        h = h[0]
    if h.ndim != 2 or h.size == 0 or h.dtype.kind not in "fiub":
        raise ValueError(f"{fn}: heatmap must be a non-empty (h, w) array of numbers, got "
                         f"shape {h.shape} and dtype {h.dtype}")
    h = h.astype(np.float64)
    if not np.isfinite(h).all():
        raise ValueError(f"{fn}: heatmap holds NaN or inf values")
    if not 0 <= alpha <= 1:
        raise ValueError(f"{fn}: alpha must be in [0, 1], got {alpha!r}")
    if normalize:
        span = h.max() - h.min()
        h = (h - h.min()) / span if span > 0 else np.zeros_like(h)
    elif h.min() < 0 or h.max() > 1:
        raise ValueError(f"{fn}: with normalize=False the heatmap must be in [0, 1], got "
                         f"[{h.min():.3g}, {h.max():.3g}]")
    colored = apply_colormap(resize_bilinear(h, *rgb.shape[:2]), colormap)
    out = (1 - alpha) * rgb.astype(np.float64) + alpha * colored
    return (out + 0.5).astype(np.uint8)
