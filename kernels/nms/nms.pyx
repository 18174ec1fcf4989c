"""Non-maximum suppression in Cython: a def wrapper sorts and allocates, a cdef loop sweeps.

The contract is in reference.py; sorting, the (5, N) layout and the threshold in the boxes'
dtype in candidates.py.  The sweep visits the sorted candidates once; each one still
standing is kept and marks every later candidate of its run it overlaps by IoU > t::

    for i in 0 .. N-1:          (best first)
        if removed[i]: next
        keep i
        for j in i+1 .. end[i]-1:  removed[j] |= IoU(i, j) > t

The inner loop has no branch and no early exit: it computes every IoU, suppressed or not,
so gcc vectorises it (4 floats or 2 doubles a step at -O3 on any x86-64), which beats
skipping the boxes already removed one by one.

NOTE: the removed flags are stored in the boxes' dtype (0 or 1), not as bytes: SSE2 cannot
narrow a vector of double comparisons to bytes, and gcc then left the float64 loop scalar
(8x slower).  Arithmetic is reference.py's, operation for operation,
in the boxes' dtype, so the kept set is bit-for-bit the reference's.  One thread: the
sweep is sequential, and an inner loop (a few thousand IoUs, microseconds) is too short to
hand to other threads.
"""
from libc.stdint cimport int64_t

import numpy as np

from .candidates import merged, sorted_candidates, threshold_in
from .reference import check_arguments

ctypedef fused real:
    float
    double


cdef Py_ssize_t _sweep(const real[:, ::1] coords, const int64_t[::1] end, real t,
                       real[::1] removed, int64_t[::1] kept) noexcept nogil:
    """Greedy sweep over sorted candidates; writes the kept positions, returns their count."""
    cdef Py_ssize_t N = coords.shape[1], n_kept = 0, i, j
    cdef const real* x1 = &coords[0, 0]
    cdef const real* y1 = &coords[1, 0]
    cdef const real* x2 = &coords[2, 0]
    cdef const real* y2 = &coords[3, 0]
    cdef const real* area = &coords[4, 0]
    cdef real ix1, iy1, ix2, iy2, iarea, w, h, inter
    for i in range(N):
        if removed[i] != 0:
            continue
        kept[n_kept] = i
        n_kept += 1
        ix1, iy1, ix2, iy2, iarea = x1[i], y1[i], x2[i], y2[i], area[i]
        for j in range(i + 1, end[i]):
            w = (ix2 if ix2 < x2[j] else x2[j]) - (ix1 if ix1 > x1[j] else x1[j])
            h = (iy2 if iy2 < y2[j] else y2[j]) - (iy1 if iy1 > y1[j] else y1[j])
            w = w if w > 0 else 0
            h = h if h > 0 else 0
            inter = w * h
            # 0/0 = NaN for two empty boxes: NaN > t is false, not removed
            removed[j] = 1 if inter / (iarea + area[j] - inter) > t else removed[j]
    return n_kept


def _kept_positions(coords, end, double t):
    """Positions in the sorted order of the candidates the sweep keeps."""
    N = coords.shape[1]
    removed, kept = np.zeros(N, coords.dtype), np.empty(N, np.int64)
    cdef Py_ssize_t n
    if N == 0:
        return kept
    if coords.dtype == np.float32:
        n = _sweep[float](coords, end, <float>t, removed, kept)
    else:
        n = _sweep[double](coords, end, t, removed, kept)
    return kept[:n]


def nms(boxes, scores, iou_threshold):
    """Indices of the boxes greedy NMS keeps, highest score first; see reference.py."""
    check_arguments("nms", boxes, scores)
    order, coords, end = sorted_candidates(boxes, scores)
    return order[_kept_positions(coords, end, threshold_in(boxes.dtype, iou_threshold))]


def batched_nms(boxes, scores, idxs, iou_threshold):
    """nms within each category of idxs, merged highest score first; see reference.py."""
    check_arguments("batched_nms", boxes, scores, idxs)
    order, coords, end = sorted_candidates(boxes, scores, idxs)
    kept = _kept_positions(coords, end, threshold_in(boxes.dtype, iou_threshold))
    return merged(order[kept], scores)
