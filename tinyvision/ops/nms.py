"""Non-maximum suppression, as ``torchvision.ops.nms`` and ``torchvision.ops.batched_nms``.

A detector fires many times around each object; NMS keeps the best of each cluster.
Greedy NMS [Neubeck] visits the boxes by decreasing score, keeps a box unless a box kept
before it overlaps it by IoU > iou_threshold, and so returns a subset in which no two
boxes overlap by more than the threshold::

    scores  0.9  0.8  0.7     box 0 kept (best); IoU(0, 1) = 0.6 > 0.5: box 1 suppressed;
    boxes   A    A'   B       IoU(0, 2) = 0: box 2 kept  ->  keep = [0, 2]

Semantics (torchvision's): suppression is strict (IoU == threshold survives); equal scores
are visited lower index first (a stable sort); IoU = inter / (area_i + area_j - inter) with
area = (x2 - x1)(y2 - y1), computed in the boxes' dtype and compared with the threshold as
a double; two boxes of zero area have IoU 0/0 = NaN and do not suppress each other.  The
result is an int64 Tensor of indices into ``boxes``, highest score first.

The loop runs in kernels/nms (``kernels.get("nms", boxes)`` picks Cython, Numba, or CUDA
for CuPy arrays; reference.py is the readable version).  Boxes are float32 or float64 as
given; integer boxes are computed as float32.

References
----------
[Neubeck] A. Neubeck and L. Van Gool, "Efficient Non-Maximum Suppression", ICPR 2006.
"""
import numbers

import numpy as np

from .. import kernels
from ..tensor import Tensor, as_array
from .boxes import check_boxes


def nms(boxes, scores, iou_threshold):
    """Greedy non-maximum suppression: the indices of the boxes kept, highest score first.

    Parameters
    ----------
    boxes : (N, 4) xyxy, x1 <= x2 and y1 <= y2
    scores : (N,) one score per box (no NaN)
    iou_threshold : float
        Suppress a box when its IoU with a kept, higher-scoring box is > this.

    Returns
    -------
    Tensor (K,) int64, K <= N: indices into boxes, by decreasing score (ties: lower index).
    """
    b, s = _boxes_and_scores(boxes, scores, "nms")
    threshold = _check_threshold(iou_threshold, "nms")
    return Tensor._make(kernels.get("nms", b).nms(b, s, threshold))


def batched_nms(boxes, scores, idxs, iou_threshold):
    """Non-maximum suppression within each category: boxes of different idxs never compete.

    Equal to running ``nms`` on each category's boxes and merging the kept indices by
    decreasing score (ties: lower index).  torchvision gets this by shifting each
    category's boxes by ``idxs * (max coordinate + 1)`` so they cannot overlap and running
    one nms; here the kernels sort by category and then by score, and compare each box
    only with the later boxes of its own category: exact (no offset that rounds the
    coordinates in float32) and less work (the sum of each category's pairs, not all pairs).

    Parameters
    ----------
    boxes : (N, 4) xyxy, x1 <= x2 and y1 <= y2
    scores : (N,)
    idxs : (N,) integers, the category of each box
    iou_threshold : float

    Returns
    -------
    Tensor (K,) int64: indices into boxes, by decreasing score (ties: lower index).
    """
    b, s = _boxes_and_scores(boxes, scores, "batched_nms")
    try:
        categories = as_array(idxs)
    except (TypeError, ValueError) as e:
        raise TypeError(f"batched_nms: idxs must be an (N,) array or Tensor of integers, got "
                        f"{type(idxs).__name__} ({e})") from None
    if categories.shape != s.shape or categories.dtype.kind not in "iu":
        raise ValueError(f"batched_nms: idxs must be ({s.shape[0]},) integers, one category "
                         f"per box, got shape {categories.shape} and dtype {categories.dtype}")
    threshold = _check_threshold(iou_threshold, "batched_nms")
    keep = kernels.get("nms", b).batched_nms(b, s, categories.astype(np.int64, copy=False),
                                             threshold)
    return Tensor._make(keep)


def _boxes_and_scores(boxes, scores, fn):
    """Boxes as a C-contiguous float32/float64 array, scores as float32/float64, checked."""
    b = check_boxes(boxes.detach() if isinstance(boxes, Tensor) else boxes, fn, ordered=True)
    if b.dtype not in (np.float32, np.float64):
        b = b.astype(np.float32)  # float16
    try:
        s = as_array(scores)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{fn}: scores must be an (N,) array or Tensor of numbers, got "
                        f"{type(scores).__name__} ({e})") from None
    if s.shape != b.shape[:1] or s.dtype.kind not in "iuf":
        raise ValueError(f"{fn}: scores must be ({b.shape[0]},) numbers, one per box, got "
                         f"shape {s.shape} and dtype {s.dtype}")
    if s.dtype.kind == "f" and bool(np.isnan(s).any()):
        first = int(np.flatnonzero(np.isnan(s))[0])
        raise ValueError(f"{fn}: scores contains NaN (first at index {first}); a NaN score "
                         "has no place in the score order")
    if s.dtype not in (np.float32, np.float64):
        s = s.astype(np.float64)  # integers exactly, float16 widened
    return b.copy() if not b.flags.c_contiguous else b, s


def _check_threshold(value, fn):
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or \
            not np.isfinite(value):
        raise TypeError(f"{fn}: iou_threshold must be a finite number, got {value!r}")
    return float(value)
