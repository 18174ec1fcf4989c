"""Transforms that carry a detection target along with the image (import as ``T``).

    import tinyvision.data.transforms as T
    train_tf = T.Compose([T.RandomHorizontalFlip(0.5), T.RandomResizedCrop(128, scale=(0.3, 1)),
                          T.ColorJitter(0.3, 0.3, 0.3, 0.05), T.Normalize(mean, std)])
    image, target = train_tf(image, target)      # or image = train_tf(image)

Canonical image: (C, H, W) float32 in [0, 1] (ndarray or Tensor; each transform gives back the
kind it got). ``ToTensor`` converts a PIL image or HWC uint8 array. A target is None, a class
label, or a dict with ``boxes`` (K, 4) xyxy pixels, ``labels`` (K,), ``masks`` (K, H, W),
``semantic`` (H, W), ``keypoints`` (K, J, 3) or (J, 3) — see ``functional.py`` for exactly
how each moves. Random draws come from ``generator`` (None follows ``tv.manual_seed``).

    base.py        Transform, Compose
    functional.py  hflip, crop, translate, resize on (image, target)
    geometry.py    RandomHorizontalFlip, RandomTranslate, RandomResizedCrop, Resize
    color.py       ToTensor, ColorJitter, Normalize (and the HSV conversions)
    interp.py      resize_bilinear, resize_nearest on plain arrays
"""
from .base import Compose, RandomTransform, Transform
from .color import ColorJitter, Normalize, ToTensor, to_tensor
from .functional import PER_OBJECT_KEYS, crop, hflip, resize, translate
from .geometry import RandomHorizontalFlip, RandomResizedCrop, RandomTranslate, Resize
from .interp import resize_bilinear, resize_nearest

__all__ = ["Compose", "Transform", "RandomTransform", "ToTensor", "to_tensor", "ColorJitter",
           "Normalize", "RandomHorizontalFlip", "RandomTranslate", "RandomResizedCrop", "Resize",
           "hflip", "crop", "translate", "resize", "resize_bilinear", "resize_nearest",
           "PER_OBJECT_KEYS"]
