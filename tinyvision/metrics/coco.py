"""COCO detection and instance-segmentation evaluation: pycocotools' COCOeval, vectorised.

``coco_evaluate(coco_gt, detections, iou_type)`` returns the twelve figures of
``COCOeval.summarize()`` (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl),
equal to pycocotools' to rounding, with its -1 where a figure is undefined. The algorithm, as
cocoeval.py runs it (Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014):

  1. Per image and category, sort the detections by score (stable: ties keep their order in
     the list) and keep the first 100.
  2. IoU of every (detection, ground truth) of one image and category: boxes [x, y, w, h],
     or masks (run-length encoded, see ``runs.py``). For a crowd ground truth (iscrowd=1),
     the intersection is divided by the detection's area only, so one crowd region absorbs
     any number of detections.
  3. Greedy matching, for each of 10 IoU thresholds t = .50:.05:.95 and 4 area ranges
     (all, small < 32², medium 32²..96², large > 96², tested on the ground truth's 'area'
     field and on the detection's box area, or its mask's when detections come without
     boxes, as pycocotools' loadRes): in score order, each detection takes the
     unmatched ground truth of highest IoU >= t (ties: the later one in the file), preferring
     ground truths that count over "ignored" ones (crowd, or out of the area range). A
     detection matched to an ignored ground truth, or unmatched and out of the area range, is
     ignored: neither true nor false positive.
  4. Per category, area range and max detections per image m in (1, 10, 100): all images'
     first m detections merged by score, cumulative TP and FP, recall = TP / (ground truths
     that count), precision made non-increasing from the right (the envelope), then read at
     101 recall points r = 0:.01:1 (the precision at the first rank whose recall >= r, 0 if
     none): ``precision`` (T, R, K, A, M). ``recall`` (T, K, A, M) is the final recall.
     Both are -1 where a category has no ground truth that counts.
  5. AP = mean of precision over thresholds, recall points and categories (entries > -1);
     AR = mean of recall. AP50/AP75 take one threshold, APs/m/l one area range.

pycocotools does step 3 in Python loops over images × categories × areas × thresholds ×
detections × ground truths. Here the greedy matching runs once per detection *rank*: rank r of
every (image, category) takes its step at the same time, over all thresholds and area ranges
at once. Detections with no IoU >= .5 to any ground truth can match nothing and skip the
loop, so it is short and each step is a few array operations.

References: the COCO API (github.com/cocodataset/cocoapi, PythonAPI/pycocotools/cocoeval.py).
"""
import numpy as np

from .coco_input import read_detections, read_ground_truth
from .runs import _ragged_arange, iou_pairs

# COCOeval's Params, built the same way (np.linspace), so the thresholds are the same floats.
IOU_THRESHOLDS = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
MAX_DETS = (1, 10, 100)
AREA_RANGES = (("all", 0 ** 2, 1e5 ** 2), ("small", 0 ** 2, 32 ** 2),
               ("medium", 32 ** 2, 96 ** 2), ("large", 96 ** 2, 1e5 ** 2))

# The summary: (key, AP or AR, IoU threshold or None for all, area range, max detections)
SUMMARY = (("AP", "precision", None, "all", 100), ("AP50", "precision", .5, "all", 100),
           ("AP75", "precision", .75, "all", 100), ("APs", "precision", None, "small", 100),
           ("APm", "precision", None, "medium", 100), ("APl", "precision", None, "large", 100),
           ("AR1", "recall", None, "all", 1), ("AR10", "recall", None, "all", 10),
           ("AR100", "recall", None, "all", 100), ("ARs", "recall", None, "small", 100),
           ("ARm", "recall", None, "medium", 100), ("ARl", "recall", None, "large", 100))


def coco_evaluate(coco_gt, detections, iou_type="bbox"):
    """COCO AP and AR of ``detections`` against the ground truth ``coco_gt``, as pycocotools.

    Parameters
    ----------
    coco_gt : dict in COCO format: 'images' (with 'height' and 'width' for 'segm'),
        'categories', 'annotations' (each with 'id' >= 1, 'image_id', 'category_id', 'bbox'
        [x, y, w, h], 'area', optional 'iscrowd', and 'segmentation' for 'segm'); e.g. from
        ``tinyvision.data.coco.targets_to_coco``. Every image and category of it is evaluated,
        as COCOeval does by default.
    detections : list of dicts with 'image_id', 'category_id', 'score', 'bbox' [x, y, w, h]
        and, for 'segm', 'segmentation' (RLE, compressed or not, or polygons)
    iou_type : 'bbox' or 'segm'

    Returns
    -------
    dict with the float figures 'AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10',
    'AR100', 'ARs', 'ARm', 'ARl' (COCOeval.stats in that order; -1 where undefined), and
    'precision' (T, R, K, A, M), 'recall' (T, K, A, M) as COCOeval.eval, with
    'iou_thresholds' (T=10), 'recall_thresholds' (R=101), 'category_ids' (K, sorted),
    'area_ranges' (the A=4 names) and 'max_dets' (M=3) to read them (see ``pr_curves``).

    Unlike pycocotools, an empty list of detections is fine (every AP is 0), and a detection
    of a category not in coco_gt, which pycocotools drops silently, is an error.
    """
    if iou_type not in ("bbox", "segm"):
        raise ValueError(f"coco_evaluate: iou_type must be 'bbox' or 'segm', got {iou_type!r}")
    image_ids, category_ids, gt, sizes = read_ground_truth(coco_gt, iou_type)
    dt = read_detections(detections, image_ids, category_ids, iou_type, sizes)
    n_cats = len(category_ids)

    gt = gt.take(np.argsort(gt.image * n_cats + gt.category, kind="stable"))
    dt, rank = top_detections(dt, n_cats, MAX_DETS[-1])
    det, truth, iou = pair_ious(dt, gt, n_cats, iou_type)
    matched, hit_ignored = match(dt, gt, det, truth, iou, n_cats)
    precision, recall = accumulate(dt, rank, gt, matched, hit_ignored, n_cats)

    result = summarize(precision, recall)
    result.update(precision=precision, recall=recall, iou_thresholds=IOU_THRESHOLDS.copy(),
                  recall_thresholds=RECALL_THRESHOLDS.copy(), category_ids=category_ids,
                  area_ranges=[a[0] for a in AREA_RANGES], max_dets=list(MAX_DETS))
    return result


def out_of_range(area):
    """(N, A) bool: area outside each area range (the bounds belong to the range)."""
    lo = np.array([a[1] for a in AREA_RANGES])
    hi = np.array([a[2] for a in AREA_RANGES])
    return (area[:, None] < lo) | (area[:, None] > hi)


def top_detections(dt, n_cats, max_det):
    """Step 1: detections sorted by (image, category), then score, highest first (ties in
    list order); the first ``max_det`` of each kept. -> (detections, rank within each)."""
    group = dt.image * n_cats + dt.category
    order = np.lexsort((-dt.score, group))              # lexsort is stable
    group = group[order]
    first = np.searchsorted(group, group, side="left")
    rank = np.arange(len(group)) - first
    keep = order[rank < max_det]
    return dt.take(keep), rank[rank < max_det]


def pair_ious(dt, gt, n_cats, iou_type):
    """Step 2: every (detection, ground truth) of one image and category, with its IoU.

    Both are sorted by (image, category), so each detection's ground truths are one range of
    ``gt``. Returns (det, truth, iou) flat arrays, detection-major, truths in file order."""
    dt_group = dt.image * n_cats + dt.category
    gt_group = gt.image * n_cats + gt.category
    lo = np.searchsorted(gt_group, dt_group, side="left")
    n = np.searchsorted(gt_group, dt_group, side="right") - lo
    det = np.repeat(np.arange(len(dt)), n)
    truth = _ragged_arange(lo, n)                   # lo[d], lo[d] + 1, ... for each d
    crowd = gt.crowd[truth]
    if iou_type == "bbox":
        return det, truth, box_iou_xywh(dt.bbox[det], gt.bbox[truth], crowd)
    # masks: only pairs whose bounding boxes overlap can share a pixel
    dbox, gbox = dt.masks.bbox(), gt.masks.bbox()
    near = np.flatnonzero(box_iou_xywh(dbox[det], gbox[truth], crowd) > 0)
    iou = np.zeros(len(det))
    iou[near] = iou_pairs(dt.masks, det[near], gt.masks, truth[near], crowd[near])
    return det, truth, iou


def box_iou_xywh(d, g, crowd):
    """IoU of box rows d[k], g[k] ([x, y, w, h]); for crowd[k], intersection over d's area.

    The same float operations in the same order as pycocotools' ``bbIou``, so a pair right on
    an IoU threshold falls on the same side."""
    w = np.minimum(d[:, 2] + d[:, 0], g[:, 2] + g[:, 0]) - np.maximum(d[:, 0], g[:, 0])
    h = np.minimum(d[:, 3] + d[:, 1], g[:, 3] + g[:, 1]) - np.maximum(d[:, 1], g[:, 1])
    inter = w * h
    area_d, area_g = d[:, 2] * d[:, 3], g[:, 2] * g[:, 3]
    union = np.where(crowd, area_d, area_d + area_g - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((w > 0) & (h > 0), inter / union, 0.0)


def match(dt, gt, det, truth, iou, n_cats):
    """Step 3: COCOeval's greedy matching for all thresholds and area ranges at once.

    Returns (matched, hit_ignored), both (D, T, A) bool: detection d matched at threshold t
    in area range a, and whether the ground truth it matched is ignored there.

    Only pairs with IoU >= .5 (the lowest threshold) can match. Their detections are
    processed by their rank among such detections of their (image, category): at step r, the
    r-th of every (image, category) at once, as those never compete for a ground truth. Within
    a step, pairs are ordered by (detection, IoU, ground truth), so the best choice for a
    detection is its *last* pair that is allowed: a key (2 for a ground truth that counts, 1
    for an ignored one, 0 if taken or below t) * C + position, maximised per detection.
    """
    T, A = len(IOU_THRESHOLDS), len(AREA_RANGES)
    matched = np.zeros((len(dt), T, A), bool)
    hit_ignored = np.zeros((len(dt), T, A), bool)
    keep = iou >= IOU_THRESHOLDS[0]
    det, truth, iou = det[keep], truth[keep], iou[keep]
    if len(det) == 0:
        return matched, hit_ignored
    gt_weight = 2 - (gt.crowd[:, None] | out_of_range(gt.area))          # (G, A): 2 or 1
    # step of each candidate detection: its rank among candidates of its (image, category)
    cand = np.unique(det)                       # sorted: by (image, category), then score
    group = (dt.image * n_cats + dt.category)[cand]
    step_of = np.zeros(len(dt), np.int64)
    step_of[cand] = np.arange(len(cand)) - np.searchsorted(group, group, side="left")
    order = np.lexsort((truth, iou, det, step_of[det]))
    det, truth, iou = det[order], truth[order], iou[order]
    steps = step_of[det]
    bounds = np.searchsorted(steps, np.arange(steps[-1] + 2), side="left")
    taken = np.zeros((len(gt), T, A), bool)     # ground truth matched (crowds stay free)
    for r in range(steps[-1] + 1):
        s = slice(bounds[r], bounds[r + 1])
        d, g, v = det[s], truth[s], iou[s]                                  # C pairs
        above = (v[:, None] >= IOU_THRESHOLDS)[:, :, None]                  # (C, T, 1)
        free = ~taken[g] | gt.crowd[g][:, None, None]                       # (C, T, A)
        allowed = above & free
        size = len(d)
        key = allowed * gt_weight[g][:, None, :] * size + np.arange(size)[:, None, None]
        first = np.flatnonzero(np.concatenate([[True], d[1:] != d[:-1]]))
        best = np.maximum.reduceat(key, first, axis=0)                      # (n, T, A)
        won = best >= size
        pick = best % size                                                  # pair index
        dets = d[first]
        matched[dets] = won
        hit_ignored[dets] = won & (best < 2 * size)
        k, t, a = np.nonzero(won)
        taken[g[pick[k, t, a]], t, a] = True
    return matched, hit_ignored


def accumulate(dt, rank, gt, matched, hit_ignored, n_cats):
    """Step 4: precision (T, R, K, A, M) and recall (T, K, A, M), -1 where undefined."""
    T, R, A, M = len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS), len(AREA_RANGES), len(MAX_DETS)
    precision = -np.ones((T, R, n_cats, A, M))
    recall = -np.ones((T, n_cats, A, M))
    counts = ~(gt.crowd[:, None] | out_of_range(gt.area))                 # (G, A)
    n_pos = np.stack([np.bincount(gt.category, counts[:, a], minlength=n_cats)
                      for a in range(A)], axis=1).astype(np.int64)         # (K, A)
    tp = matched & ~hit_ignored                                            # (D, T, A)
    fp = ~matched & ~out_of_range(dt.area)[:, None, :]
    # all images' detections of a category, by score (ties: image order, then rank)
    order = np.lexsort((rank, dt.image, -dt.score, dt.category))
    bounds = np.searchsorted(dt.category[order], np.arange(n_cats + 1), side="left")
    for k in range(n_cats):
        if not n_pos[k].any():
            continue
        mine = order[bounds[k]:bounds[k + 1]]
        for m, max_det in enumerate(MAX_DETS):
            sel = mine[rank[mine] < max_det]
            p, r = precision_recall(tp[sel], fp[sel], n_pos[k])
            ok = n_pos[k] > 0
            precision[:, :, k, ok, m] = p[:, :, ok]
            recall[:, k, ok, m] = r[:, ok]
    return precision, recall


def precision_recall(tp, fp, n_pos):
    """One category and max-detections setting, detections in score order.

    tp, fp : (N, T, A) bool; n_pos : (A,) ground truths that count.
    Returns precision (T, R, A) at the recall thresholds and final recall (T, A)."""
    n, T, A = tp.shape
    R = len(RECALL_THRESHOLDS)
    npig = np.maximum(n_pos, 1).astype(np.float64)
    tps = np.cumsum(tp, axis=0).astype(np.float64)                    # (N, T, A)
    fps = np.cumsum(fp, axis=0).astype(np.float64)
    if n == 0:
        return np.zeros((T, R, A)), np.zeros((T, A))
    final_recall = tps[-1] / npig
    prec = tps / (fps + tps + np.spacing(1))
    prec = np.maximum.accumulate(prec[::-1], axis=0)[::-1]           # the envelope
    # The first rank with recall tps / n_pos >= r is the first with tps >= j_r, the least
    # count j with j / n_pos >= r (the same float division): one integer search per (t, a).
    j = np.stack([np.searchsorted(np.arange(c + 1) / c, RECALL_THRESHOLDS, side="left")
                  for c in np.maximum(n_pos, 1)], axis=1)             # (R, A)
    offset = (np.arange(T)[:, None] * A + np.arange(A)) * (n + 1)     # (T, A)
    flat = (tps.transpose(1, 2, 0) + offset[..., None]).ravel()      # sorted: (t, a, rank)
    first = np.searchsorted(flat, (j.T[None] + offset[..., None]).ravel(), side="left")
    first = first.reshape(T, A, R) - np.arange(T * A).reshape(T, A, 1) * n
    q = np.where(first < n, np.take_along_axis(prec.transpose(1, 2, 0),
                                               np.minimum(first, n - 1), axis=2), 0.0)
    return q.transpose(0, 2, 1), final_recall


def summarize(precision, recall):
    """Step 5: COCOeval.summarize()'s twelve figures from precision and recall."""
    names = [a[0] for a in AREA_RANGES]
    out = {}
    for key, which, thr, area, max_det in SUMMARY:
        s = precision if which == "precision" else recall
        if thr is not None:
            s = s[np.where(thr == IOU_THRESHOLDS)[0]]
        a, m = names.index(area), MAX_DETS.index(max_det)
        s = s[..., a, m]
        valid = s[s > -1]
        out[key] = float(np.mean(valid)) if valid.size else -1.0
    return out
