"""PASCAL VOC detection evaluation: average precision per class at one IoU threshold.

Everingham et al., "The PASCAL Visual Object Classes (VOC) Challenge", IJCV 2010, Sec. 4.2.
For each class, all images' detections are ranked by score; going down the ranking, a
detection is a true positive when its best-overlapping ground truth (highest IoU, of its
class, in its image) has IoU >= ``iou_thresh`` and was not claimed by a higher-scoring
detection; a second detection of the same object is a false positive. Ground truths marked
*difficult* neither count as objects to find nor penalise a detection that finds them.

    precision_k = TP_k / k,   recall_k = TP_k / (non-difficult ground truths)

and AP summarises the precision–recall curve (``voc_ap``):

    VOC2007 (11-point): AP = 1/11 Σ_{r ∈ {0, .1, ..., 1}} max_{recall_k >= r} precision_k
    VOC2010+ (all points): AP = Σ (r_{i+1} − r_i) p_interp(r_{i+1}), the area under the
        precision envelope p_interp(r) = max_{r' >= r} p(r') ("Δrecall × precision").

Conventions (the same as ChainerCV's ``eval_detection_voc``, the reference here):
- Boxes are tinyvision's (x1, y1, x2, y2) with x2 one past the last pixel, so the IoU has no
  "+1". ``tinyvision.data.voc`` reads VOC's inclusive 1-based corners as x1 = xmin − 1,
  x2 = xmax, so this IoU equals the devkit's "+1" IoU on the XML's numbers.
- A detection matches when IoU >= iou_thresh (the devkit's ``ovmax >= minoverlap``).
- ``ap[l]`` is NaN for a label with no non-difficult ground truth (there is nothing to find,
  whatever was predicted) and for labels never seen; ``map`` is the mean over the others.
- Ties in score keep the input order (image by image, then detection by detection); ChainerCV
  leaves them to an unstable sort.
"""
import numpy as np

from ..tensor import Tensor


def voc_ap(recall, precision, use_07_metric=False):
    """Average precision of one precision–recall curve.

    Parameters
    ----------
    recall, precision : (N,) the curve, one point per detection in decreasing score order
        (recall non-decreasing). NaN precision (0 / 0, where only difficult objects were hit
        so far) counts as 0.
    use_07_metric : True for VOC2007's 11-point interpolation, False for the all-point area

    Returns
    -------
    float in [0, 1]
    """
    rec = _vector(recall, "voc_ap", "recall")
    prec = _vector(precision, "voc_ap", "precision")
    if rec.shape != prec.shape:
        raise ValueError(f"voc_ap: recall and precision must have the same length, got "
                         f"{rec.shape} and {prec.shape}")
    prec = np.nan_to_num(prec, nan=0.0)
    if use_07_metric:
        ap = 0.0
        # NOTE: the thresholds are np.arange(0, 1.1, 0.1), as in the Python VOC tools
        # (py-faster-rcnn, ChainerCV), so the 4th is 0.30000000000000004: a recall of
        # exactly 3/10 does not reach it.
        for t in np.arange(0.0, 1.1, 0.1):
            above = rec >= t
            ap += (prec[above].max() if above.any() else 0.0) / 11
        return float(ap)
    mrec = np.concatenate([[0.0], rec, [1.0]])      # sentinels at both ends
    mpre = np.concatenate([[0.0], prec, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]  # envelope: max precision to the right
    step = np.flatnonzero(mrec[1:] != mrec[:-1])    # where recall moves
    return float(np.sum((mrec[step + 1] - mrec[step]) * mpre[step + 1]))


def voc_evaluate(pred_boxes, pred_labels, pred_scores, gt_boxes, gt_labels, gt_difficults=None,
                 iou_thresh=0.5, use_07_metric=False):
    """PASCAL VOC AP of each class and their mean.

    Parameters
    ----------
    pred_boxes : list over images of (K_i, 4) xyxy boxes
    pred_labels : list of (K_i,) int labels
    pred_scores : list of (K_i,) scores
    gt_boxes : list of (M_i, 4) xyxy boxes
    gt_labels : list of (M_i,) int labels
    gt_difficults : optional list of (M_i,) bool flags (None: no difficult objects)
    iou_thresh : IoU needed for a match (0.5 in VOC)
    use_07_metric : VOC2007's 11-point AP instead of the all-point area (see ``voc_ap``)

    Returns
    -------
    dict with
        "ap" : (L,) float64, AP of each label 0 .. L-1 (L = the largest label seen + 1; NaN
            where a label has no non-difficult ground truth: label 0, the background, in
            tinyvision's detection convention)
        "map" : float, the mean of the non-NaN entries (NaN if there are none)
        "precision", "recall" : lists of L arrays (None where "ap" is NaN): the curve of each
            label over its detections in decreasing score order, as ``voc_ap`` takes it
    """
    fn = "voc_evaluate"
    n = _same_length(fn, pred_boxes=pred_boxes, pred_labels=pred_labels,
                     pred_scores=pred_scores, gt_boxes=gt_boxes, gt_labels=gt_labels,
                     gt_difficults=gt_difficults)
    if not (isinstance(iou_thresh, (int, float)) and 0 <= iou_thresh <= 1):
        raise ValueError(f"{fn}: iou_thresh must be a number in [0, 1], got {iou_thresh!r}")
    scores, matches, labels, n_pos = [], [], [], {}
    for i in range(n):
        pb, pl, ps = _detections(fn, i, pred_boxes[i], pred_labels[i], pred_scores[i])
        gb, gl, gd = _truths(fn, i, gt_boxes[i], gt_labels[i],
                             None if gt_difficults is None else gt_difficults[i])
        for label in np.unique(np.concatenate([pl, gl])):
            mine, truth = pl == label, gl == label
            n_pos[label] = n_pos.get(label, 0) + int((~gd[truth]).sum())
            order = np.argsort(-ps[mine], kind="stable")
            scores.append(ps[mine][order])
            matches.append(match_image(pb[mine][order], gb[truth], gd[truth], iou_thresh))
            labels.append(np.full(len(order), label))
    n_labels = int(max(n_pos)) + 1 if n_pos else 0
    score = np.concatenate(scores) if scores else np.zeros(0)
    match = np.concatenate(matches) if matches else np.zeros(0, np.int64)
    label = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    ap = np.full(n_labels, np.nan)
    precision, recall = [None] * n_labels, [None] * n_labels
    for l in range(n_labels):
        if n_pos.get(l, 0) == 0:
            continue
        mine = label == l
        order = np.argsort(-score[mine], kind="stable")      # all images, by score
        m = match[mine][order]
        tp, fp = np.cumsum(m == 1), np.cumsum(m == 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            precision[l] = tp / (tp + fp)                    # NaN while only difficult hits
        recall[l] = tp / n_pos[l]
        ap[l] = voc_ap(recall[l], precision[l], use_07_metric)
    valid = ap[~np.isnan(ap)]
    return {"ap": ap, "map": float(valid.mean()) if valid.size else float("nan"),
            "precision": precision, "recall": recall}


def match_image(pred, gt, difficult, iou_thresh):
    """1 (TP), 0 (FP) or -1 (hit a difficult object: ignored) for each detection of one
    class in one image, ``pred`` in decreasing score order. Each detection looks at its
    highest-IoU ground truth (the first such on ties); if that one is taken, it is a
    duplicate (FP), even when another ground truth above the threshold is free."""
    out = np.zeros(len(pred), np.int64)
    if len(pred) == 0 or len(gt) == 0:
        return out
    iou = box_iou(pred, gt)
    best = iou.argmax(axis=1)
    hit = iou[np.arange(len(pred)), best] >= iou_thresh
    taken = np.zeros(len(gt), bool)
    for k in np.flatnonzero(hit):                    # in score order
        g = best[k]
        out[k] = -1 if difficult[g] else (0 if taken[g] else 1)
        taken[g] = True
    return out


def box_iou(a, b):
    """(N, M) IoU of xyxy boxes (no +1: x2 is one past the last pixel); 0 for empty unions."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


# ---- input checks ------------------------------------------------------------------------
def _array(x):
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def _vector(x, fn, name):
    a = _array(x)
    if a.ndim != 1 or a.dtype.kind not in "iufb":
        raise ValueError(f"{fn}: {name} must be a 1-D array of numbers, got shape {a.shape} "
                         f"dtype {a.dtype}")
    return a.astype(np.float64)


def _same_length(fn, **lists):
    n = None
    for name, value in lists.items():
        if value is None:
            continue
        if isinstance(value, (np.ndarray, Tensor)) or not hasattr(value, "__len__"):
            raise TypeError(f"{fn}: {name} must be a list with one array per image, got "
                            f"{type(value).__name__}")
        if n is None:
            n = len(value)
        elif len(value) != n:
            raise ValueError(f"{fn}: every argument needs one entry per image; pred_boxes has "
                             f"{n}, {name} has {len(value)}")
    return n


def _boxes(fn, name, i, boxes):
    b = _array(boxes).astype(np.float64)
    if b.size == 0:
        b = b.reshape(0, 4)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"{fn}: {name}[{i}] must be (K, 4) xyxy boxes, got shape {b.shape}")
    if not np.isfinite(b).all():
        raise ValueError(f"{fn}: {name}[{i}] holds NaN or inf")
    bad = np.flatnonzero((b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1]))
    if bad.size:
        raise ValueError(f"{fn}: {name}[{i}] box {bad[0]} is {b[bad[0]].tolist()}, with x2 < x1 "
                         f"or y2 < y1; boxes must be (x1, y1, x2, y2), not (x, y, w, h)")
    return b


def _per_box(fn, name, i, values, k, kind):
    a = _array(values)
    if a.size == 0 and k == 0:
        a = a.reshape(0)
    if a.shape != (k,):
        raise ValueError(f"{fn}: {name}[{i}] must have one entry per box ({k}), got shape "
                         f"{a.shape}")
    if kind == "label":
        if a.dtype.kind not in "iu" or (a < 0).any():
            raise ValueError(f"{fn}: {name}[{i}] must hold integer labels >= 0, got "
                             f"{a.dtype} {a[:5].tolist()}")
        return a.astype(np.int64)
    if kind == "score":
        if a.dtype.kind not in "iuf" or not np.isfinite(a).all():
            raise ValueError(f"{fn}: {name}[{i}] must hold finite numbers (no NaN scores)")
        return a.astype(np.float64)
    return a.astype(bool)


def _detections(fn, i, boxes, labels, scores):
    b = _boxes(fn, "pred_boxes", i, boxes)
    return (b, _per_box(fn, "pred_labels", i, labels, len(b), "label"),
            _per_box(fn, "pred_scores", i, scores, len(b), "score"))


def _truths(fn, i, boxes, labels, difficult):
    b = _boxes(fn, "gt_boxes", i, boxes)
    d = (np.zeros(len(b), bool) if difficult is None
         else _per_box(fn, "gt_difficults", i, difficult, len(b), "flag"))
    return b, _per_box(fn, "gt_labels", i, labels, len(b), "label"), d
