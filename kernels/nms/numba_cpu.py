"""Non-maximum suppression with Numba, compiled on first call (one version per dtype, cached).

The contract is in reference.py, the sorting and layout in candidates.py.  The sweep is
nms.pyx's, line for line (see its docstring): each candidate still standing is kept and
marks every later candidate of its run it overlaps; the inner loop computes every IoU
without a branch, so LLVM vectorises it for this very CPU (16 floats a step with AVX-512;
it narrows the comparisons to the byte flags, which gcc's SSE2 code cannot for doubles).
Serial: the sweep is sequential, and one inner loop is too short to share out.
"""
import numpy as np
from numba import njit

from .candidates import merged, sorted_candidates, threshold_in
from .reference import check_arguments


@njit(cache=True, error_model="numpy")  # 0/0 is NaN, not ZeroDivisionError
def _sweep(coords, end, t, removed, kept):
    """Greedy sweep over sorted candidates; writes the kept positions, returns their count."""
    x1, y1, x2, y2, area = coords[0], coords[1], coords[2], coords[3], coords[4]
    zero = coords.dtype.type(0)
    n_kept = 0
    for i in range(x1.size):
        if removed[i]:
            continue
        kept[n_kept] = i
        n_kept += 1
        ix1, iy1, ix2, iy2, iarea = x1[i], y1[i], x2[i], y2[i], area[i]
        # NOTE: the inner loop runs over slices from 0, not over j from i+1: with a start
        # LLVM cannot prove non-negative, every x1[j] carries NumPy's negative-index
        # wrap-around, and the loop stayed scalar (5-10x slower).
        a, b = i + 1, end[i]
        jx1, jy1, jx2, jy2, jarea = x1[a:b], y1[a:b], x2[a:b], y2[a:b], area[a:b]
        jremoved = removed[a:b]
        for k in range(b - a):  # candidate j = i + 1 + k
            w = min(ix2, jx2[k]) - max(ix1, jx1[k])
            h = min(iy2, jy2[k]) - max(iy1, jy1[k])
            w = w if w > zero else zero
            h = h if h > zero else zero
            inter = w * h
            jremoved[k] |= inter / (iarea + jarea[k] - inter) > t  # 0/0 = NaN: not removed
    return n_kept


def _kept_positions(coords, end, t):
    """Positions in the sorted order of the candidates the sweep keeps."""
    N = coords.shape[1]
    removed, kept = np.zeros(N, np.uint8), np.empty(N, np.int64)
    n = _sweep(coords, end, coords.dtype.type(t), removed, kept)
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
