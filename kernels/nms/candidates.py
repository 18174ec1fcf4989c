"""What the fast implementations share around their loops: sorting, layout, threshold.

Every fast nms runs in three steps; only the middle one (the greedy sweep over sorted
candidates) is native code, and it never allocates::

    order, coords, end = sorted_candidates(boxes, scores, idxs)   # NumPy (or CuPy)
    kept = <greedy sweep>(coords, end, threshold_in(coords.dtype, iou_threshold))
    keep = merged(order[kept], scores) if idxs is not None else order[kept]

``order``  the candidates best first: by decreasing score, stable; for batched_nms first by
           category, so each category is one contiguous run (its boxes never meet the
           others', which is exact, where torchvision's coordinate offsets round them)
``coords`` (5, N) rows x1, y1, x2, y2, area of the sorted boxes: each row contiguous, so
           the sweep's inner loop reads five streams and vectorises
``end``    (N,) int64: the sweep compares candidate i with candidates i+1 .. end[i]-1 (N
           for plain nms, the end of i's category run for batched_nms)
"""
import numpy as np

from .._gpu import array_module


def sorted_candidates(boxes, scores, idxs=None):
    """(order, coords, end) for the sweep; see the module docstring."""
    xp = array_module(boxes)
    N = boxes.shape[0]
    if idxs is None:
        order = xp.argsort(-scores, kind="stable")
        end = xp.full(N, N, np.int64)
    else:  # the CPU implementations only (cuda.py checks categories inside its kernel)
        order = np.lexsort((-scores, idxs))  # by category, then score; stable
        category = idxs[order]
        run_ends = np.append(np.flatnonzero(category[1:] != category[:-1]) + 1, N)
        end = np.repeat(run_ends, np.diff(run_ends, prepend=0))
    b = boxes[order]
    coords = xp.empty((5, N), boxes.dtype)
    coords[:4] = b.T
    coords[4] = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # as reference.iou_one_to_many
    return order, coords, end


def threshold_in(dtype, iou_threshold):
    """The threshold t in the boxes' dtype with ``iou > t`` exactly as ``double(iou) > thr``.

    torchvision compares a float IoU with a double threshold.  In float32 that is the
    largest float32 <= thr: a float32 IoU exceeds thr exactly when it exceeds t (e.g. the
    double 0.3 rounds to the float32 0.30000001, above it, so t = 0.29999998; an IoU equal
    to that float32 0.30000001 is suppressed, as in torchvision).  Returned as a Python
    float, exactly.
    """
    if np.dtype(dtype) == np.float64:
        return float(iou_threshold)
    with np.errstate(over="ignore"):  # beyond float32's range: inf, then the largest float
        t = np.float32(iou_threshold)
    if float(t) > iou_threshold:
        t = np.nextafter(t, np.float32(-np.inf))
    return float(t)


def merged(keep, scores):
    """batched_nms's output: the kept indices, highest score first, ties by lower index."""
    xp = array_module(keep)
    keep = xp.sort(keep)
    return keep[xp.argsort(-scores[keep], kind="stable")]
