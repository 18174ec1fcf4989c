"""Box operations, as ``torchvision.ops.boxes``: area, IoU, generalized IoU, format conversion,
clipping to the image and filtering of small boxes.

A box is a row (x1, y1, x2, y2) in pixels: its left-top corner and its right-bottom corner
(x1 ≤ x2, y1 ≤ y2); a set of N boxes is an (N, 4) array. ``box_convert`` also knows
(x, y, w, h) and (cx, cy, w, h).

One formula, two paths. Every function below is written once, over a small namespace of
verbs ``m`` (``maximum``, ``minimum``, ``clamp``, ``where``, ``cat``, ``stack``, ``exp``, ``log``):

- a Tensor that requires grad (with grad mode on) runs the formula through
  ``tinyvision.functional``, so gradients flow to the boxes (GIoU losses, box decoding
  inside a model);
- anything else (ndarrays, lists, Tensors without grad) runs it through NumPy directly: the
  fast path that target assignment and post-processing take.

Either way the result is a Tensor (``.numpy()`` gives the array). Integer boxes are computed
as float32.

References
----------
[Jaccard] P. Jaccard, "The distribution of the flora in the alpine zone", New Phytologist, 1912.
[GIoU] H. Rezatofighi et al., "Generalized Intersection over Union: A Metric and a Loss for
    Bounding Box Regression", CVPR 2019.
"""
from types import SimpleNamespace

import numpy as np

from .. import functional as F
from ..autograd import grad_mode
from ..tensor import Tensor, as_array

FORMATS = ("xyxy", "xywh", "cxcywh")


def _clamp(x, min=None, max=None):
    """F.clamp on arrays (np.maximum for a lower bound only: np.clip is slower)."""
    return np.maximum(x, min) if max is None else np.clip(x, min, max)


# The verbs of tinyvision.functional that the box formulas use, on plain arrays.
NUMPY_MATH = SimpleNamespace(
    maximum=np.maximum, minimum=np.minimum, exp=np.exp, log=np.log, where=np.where, clamp=_clamp,
    cat=lambda xs, dim: np.concatenate(xs, axis=dim),
    stack=lambda xs, dim: np.stack(xs, axis=dim))


def math_for(*xs):
    """``tinyvision.functional`` when a gradient must flow through one of ``xs``, else NumPy."""
    if grad_mode.is_grad_enabled() and any(isinstance(x, Tensor) and x.requires_grad for x in xs):
        return F
    return NUMPY_MATH


def data(x):
    """The array behind ``x``."""
    return x.data if isinstance(x, Tensor) else x


def as_tensor(x):
    """A result as a Tensor: Tensors stay, arrays are wrapped (no copy)."""
    return x if isinstance(x, Tensor) else Tensor._make(np.asarray(x))


def check_boxes(boxes, fn, name="boxes", ndim=2, ordered=False):
    """``boxes`` checked and ready for the formulas.

    Expects (N, 4) (or (..., 4) when ``ndim`` is None) finite numbers; with ``ordered``, also
    x1 ≤ x2 and y1 ≤ y2 in every row. Returns a Tensor when it requires grad (its maths must
    run through tinyvision ops), else a floating ndarray (integers become float32).
    """
    if isinstance(boxes, Tensor) and boxes.requires_grad and grad_mode.is_grad_enabled():
        keep = boxes
        a = boxes.data
    else:
        keep = None
        try:
            a = as_array(boxes)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{fn}: {name} must be an (N, 4) array or Tensor of numbers, got "
                            f"{type(boxes).__name__} ({e})") from None
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{fn}: {name} must hold numbers, got dtype {a.dtype}")
    if a.ndim == 0 or a.shape[-1] != 4 or (ndim is not None and a.ndim != ndim):
        want = "(N, 4)" if ndim == 2 else "(..., 4)"
        raise ValueError(f"{fn}: {name} must be {want}, one row of 4 coordinates per box, got "
                         f"shape {a.shape}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0][:-1])
        raise ValueError(f"{fn}: {name} contains NaN or inf (first in box {where})")
    if ordered:
        bad = np.argwhere((a[..., 2] < a[..., 0]) | (a[..., 3] < a[..., 1]))
        if bad.size:
            i = tuple(int(k) for k in bad[0])
            raise ValueError(f"{fn}: {name}[{', '.join(map(str, i))}] is {a[i].tolist()}, with "
                             "x2 < x1 or y2 < y1; boxes must be (x1, y1, x2, y2), not (x, y, w, h)")
    if keep is not None:
        return keep
    return a if a.dtype.kind == "f" else a.astype(np.float32)


def _check_fmt(fmt, fn, name):
    if fmt not in FORMATS:
        raise ValueError(f"{fn}: {name} must be one of {FORMATS}, got {fmt!r}")


# ---- area, IoU, GIoU ------------------------------------------------------------------------
def box_area(boxes):
    """Area (x2 − x1)·(y2 − y1) of each box.

    Parameters
    ----------
    boxes : (..., 4) xyxy, x1 ≤ x2 and y1 ≤ y2

    Returns
    -------
    Tensor (...)
    """
    b = check_boxes(boxes, "box_area", ndim=None, ordered=True)
    return as_tensor(_area(b))


def _area(b):
    return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])


def _inter_union(a, b, m):
    """|A ∩ B| and |A ∪ B| for every pair: two (N, M) arrays."""
    # Width and height of each pair's overlap, negative where they miss each other. One
    # (N, M) array per coordinate: NumPy is several times slower on (N, M, 2) pairs.
    w = m.minimum(a[:, None, 2], b[None, :, 2]) - m.maximum(a[:, None, 0], b[None, :, 0])
    h = m.minimum(a[:, None, 3], b[None, :, 3]) - m.maximum(a[:, None, 1], b[None, :, 1])
    inter = m.clamp(w, min=0) * m.clamp(h, min=0)
    union = _area(a)[:, None] + _area(b)[None, :] - inter
    return inter, union


def _safe_div(num, den, m):
    """num / den, and 0 where den is 0 (there num is 0 too: an empty overlap)."""
    return num / m.where(data(den) > 0, den, 1)


def box_iou(boxes1, boxes2):
    """Jaccard index (intersection over union) of every pair of boxes [Jaccard]:

        IoU(A, B) = |A ∩ B| / |A ∪ B|,   |A ∪ B| = |A| + |B| − |A ∩ B|

    Parameters
    ----------
    boxes1 : (N, 4) xyxy
    boxes2 : (M, 4) xyxy

    Returns
    -------
    Tensor (N, M), values in [0, 1]; differentiable when a box Tensor requires grad.

    NOTE: two boxes of zero area have an empty union; their IoU is 0 here (torchvision's
    0/0 gives NaN, which would poison a matcher's argmax).
    """
    a = check_boxes(boxes1, "box_iou", "boxes1", ordered=True)
    b = check_boxes(boxes2, "box_iou", "boxes2", ordered=True)
    m = math_for(a, b)
    inter, union = _inter_union(a, b, m)
    return as_tensor(_safe_div(inter, union, m))


def generalized_box_iou(boxes1, boxes2):
    """Generalized IoU of every pair of boxes, Algorithm 1 of [GIoU]:

        GIoU(A, B) = IoU(A, B) − |C \\ (A ∪ B)| / |C|

    where C is the smallest box enclosing A and B. GIoU ≤ IoU, it lies in [−1, 1], and unlike
    IoU it still tells how far apart two disjoint boxes are, so 1 − GIoU is a useful loss.

    Parameters
    ----------
    boxes1 : (N, 4) xyxy
    boxes2 : (M, 4) xyxy

    Returns
    -------
    Tensor (N, M); differentiable when a box Tensor requires grad.
    """
    a = check_boxes(boxes1, "generalized_box_iou", "boxes1", ordered=True)
    b = check_boxes(boxes2, "generalized_box_iou", "boxes2", ordered=True)
    m = math_for(a, b)
    inter, union = _inter_union(a, b, m)
    iou = _safe_div(inter, union, m)
    # C, the smallest box enclosing each pair: its width and height, (N, M) each.
    w = m.maximum(a[:, None, 2], b[None, :, 2]) - m.minimum(a[:, None, 0], b[None, :, 0])
    h = m.maximum(a[:, None, 3], b[None, :, 3]) - m.minimum(a[:, None, 1], b[None, :, 1])
    area_c = w * h                                               # ≥ 0 for ordered boxes
    return as_tensor(iou - _safe_div(area_c - union, area_c, m))


# ---- formats, clipping, filtering -------------------------------------------------------------
def box_convert(boxes, in_fmt, out_fmt):
    """Convert boxes between formats:

        'xyxy'    (x1, y1, x2, y2): corners
        'xywh'    (x1, y1, w, h): left-top corner and size (COCO's ``bbox``)
        'cxcywh'  (cx, cy, w, h): centre and size (YOLO, SSD, DETR)

    Parameters
    ----------
    boxes : (..., 4) in ``in_fmt``
    in_fmt, out_fmt : one of the three names

    Returns
    -------
    Tensor (..., 4) in ``out_fmt``; differentiable when ``boxes`` requires grad.
    """
    _check_fmt(in_fmt, "box_convert", "in_fmt")
    _check_fmt(out_fmt, "box_convert", "out_fmt")
    b = check_boxes(boxes, "box_convert", ndim=None)
    if in_fmt == out_fmt:
        return as_tensor(b)
    m = math_for(b)
    p, q = b[..., :2], b[..., 2:]                       # two (..., 2) halves of each row
    if in_fmt == "xywh":                                # corner and size -> corners
        b = m.cat([p, p + q], -1)
    elif in_fmt == "cxcywh":                            # centre and size -> corners
        b = m.cat([p - q / 2, p + q / 2], -1)
    p, q = b[..., :2], b[..., 2:]                       # now the two corners
    if out_fmt == "xywh":
        b = m.cat([p, q - p], -1)
    elif out_fmt == "cxcywh":
        b = m.cat([(p + q) / 2, q - p], -1)
    return as_tensor(b)


def clip_boxes_to_image(boxes, size):
    """Clip boxes so they lie inside an image of ``size`` = (H, W): 0 ≤ x ≤ W, 0 ≤ y ≤ H.

    Parameters
    ----------
    boxes : (..., 4) xyxy
    size : (H, W)

    Returns
    -------
    Tensor (..., 4); the gradient passes to coordinates that were inside.
    """
    H, W = _image_size(size, "clip_boxes_to_image")
    b = check_boxes(boxes, "clip_boxes_to_image", ndim=None)
    m = math_for(b)
    x = m.clamp(b[..., 0::2], min=0, max=W)             # (..., 2): x1, x2
    y = m.clamp(b[..., 1::2], min=0, max=H)             # (..., 2): y1, y2
    return as_tensor(m.stack([x, y], -1).reshape(data(b).shape))  # interleave back to x1 y1 x2 y2


def remove_small_boxes(boxes, min_size):
    """Indices of the boxes whose width and height are both at least ``min_size``.

    Parameters
    ----------
    boxes : (N, 4) xyxy
    min_size : float

    Returns
    -------
    Tensor (K,) int64, increasing.
    """
    if isinstance(min_size, bool) or not isinstance(min_size, (int, float, np.number)) \
            or not np.isfinite(min_size):
        raise TypeError(f"remove_small_boxes: min_size must be a finite number, got {min_size!r}")
    b = data(check_boxes(boxes, "remove_small_boxes"))
    keep = (b[:, 2] - b[:, 0] >= min_size) & (b[:, 3] - b[:, 1] >= min_size)
    return as_tensor(np.flatnonzero(keep).astype(np.int64))


def _image_size(size, fn):
    """(H, W) as two non-negative numbers."""
    try:
        H, W = (float(s) for s in size)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: size must be (H, W), two numbers, got {size!r}") from None
    if not (H >= 0 and W >= 0 and np.isfinite(H) and np.isfinite(W)):
        raise ValueError(f"{fn}: size (H, W) must be finite and non-negative, got {size!r}")
    return H, W
