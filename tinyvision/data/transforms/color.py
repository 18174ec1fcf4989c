"""Conversion to the canonical layout, photometric augmentation and normalisation.

Canonical image layout: (C, H, W) float32 with values in [0, 1], as torchvision's tensors.
``ToTensor`` brings a PIL image or an HWC uint8 array there. ``ColorJitter`` expects it (it
clamps to [0, 1]); ``Normalize`` comes last, as it leaves that range. None of these touch the
target: colours do not move boxes.

ColorJitter follows torchvision's formulas (so its pictures look the same):

    brightness  x · b                                      b ~ U[max(0, 1 − β), 1 + β]
    contrast    c · x + (1 − c) · mean(gray(x))            c ~ U[max(0, 1 − γ), 1 + γ]
    saturation  s · x + (1 − s) · gray(x)                  s ~ U[max(0, 1 − σ), 1 + σ]
    hue         rotate the HSV hue by h turns              h ~ U[−η, η], η ≤ 0.5

in a random order, each clamped to [0, 1]; gray = 0.2989 R + 0.587 G + 0.114 B (ITU-R 601).
"""
import numpy as np

from ...tensor import Tensor
from .._util import as_range, unwrap_image, wrap_image
from .base import RandomTransform, Transform


def to_tensor(pic):
    """PIL image or (H, W[, C]) array -> (C, H, W) float32 Tensor; uint8 is divided by 255."""
    array = np.asarray(pic)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.dtype.kind not in "uifb":
        raise ValueError(f"ToTensor: expected a PIL image or an (H, W) / (H, W, C) array, got "
                         f"{type(pic).__name__} of shape {array.shape} dtype {array.dtype}")
    chw = np.ascontiguousarray(array.transpose(2, 0, 1))
    if array.dtype == np.uint8:
        return Tensor(chw.astype(np.float32) / np.float32(255))
    return Tensor(chw.astype(np.float32))


class ToTensor(Transform):
    """Convert a PIL image or HWC uint8 array to the canonical (C, H, W) float32 Tensor."""

    def forward(self, image, target):
        return to_tensor(image), target


class Normalize(Transform):
    """(x − mean[c]) / std[c] per channel, e.g. ImageNet's mean (0.485, 0.456, 0.406) and
    std (0.229, 0.224, 0.225)."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1)
        if self.mean.shape != self.std.shape or not np.all(self.std > 0):
            raise ValueError(f"Normalize: mean and std need the same length and std > 0, got "
                             f"mean {mean!r} std {std!r}")

    def forward(self, image, target):
        array, was_tensor = unwrap_image(image, "Normalize")
        if len(self.mean) not in (1, array.shape[0]):
            raise ValueError(f"Normalize: {len(self.mean)} means for an image with "
                             f"{array.shape[0]} channels")
        out = (array - self.mean[:, None, None]) / self.std[:, None, None]
        return wrap_image(out.astype(array.dtype), was_tensor), target


def rgb_to_grayscale(x):
    """(3, H, W) -> (1, H, W), ITU-R 601 luma; a 1-channel image is returned as is."""
    if x.shape[0] == 1:
        return x
    return (0.2989 * x[0] + 0.587 * x[1] + 0.114 * x[2])[None].astype(x.dtype)


def rgb_to_hsv(x):
    """(3, H, W) RGB in [0, 1] -> (3, H, W) HSV, hue in turns [0, 1)."""
    r, g, b = x
    maxc, minc = x.max(0), x.min(0)
    chroma = maxc - minc
    flat = chroma == 0
    s = chroma / np.where(flat, 1, maxc)
    d = np.where(flat, 1, chroma)
    rc, gc, bc = (maxc - r) / d, (maxc - g) / d, (maxc - b) / d
    # Which channel is the maximum decides the sextant of the hue circle.
    h = np.where(maxc == r, bc - gc, np.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = np.where(flat, 0, h)
    return np.stack([np.mod(h / 6.0 + 1.0, 1.0), s, maxc]).astype(x.dtype)


def hsv_to_rgb(x):
    """(3, H, W) HSV -> RGB: the inverse of ``rgb_to_hsv``."""
    h, s, v = x
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int64) % 6
    p, q, t = (np.clip(v * (1 - s * w), 0, 1) for w in (1.0, f, 1 - f))
    # Per sextant i, the (R, G, B) made of v, p, q, t.
    table = np.stack([np.stack(c) for c in ([v, q, p, p, t, v], [t, v, v, q, p, p],
                                            [p, p, t, v, v, q])])        # (3, 6, H, W)
    return np.take_along_axis(table, i[None, None], axis=1)[:, 0].astype(x.dtype)


def _blend(x, other, factor):
    return np.clip(factor * x + (1 - factor) * other, 0, 1).astype(x.dtype)


def adjust_brightness(x, factor):
    return _blend(x, 0, factor)


def adjust_contrast(x, factor):
    return _blend(x, rgb_to_grayscale(x).mean(), factor)


def adjust_saturation(x, factor):
    return x if x.shape[0] == 1 else _blend(x, rgb_to_grayscale(x), factor)


def adjust_hue(x, shift):
    if x.shape[0] == 1:
        return x
    hsv = rgb_to_hsv(x)
    hsv[0] = np.mod(hsv[0] + shift, 1.0)
    return hsv_to_rgb(hsv)


class ColorJitter(RandomTransform):
    """Random brightness, contrast, saturation and hue (formulas in the module docstring).

    Each of ``brightness``, ``contrast``, ``saturation`` is a number β (factor range
    [max(0, 1 − β), 1 + β]) or a (min, max) pair; ``hue`` is η in [0, 0.5] or a pair within
    [−0.5, 0.5]. The image must be in [0, 1]: apply it before ``Normalize``.
    """

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0, generator=None):
        super().__init__(generator)
        self.brightness = as_range(brightness, "brightness", "ColorJitter", center=1.0)
        self.contrast = as_range(contrast, "contrast", "ColorJitter", center=1.0)
        self.saturation = as_range(saturation, "saturation", "ColorJitter", center=1.0)
        self.hue = as_range(hue, "hue", "ColorJitter", center=0.0, bound=(-0.5, 0.5))

    def forward(self, image, target):
        array, was_tensor = unwrap_image(image, "ColorJitter")
        if array.size and (array.min() < -1e-6 or array.max() > 1 + 1e-6):
            raise ValueError(f"ColorJitter: image values must lie in [0, 1], got "
                             f"[{array.min():.3g}, {array.max():.3g}] (apply it before Normalize)")
        ops = [(adjust_brightness, self.brightness, 1.0), (adjust_contrast, self.contrast, 1.0),
               (adjust_saturation, self.saturation, 1.0), (adjust_hue, self.hue, 0.0)]
        rng = self.rng
        for k in rng.permutation(4):
            fn, (low, high), identity = ops[k]
            if low == high == identity:
                continue
            array = fn(array, rng.uniform(low, high))
        return wrap_image(array, was_tensor), target
