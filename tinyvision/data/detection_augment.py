"""SSD's data augmentation [Liu16, Sec. 2.2 "Data augmentation", Sec. 3.6]: photometric
distortions, zoom out, IoU-constrained random crops, resize, horizontal flip.

"Data augmentation is crucial" (Sec. 3.6: +8.8 mAP on VOC2007). SSD has no resampling
stage that could adapt to objects of every size and position; the crops make objects larger
and cut off at the border, the zoom out makes them small, the flips mirror them::

    image (3, H, W) in [0, 1], boxes (M, 4) xyxy pixels, labels (M,)
      │ photometric_distort: brightness, contrast, saturation, hue in random order, each p 1/2
      │ zoom_out: paste onto a canvas r·H x r·W filled with the mean colour, r ~ U[1, max]
      │ iou_crop: a random patch whose IoU with some object is ≥ one of {0.1, 0.3, 0.5, 0.7,
      │           0.9}, or the whole image; keep the objects whose centre is inside
      │ resize back to H x W (bilinear), horizontal flip with p 1/2
      ▼
    image (3, H, W), boxes (M', 4), labels (M',)

Each step is a function ``step(rng, image, boxes, labels, ...) -> (image, boxes, labels)`` on
NumPy arrays (``rng`` a ``numpy.random.Generator``); ``ssd_augment(rng, image, target)`` runs
them all with a detection target dict, the hook ``recipes._detection.DetectionBatches``
calls. The crop draws all its trials at once and takes the first that satisfies the
constraint (the paper's sampler draws them one by one).

References
----------
[Liu16] W. Liu et al., "SSD: Single Shot MultiBox Detector", ECCV 2016.
"""
import numpy as np

from ..ops import box_iou
from .transforms.color import (adjust_brightness, adjust_contrast, adjust_hue,
                               adjust_saturation)
from .transforms.interp import resize_bilinear

# torchvision's SSD augmentation values (the paper's Caffe code has the same ranges).
MIN_IOUS = (None, 0.1, 0.3, 0.5, 0.7, 0.9)   # None: keep the whole image


def photometric_distort(rng, image, boxes, labels, brightness=0.125, contrast=0.5,
                        saturation=0.5, hue=0.05, p=0.5):
    """Each of brightness ×U[1 − b, 1 + b], contrast and saturation ×U[1 − c, 1 + c] and a hue
    shift U[−h, h] turns, with probability ``p`` each, in a random order; boxes unchanged."""
    steps = [(adjust_brightness, lambda: rng.uniform(1 - brightness, 1 + brightness)),
             (adjust_contrast, lambda: rng.uniform(1 - contrast, 1 + contrast)),
             (adjust_saturation, lambda: rng.uniform(1 - saturation, 1 + saturation)),
             (adjust_hue, lambda: rng.uniform(-hue, hue))]
    for k in rng.permutation(len(steps)):
        if rng.random() < p:
            fn, draw = steps[k]
            image = fn(image, draw())
    return image, boxes, labels


def zoom_out(rng, image, boxes, labels, max_ratio=4.0, fill=None, p=0.5):
    """With probability ``p``, the image pasted at a random place of an r·H x r·W canvas,
    r ~ U[1, max_ratio], filled with ``fill`` (C,) (default: the image's mean colour): every
    object becomes r times smaller once resized back ("zoom out", Sec. 3.6)."""
    if max_ratio <= 1 or rng.random() >= p:
        return image, boxes, labels
    C, H, W = image.shape
    r = rng.uniform(1, max_ratio)
    h, w = int(H * r), int(W * r)
    top, left = int(rng.integers(0, h - H + 1)), int(rng.integers(0, w - W + 1))
    fill = image.mean(axis=(1, 2)) if fill is None else np.asarray(fill, image.dtype)
    canvas = np.empty((C, h, w), image.dtype)
    canvas[:] = fill.reshape(C, 1, 1)
    canvas[:, top:top + H, left:left + W] = image
    return canvas, boxes + np.array([left, top, left, top], boxes.dtype), labels


def iou_crop(rng, image, boxes, labels, min_ious=MIN_IOUS, min_scale=0.3, max_aspect=2.0,
             trials=40):
    """SSD's patch sampling: draw a minimum IoU from ``min_ious`` (None: the whole image),
    then patches of w, h ~ U[min_scale, 1]·(W, H) with 1/max_aspect ≤ w/h ≤ max_aspect at a
    random place; the first patch that contains the centre of at least one object and has
    IoU ≥ the minimum with one of those becomes the image. Objects whose centre falls outside
    it are dropped, the others clipped to it. No valid patch in ``trials``: unchanged."""
    choice = min_ious[int(rng.integers(len(min_ious)))]
    if choice is None or len(boxes) == 0:
        return image, boxes, labels
    _, H, W = image.shape
    # All trials at once: (T,) widths, heights, corners.
    w = rng.uniform(min_scale, 1, trials) * W
    h = rng.uniform(min_scale, 1, trials) * H
    left = rng.uniform(0, 1, trials) * (W - w)
    top = rng.uniform(0, 1, trials) * (H - h)
    patches = np.stack([left, top, left + w, top + h], axis=1)            # (T, 4)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2                           # (M, 2)
    inside = ((centres[None, :, 0] > patches[:, None, 0]) &
              (centres[None, :, 0] < patches[:, None, 2]) &
              (centres[None, :, 1] > patches[:, None, 1]) &
              (centres[None, :, 1] < patches[:, None, 3]))                # (T, M)
    iou = box_iou(patches, boxes).numpy()                                 # (T, M)
    aspect_ok = (w / h >= 1 / max_aspect) & (w / h <= max_aspect)
    valid = aspect_ok & inside.any(1) & (np.where(inside, iou, 0).max(1) >= choice)
    if not valid.any():
        return image, boxes, labels
    t = int(np.argmax(valid))                                             # the first valid
    x1, y1, x2, y2 = (int(v) for v in np.round(patches[t]))
    keep = inside[t]
    kept = boxes[keep].copy()
    kept[:, [0, 2]] = np.clip(kept[:, [0, 2]], x1, x2) - x1
    kept[:, [1, 3]] = np.clip(kept[:, [1, 3]], y1, y2) - y1
    return image[:, y1:y2, x1:x2], kept, labels[keep]


def resize_to(image, boxes, labels, size):
    """Bilinear resize to ``size`` (h, w); boxes scaled with the pixels."""
    _, H, W = image.shape
    h, w = size
    if (H, W) == (h, w):
        return image, boxes, labels
    scale = np.array([w / W, h / H, w / W, h / H], boxes.dtype)
    return resize_bilinear(np.ascontiguousarray(image), (h, w)), boxes * scale, labels


def horizontal_flip(rng, image, boxes, labels, p=0.5):
    """A left-right flip with probability ``p``: x ↦ W − x, so (x1, x2) ↦ (W − x2,
    W − x1)."""
    if rng.random() >= p:
        return image, boxes, labels
    W = image.shape[-1]
    flipped = boxes.copy()
    flipped[:, [0, 2]] = W - boxes[:, [2, 0]]
    return image[..., ::-1], flipped, labels


def ssd_augment(rng, image, target, photometric=True, max_zoom_out=4.0, crop=True,
                min_size=1.0):
    """The whole pipeline (module docstring) on one image (3, H, W) in [0, 1] and its target
    dict (boxes (M, 4) xyxy pixels, labels (M,)); returns (image (3, H, W) float32, target)
    of the same size. Boxes narrower or lower than ``min_size`` pixels after it are dropped.

    ``photometric``, ``max_zoom_out`` (1: none) and ``crop`` switch the steps, so a recipe
    can measure what each is worth."""
    image = np.asarray(image, np.float32)
    _, H, W = image.shape
    boxes = np.array(target["boxes"], np.float32).reshape(-1, 4)
    labels = np.asarray(target["labels"]).reshape(-1)
    if photometric:
        image, boxes, labels = photometric_distort(rng, image, boxes, labels)
    image, boxes, labels = zoom_out(rng, image, boxes, labels, max_zoom_out)
    if crop:
        image, boxes, labels = iou_crop(rng, image, boxes, labels)
    image, boxes, labels = resize_to(image, boxes, labels, (H, W))
    image, boxes, labels = horizontal_flip(rng, image, boxes, labels)
    big = np.all(boxes[:, 2:] - boxes[:, :2] >= min_size, axis=1)
    return (np.ascontiguousarray(image, np.float32),
            dict(target, boxes=boxes[big], labels=labels[big]))
