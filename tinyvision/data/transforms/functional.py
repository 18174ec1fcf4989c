"""Geometric operations on an image together with its target, as plain functions.

Each takes ``(image, target)`` and returns a new ``(image, target)``; the random transforms in
``geometry.py`` only draw parameters and call these. The image is (C, H, W) float (ndarray or
Tensor, given back as the same kind). The target is None, a class label (passed through) or a
detection dict whose entries move with the pixels:

    boxes      (K, 4) float32, xyxy in pixels: (x1, y1, x2, y2) with the left-top pixel at
               (0, 0) and a box around pixel columns a..b having x1 = a, x2 = b + 1
    masks      (K, H, W) instance masks (uint8 or bool)
    semantic   (H, W) int64 label map, 0 = background
    keypoints  (K, J, 3) or (J, 3): x, y in pixels and a visibility v (0 = not visible, its x, y
               then carry no meaning)
    area       (K,) recomputed after a geometric change (mask pixels, else box area)

Per-object entries (``PER_OBJECT_KEYS``) are filtered together when an object leaves the
picture, so boxes, labels, masks and keypoints stay aligned.
"""
import numpy as np

from .._util import as_pair, unwrap_image, wrap_image
from .interp import resize_bilinear, resize_nearest

PER_OBJECT_KEYS = ("boxes", "labels", "masks", "keypoints", "area", "iscrowd", "difficult",
                   "scores")


def _check_target(target, image_hw, where):
    if not isinstance(target, dict):
        return
    h, w = image_hw
    for key in ("masks", "semantic"):
        if key in target and np.shape(target[key])[-2:] != (h, w):
            raise ValueError(f"{where}: target[{key!r}] has shape {np.shape(target[key])}, but "
                             f"the image is {h}x{w}")
    if "boxes" in target and (np.ndim(target["boxes"]) != 2 or np.shape(target["boxes"])[1] != 4):
        raise ValueError(f"{where}: target['boxes'] must be (K, 4), got "
                         f"{np.shape(target['boxes'])}")


def drop_objects(target, keep):
    """Keep the objects where ``keep`` (K,) bool is True, in every per-object entry."""
    out = dict(target)
    for key in PER_OBJECT_KEYS:
        value = out.get(key)
        if value is None or (key == "keypoints" and np.ndim(value) != 3):
            continue
        out[key] = np.asarray(value)[keep]
    return out


def _refresh_area(target):
    if "area" in target and ("masks" in target or "boxes" in target):
        if "masks" in target:
            masks = np.asarray(target["masks"])
            area = masks.reshape(len(masks), masks.shape[-2] * masks.shape[-1]).sum(1)
        else:
            b = target["boxes"]
            area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        target["area"] = area.astype(np.float32)
    return target


def hflip(image, target=None, keypoint_flip_indices=None):
    """Mirror left-right: pixel column c goes to W − 1 − c, a coordinate x to W − x.

    ``keypoint_flip_indices`` (J,) renames joints after the mirror: a left wrist seen in a
    mirror is the right wrist, so joint j takes the values of joint ``indices[j]``.
    """
    array, was_tensor = unwrap_image(image, "hflip")
    width = array.shape[-1]
    _check_target(target, array.shape[-2:], "hflip")
    out_image = wrap_image(array[..., ::-1].copy(), was_tensor)
    if not isinstance(target, dict):
        return out_image, target
    t = dict(target)
    if "boxes" in t:
        b = np.asarray(t["boxes"], dtype=np.float32)
        t["boxes"] = np.stack([width - b[:, 2], b[:, 1], width - b[:, 0], b[:, 3]], axis=1)
    for key in ("masks", "semantic"):
        if key in t:
            t[key] = np.asarray(t[key])[..., ::-1].copy()
    if "keypoints" in t:
        k = np.array(t["keypoints"], dtype=np.float32)
        k[..., 0] = width - k[..., 0]
        if keypoint_flip_indices is not None:
            k = k[..., keypoint_flip_indices, :]
        t["keypoints"] = k
    return out_image, t


def _paste(src, top, left, height, width, fill):
    """The window [top, top + height) x [left, left + width) of src (..., H, W), padded
    with ``fill`` where it leaves the array."""
    H, W = src.shape[-2:]
    out = np.full(src.shape[:-2] + (height, width), fill, dtype=src.dtype)
    y0, y1 = max(top, 0), min(top + height, H)
    x0, x1 = max(left, 0), min(left + width, W)
    if y0 < y1 and x0 < x1:
        out[..., y0 - top:y1 - top, x0 - left:x1 - left] = src[..., y0:y1, x0:x1]
    return out


def crop(image, target, top, left, height, width, fill=0.0, min_size=1.0):
    """Cut the window (top, left, height, width) out of the image (integers, in pixels).

    The window may reach outside the image (``RandomTranslate`` uses this), where it is
    ``fill``. Boxes are shifted and clipped to the window; an object whose clipped box is
    thinner than ``min_size`` pixels, or whose mask has no pixel left, is dropped with all its
    per-object entries. Keypoints outside the window become invisible (v = 0).

    NOTE: a clipped box is the clipped original box, as torchvision does; for a non-convex
    object cut by the border it can be looser than its visible mask.
    """
    array, was_tensor = unwrap_image(image, "crop")
    _check_target(target, array.shape[-2:], "crop")
    top, left, height, width = int(top), int(left), int(height), int(width)
    if height < 1 or width < 1:
        raise ValueError(f"crop: height and width must be positive, got {height}x{width}")
    out_image = wrap_image(_paste(array, top, left, height, width, fill), was_tensor)
    if not isinstance(target, dict):
        return out_image, target
    t = dict(target)
    for key in ("masks", "semantic"):
        if key in t:
            t[key] = _paste(np.asarray(t[key]), top, left, height, width, 0)
    if "keypoints" in t:
        k = np.array(t["keypoints"], dtype=np.float32)
        k[..., 0] -= left
        k[..., 1] -= top
        outside = (k[..., 0] < 0) | (k[..., 0] >= width) | (k[..., 1] < 0) | (k[..., 1] >= height)
        k[..., 2] = np.where(outside, 0, k[..., 2])
        t["keypoints"] = k
    if "boxes" in t:
        b = np.asarray(t["boxes"], dtype=np.float32) - np.array([left, top, left, top],
                                                                dtype=np.float32)
        b = np.clip(b, 0, np.array([width, height, width, height], dtype=np.float32))
        t["boxes"] = b
        keep = ((b[:, 2] - b[:, 0]) >= min_size) & ((b[:, 3] - b[:, 1]) >= min_size)
        if "masks" in t:
            keep &= t["masks"].reshape(len(b), height * width).any(axis=1)
        t = drop_objects(t, keep)
    return out_image, _refresh_area(t)


def translate(image, target, dx, dy, fill=0.0, min_size=1.0):
    """Shift the content by (dx, dy) whole pixels, keeping the size; what enters is ``fill``.

    It is ``crop`` with a window moved the other way, so objects pushed out are dropped.
    """
    array, _ = unwrap_image(image, "translate")
    height, width = array.shape[-2:]
    return crop(image, target, -int(dy), -int(dx), height, width, fill=fill, min_size=min_size)


def output_size(size, hw, where="resize"):
    """(h, w) for ``Resize``'s size: a pair, or an int for the smaller edge (aspect kept)."""
    if isinstance(size, (tuple, list)):
        return as_pair(tuple(size), "size", where)
    short = as_pair(size, "size", where)[0]
    h, w = hw
    if h <= w:
        return short, max(1, int(short * w / h))
    return max(1, int(short * h / w)), short


def resize(image, target, size):
    """Resize to ``size``: image bilinear, masks and label maps nearest, coordinates scaled.

    A coordinate x becomes x · w_out / w_in (and y likewise), which keeps the box of a mask the
    box of the resized mask up to the nearest-neighbour rounding (under one output pixel).
    Nothing is dropped here, even a mask thinner than the shrink step that vanishes.
    """
    array, was_tensor = unwrap_image(image, "resize")
    _check_target(target, array.shape[-2:], "resize")
    h_in, w_in = array.shape[-2:]
    h, w = output_size(size, (h_in, w_in))
    out_image = wrap_image(resize_bilinear(array, (h, w)), was_tensor)
    if not isinstance(target, dict):
        return out_image, target
    t = dict(target)
    sx, sy = w / w_in, h / h_in
    if "boxes" in t:
        t["boxes"] = (np.asarray(t["boxes"], dtype=np.float32)
                      * np.array([sx, sy, sx, sy], dtype=np.float32))
    for key in ("masks", "semantic"):
        if key in t:
            t[key] = resize_nearest(np.asarray(t[key]), (h, w))
    if "keypoints" in t:
        k = np.array(t["keypoints"], dtype=np.float32)
        k[..., 0] *= sx
        k[..., 1] *= sy
        t["keypoints"] = k
    return out_image, _refresh_area(t)
