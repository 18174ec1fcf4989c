"""Images in and out: the one conversion every picture goes through, PNG files, image grids.

Layouts. tinyvision's tensors hold images as CHW floats in [0, 1] (what a model sees); PNG files
and Pillow want HWC bytes. Every function of ``tinyvision.viz`` accepts either, told apart by
dtype, and returns HWC uint8:

    float (C, H, W), C = 1 or 3, values in [0, 1]   ->  (H, W, 3) uint8
    uint8 (H, W, C), C = 1, 3 or 4 (alpha dropped)  ->  (H, W, 3) uint8
    (H, W) of either dtype: grey                     ->  (H, W, 3) uint8

A Tensor is read through its ``.data``. Anything else (a float HWC array, an int64 array,
values outside [0, 1]) is an error that says what came, never a silently wrong picture.
"""
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .._files import atomic_writer
from ..tensor import Tensor

# A float image may overshoot [0, 1] by this much (rounding after a resize or a normalisation
# undone); it is clipped. Further out, the caller most likely forgot to undo a normalisation.
_RANGE_TOLERANCE = 1e-3


def to_array(x):
    """The ndarray inside a Tensor (copied to the host if on a GPU), or ``np.asarray(x)``."""
    if isinstance(x, Tensor):
        x = x.data
    if hasattr(x, "__cuda_array_interface__") and hasattr(x, "get"):
        x = x.get()
    return np.asarray(x)


def to_rgb_uint8(image, fn="to_rgb_uint8"):
    """One image in either layout (see the module docstring) -> (H, W, 3) uint8.

    ``fn`` is the public function to name in errors.
    """
    a = to_array(image)
    if a.dtype == np.uint8:
        if a.ndim == 2:
            a = a[:, :, None]
        if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
            raise ValueError(f"{fn}: a uint8 image must be (H, W), or (H, W, C) with C in "
                             f"1, 3, 4, got shape {a.shape}")
        a = a[:, :, :3]
    elif a.dtype.kind == "f":
        if a.ndim == 2:
            a = a[None]
        if a.ndim != 3 or a.shape[0] not in (1, 3):
            raise ValueError(f"{fn}: a float image must be (H, W), or (C, H, W) with C in 1, 3 "
                             f"(tinyvision's layout), got shape {a.shape}; a uint8 image may "
                             f"be HWC")
        lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError(f"{fn}: the float image holds NaN or inf values")
        if lo < -_RANGE_TOLERANCE or hi > 1 + _RANGE_TOLERANCE:
            raise ValueError(f"{fn}: a float image must hold values in [0, 1], got "
                             f"[{lo:.3g}, {hi:.3g}] (undo the normalisation first)")
        # round to nearest: 0.5/255 of error at most, as torchvision's save_image
        a = (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8).transpose(1, 2, 0)
    else:
        raise ValueError(f"{fn}: an image must be float (CHW, values in [0, 1]) or uint8 "
                         f"(HWC), got dtype {a.dtype} and shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{fn}: the image is empty (H, W) = {a.shape[:2]}")
    return np.ascontiguousarray(np.broadcast_to(a, a.shape[:2] + (3,)))


def save_png(image, path):
    """Write one image (either layout) to ``path`` as PNG, atomically.

    The PNG is written to a temporary file beside ``path`` and renamed over it, so ``path`` is
    either the old file or the complete new one, never half a picture. Returns ``path``.
    """
    rgb = to_rgb_uint8(image, fn="save_png")
    with atomic_writer(path, "save_png") as f:
        Image.fromarray(rgb).save(f, format="PNG")
    return os.fspath(path)


def font(size=11):
    """Pillow's built-in font (no font files needed): scalable where FreeType is, else bitmap."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ValueError, ImportError, OSError):  # Pillow without FreeType
        return ImageFont.load_default()


def text_size(draw, text, fnt):
    """(width, height) in pixels of ``text`` drawn in ``fnt``."""
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=fnt)
    return x1 - x0, y1 - y0


def _split_batch(images, fn):
    """A batch (N, C, H, W) float or (N, H, W, C) uint8, or a sequence of images -> list of HWC."""
    if isinstance(images, (list, tuple)):
        batch = list(images)
    else:
        a = to_array(images)
        if a.ndim != 4 and not (a.ndim == 3 and a.dtype.kind == "f"):
            raise ValueError(f"{fn}: images must be a batch (N, C, H, W) float or "
                             f"(N, H, W, C) uint8, or a list of images, got shape {a.shape}")
        batch = list(a) if a.ndim == 4 else list(a[:, None])   # (N, H, W) float: grey
    if not batch:
        raise ValueError(f"{fn}: images is empty")
    return [to_rgb_uint8(im, fn=fn) for im in batch]


def make_grid(images, nrow=8, padding=2, labels=None, scale=1, pad_value=255):
    """Tile images into one picture, ``nrow`` per row, as ``torchvision.utils.make_grid``.

    Parameters
    ----------
    images : (N, C, H, W) float in [0, 1], (N, H, W, C) uint8, or a list of images (sizes may
        differ: each cell is as big as the largest image, the image at its top left)
    nrow : images per row
    padding : pixels between cells and around the grid
    labels : optional N strings (or numbers), written under each image
    scale : integer upscaling, pixels repeated (small images such as 8x8 digits stay crisp)
    pad_value : grey level of the padding and label strip (0-255)

    Returns
    -------
    (H', W', 3) uint8
    """
    tiles = _split_batch(images, "make_grid")
    if not (isinstance(nrow, int) and nrow > 0):
        raise ValueError(f"make_grid: nrow must be a positive int, got {nrow!r}")
    if not (isinstance(padding, int) and padding >= 0):
        raise ValueError(f"make_grid: padding must be an int >= 0, got {padding!r}")
    if not (isinstance(scale, int) and scale > 0):
        raise ValueError(f"make_grid: scale must be a positive int, got {scale!r}")
    if labels is not None and len(labels) != len(tiles):
        raise ValueError(f"make_grid: labels must have one entry per image ({len(tiles)}), "
                         f"got {len(labels)}")
    tiles = [t.repeat(scale, 0).repeat(scale, 1) for t in tiles]
    fnt = font()
    strip = 0 if labels is None else font_height(fnt) + 4     # room for a line of text
    h = max(t.shape[0] for t in tiles) + strip
    w = max(t.shape[1] for t in tiles)
    cols = min(nrow, len(tiles))
    rows = -(-len(tiles) // cols)                              # ceil
    grid = np.full((rows * (h + padding) + padding, cols * (w + padding) + padding, 3),
                   pad_value, np.uint8)
    for i, t in enumerate(tiles):
        y = padding + (i // cols) * (h + padding)
        x = padding + (i % cols) * (w + padding)
        grid[y:y + t.shape[0], x:x + t.shape[1]] = t
    if labels is None:
        return grid
    img = Image.fromarray(grid)
    draw = ImageDraw.Draw(img)
    ink = (0, 0, 0) if pad_value > 127 else (255, 255, 255)
    for i, text in enumerate(labels):
        y = padding + (i // cols) * (h + padding) + h - strip + 2
        x = padding + (i % cols) * (w + padding)
        draw.text((x + 1, y), str(text), fill=ink, font=fnt)
    return np.asarray(img)


def font_height(fnt):
    """Line height of ``fnt`` in pixels (ascent + descent)."""
    ascent, descent = fnt.getmetrics()
    return ascent + descent


def save_image_grid(images, path, nrow=8, padding=2, labels=None, scale=1):
    """``make_grid`` written to a PNG (atomically); returns the grid, (H', W', 3) uint8."""
    grid = make_grid(images, nrow=nrow, padding=padding, labels=labels, scale=scale)
    save_png(grid, path)
    return grid
