"""Random geometric augmentations that move boxes, masks and keypoints with the pixels.

Each draws its parameters, then calls a function of ``functional.py``; so a flip, a shift or a
crop of the image and of its target are one and the same operation and cannot disagree.
Objects pushed out of the picture are dropped with their labels, masks and keypoints.
"""
import math
import numbers

import numpy as np

from .._util import as_pair, as_range, unwrap_image
from . import functional as TF
from .base import RandomTransform, Transform


def _check_p(p, where):
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0 <= p <= 1:
        raise ValueError(f"{where}: p must be a probability in [0, 1], got {p!r}")
    return float(p)


class RandomHorizontalFlip(RandomTransform):
    """Mirror left-right with probability ``p``.

    Parameters
    ----------
    p : float
    keypoint_flip_indices : sequence of J ints, optional. A permutation of the joints applied
        after mirroring, so that left and right joints swap names (for COCO's 17 keypoints:
        [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]).
    generator : None, int seed or numpy Generator
    """

    def __init__(self, p=0.5, keypoint_flip_indices=None, generator=None):
        super().__init__(generator)
        self.p = _check_p(p, "RandomHorizontalFlip")
        if keypoint_flip_indices is not None:
            idx = np.asarray(keypoint_flip_indices)
            if idx.ndim != 1 or idx.dtype.kind not in "iu" or \
                    not np.array_equal(np.sort(idx), np.arange(len(idx))):
                raise ValueError("RandomHorizontalFlip: keypoint_flip_indices must be a "
                                 f"permutation of 0..J-1, got {keypoint_flip_indices!r}")
            keypoint_flip_indices = idx
        self.keypoint_flip_indices = keypoint_flip_indices

    def forward(self, image, target):
        if self.rng.random() >= self.p:
            return image, target
        return TF.hflip(image, target, self.keypoint_flip_indices)


class RandomTranslate(RandomTransform):
    """Shift by whole pixels, up to ``translate = (a, b)`` of the width and height.

    dx is drawn uniformly from [−a·W, a·W] and rounded (torchvision's RandomAffine rule),
    dy likewise; the uncovered border is ``fill``.
    """

    def __init__(self, translate=(0.1, 0.1), fill=0.0, generator=None):
        super().__init__(generator)
        if isinstance(translate, numbers.Real):
            translate = (translate, translate)
        if (not isinstance(translate, (tuple, list)) or len(translate) != 2
                or not all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                           and 0 <= v <= 1 for v in translate)):
            raise ValueError("RandomTranslate: translate must be a fraction in [0, 1] or a pair "
                             f"(of the width, of the height) of them, got {translate!r}")
        self.translate, self.fill = (float(translate[0]), float(translate[1])), float(fill)

    def forward(self, image, target):
        array, _ = unwrap_image(image, "RandomTranslate")
        h, w = array.shape[-2:]
        a, b = self.translate
        dx = round(self.rng.uniform(-a * w, a * w))
        dy = round(self.rng.uniform(-b * h, b * h))
        return TF.translate(image, target, dx, dy, fill=self.fill)


class RandomResizedCrop(RandomTransform):
    """Crop a random window of random area and aspect ratio, then resize it to ``size``.

    The window (torchvision's rule, 10 tries): area = H·W·U(scale), aspect ratio log-uniform
    in ``ratio``, w = round(√(area·ratio)), h = round(√(area/ratio)); the first that fits is
    placed uniformly. If none fits, the central crop with the ratio clamped to ``ratio``.
    For detection, a ``scale`` such as (0.3, 1.0) keeps most objects in view. Objects that
    leave the window, or whose mask vanishes when the window is shrunk, are dropped.
    """

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), generator=None):
        super().__init__(generator)
        self.size = as_pair(size, "size", "RandomResizedCrop")
        self.scale = as_range(tuple(scale), "scale", "RandomResizedCrop", bound=(0.0, 1.0))
        self.ratio = as_range(tuple(ratio), "ratio", "RandomResizedCrop")
        if self.scale[1] <= 0 or self.ratio[0] <= 0:
            raise ValueError(f"RandomResizedCrop: scale and ratio must be positive, got "
                             f"{scale!r}, {ratio!r}")

    def get_params(self, height, width):
        """(top, left, h, w) of the window for an image of height x width."""
        rng, area = self.rng, height * width
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target_area = area * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(*log_ratio))
            w = round(math.sqrt(target_area * aspect))
            h = round(math.sqrt(target_area / aspect))
            if 0 < w <= width and 0 < h <= height:
                return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
        in_ratio = width / height
        if in_ratio < self.ratio[0]:
            w, h = width, round(width / self.ratio[0])
        elif in_ratio > self.ratio[1]:
            h, w = height, round(height * self.ratio[1])
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def forward(self, image, target):
        array, _ = unwrap_image(image, "RandomResizedCrop")
        top, left, h, w = self.get_params(*array.shape[-2:])
        image, target = TF.crop(image, target, top, left, h, w)
        image, target = TF.resize(image, target, self.size)
        if isinstance(target, dict) and "masks" in target and len(target["masks"]):
            # Shrinking can skip a thin mask entirely: that object is no longer in view.
            masks = target["masks"]
            target = TF.drop_objects(target, masks.reshape(len(masks), -1).any(axis=1))
        return image, target


class Resize(Transform):
    """Resize to ``size``: (h, w), or an int that the smaller edge becomes (aspect kept)."""

    def __init__(self, size):
        if isinstance(size, (tuple, list)):
            size = as_pair(tuple(size), "size", "Resize")
        else:
            as_pair(size, "size", "Resize")
        self.size = size

    def forward(self, image, target):
        return TF.resize(image, target, self.size)
