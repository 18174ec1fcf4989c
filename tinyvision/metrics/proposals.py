"""How well class-agnostic object proposals cover the objects: recall against their number.

A proposal method (selective search, an RPN) returns a ranked list of boxes per image, and
a detector looks only at the first n of them; an object it never gets a box for is lost.
[Hosang] measure this as the recall at IoU >= 0.5 as n grows; [Uijlings] as the (mean)
average best overlap, the mean over objects of the best IoU among the proposals:

    recall@t(n) = #{ground-truth boxes g : max_{k < n} IoU(p_k, g) >= t} / #{ground-truth boxes}

References
----------
[Hosang] J. Hosang, R. Benenson, P. Dollar and B. Schiele, "What makes for effective
    detection proposals?", TPAMI 2016.
[Uijlings] J. R. R. Uijlings et al., "Selective Search for Object Recognition", IJCV 2013.
"""
import numbers

import numpy as np

from ..ops import box_iou


def proposal_recall(proposals, gt_boxes, counts=(10, 50, 100, 300, 1000), iou_threshold=0.5):
    """Recall of object proposals against the number of proposals kept per image.

    A ground-truth box is found by the first n proposals of its image when one of them
    overlaps it with IoU >= iou_threshold; recall = found boxes / all boxes, over all images.

    Parameters
    ----------
    proposals : list (one per image) of (K_i, 4) xyxy boxes, best first (arrays or Tensors)
    gt_boxes : list (one per image) of (M_i, 4) xyxy boxes
    counts : the numbers n of proposals to keep per image (ints >= 0)
    iou_threshold : float

    Returns
    -------
    dict {n: recall} (floats; 0.0 when there are no ground-truth boxes at all)
    """
    fn = "proposal_recall"
    if len(proposals) != len(gt_boxes):
        raise ValueError(f"{fn}: proposals and gt_boxes must have one entry per image, got "
                         f"{len(proposals)} and {len(gt_boxes)}")
    for n in counts:
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 0:
            raise ValueError(f"{fn}: counts must hold ints >= 0, got {n!r}")
    found, total = np.zeros(len(counts)), 0
    for boxes, gt in zip(proposals, gt_boxes):
        iou = box_iou(boxes, gt).numpy()                       # (K, M)
        total += iou.shape[1]
        if iou.size == 0:
            continue
        # first[m]: the rank of the first proposal that finds box m (K when none does)
        hits = iou >= iou_threshold
        first = np.where(hits.any(axis=0), hits.argmax(axis=0), iou.shape[0])
        found += [(first < n).sum() for n in counts]
    return {int(n): float(f / total) if total else 0.0 for n, f in zip(counts, found)}
