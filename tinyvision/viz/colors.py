"""Colours: a palette of distinct colours (one per class) and colour maps for heat maps.

A colour map turns a value v in [0, 1] into RGB:

    jet      r = clip(1.5 − |4v − 3|), g = clip(1.5 − |4v − 2|), b = clip(1.5 − |4v − 1|)
             (blue -> cyan -> yellow -> red, the look of the CAM and Grad-CAM papers' figures)
    viridis  piecewise-linear through 9 samples of matplotlib's viridis (perceptually even)
    gray     r = g = b = v
"""
import numpy as np
from PIL import ImageColor

# 20 colours that stay apart from each other and from grey backgrounds; class k gets
# PALETTE[k % 20], so the same class has the same colour in every picture.
PALETTE = [
    (230, 25, 75), (60, 180, 75), (0, 130, 200), (255, 225, 25), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
    (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0),
    (170, 255, 195), (128, 128, 0), (255, 215, 180), (0, 0, 128), (128, 128, 128),
]

_VIRIDIS = np.array([
    (68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141),
    (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37)], np.float64) / 255


def parse_color(color, fn):
    """An (r, g, b) tuple of ints 0-255 from a name ('red'), '#rrggbb' or an RGB sequence."""
    if isinstance(color, str):
        try:
            return ImageColor.getrgb(color)[:3]
        except ValueError:
            raise ValueError(f"{fn}: unknown colour {color!r}") from None
    c = tuple(int(v) for v in np.asarray(color).reshape(-1))
    if len(c) != 3 or not all(0 <= v <= 255 for v in c):
        raise ValueError(f"{fn}: a colour must be a name, '#rrggbb' or (r, g, b) in 0-255, "
                         f"got {color!r}")
    return c


def pick_colors(colors, keys, fn):
    """One RGB colour per entry of ``keys`` (class labels, or instance indices).

    ``colors`` None: the palette colour of each key. One colour (a name or an RGB triple):
    that colour for all. A list of colours: ``colors[key % len(colors)]``.
    """
    if colors is None:
        return [PALETTE[int(k) % len(PALETTE)] for k in keys]
    one_rgb = len(colors) == 3 and all(isinstance(v, (int, np.integer)) for v in colors)
    if isinstance(colors, str) or one_rgb:
        return [parse_color(colors, fn)] * len(keys)
    table = [parse_color(c, fn) for c in colors]
    if not table:
        raise ValueError(f"{fn}: colors is an empty list")
    return [table[int(k) % len(table)] for k in keys]


def text_color(rgb):
    """Black or white, whichever reads better on ``rgb`` (by its luma, ITU-R BT.601)."""
    r, g, b = rgb
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 140 else (255, 255, 255)


def apply_colormap(values, colormap="jet"):
    """Map values in [0, 1], any shape S, to RGB: S + (3,) uint8."""
    v = np.clip(np.asarray(values, np.float64), 0, 1)
    if colormap == "jet":
        rgb = np.stack([1.5 - np.abs(4 * v - 3), 1.5 - np.abs(4 * v - 2),
                        1.5 - np.abs(4 * v - 1)], axis=-1)
    elif colormap == "viridis":
        pos = v * (len(_VIRIDIS) - 1)
        i = np.minimum(pos.astype(np.int64), len(_VIRIDIS) - 2)
        t = (pos - i)[..., None]
        rgb = (1 - t) * _VIRIDIS[i] + t * _VIRIDIS[i + 1]
    elif colormap == "gray":
        rgb = np.repeat(v[..., None], 3, axis=-1)
    else:
        raise ValueError(f"apply_colormap: colormap must be 'jet', 'viridis' or 'gray', "
                         f"got {colormap!r}")
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
