"""Heat maps over images: how CAM and Grad-CAM show where a network looked.

A class activation map is small (the last conv layer's h x w, e.g. 7x7) and in arbitrary
units. To show it, scale it to [0, 1], resize it to the image bilinearly, colour it (jet:
blue = low, red = high) and blend it with the image:

    out = (1 − α) · image + α · colormap(resize(normalize(heatmap)))
"""
import numpy as np

from ..data.transforms.interp import resize_bilinear as _resize
from .colors import apply_colormap
from .image import to_array, to_rgb_uint8


def resize_bilinear(a, height, width):
    """Resize a 2-D array bilinearly, as ``F.interpolate(mode='bilinear', align_corners=False)``:
    (h, w) -> (height, width), float64. The formula lives in ``tinyvision.data.transforms.interp``.
    """
    return _resize(np.asarray(a, np.float64), (height, width))


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
