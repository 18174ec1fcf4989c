"""Non-maximum suppression in plain NumPy: the readable version and the oracle for the others.

The contract, shared by every implementation in this folder (same names, same arguments):

``nms(boxes, scores, iou_threshold) -> keep``
    boxes         : (N, 4) float32 or float64, C-contiguous, (x1, y1, x2, y2) in pixels
    scores        : (N,) float32 or float64 (only compared, so its dtype may differ)
    iou_threshold : a Python float
    keep          : (K,) int64, the indices of the boxes kept, highest score first

    Greedy, as torchvision.ops.nms: visit the boxes by decreasing score (a *stable* sort, so
    of two equal scores the lower index comes first); keep the first box not yet
    suppressed, and suppress every later box whose IoU with it is > iou_threshold
    (strictly: IoU == threshold survives).  IoU is computed in the boxes' dtype exactly as
    torchvision writes it, and compared with the threshold as a double::

        area  = (x2 - x1) * (y2 - y1)                       no "+1": boxes are continuous
        w     = max(0, min(x2_i, x2_j) - max(x1_i, x1_j))   h alike with y
        inter = w * h
        iou   = inter / (area_i + area_j - inter)           0/0 = NaN for two empty boxes:
                                                            NaN > t is false, both survive

``batched_nms(boxes, scores, idxs, iou_threshold) -> keep``
    idxs : (N,) int64, a category per box.  Boxes of different categories never suppress
    each other: nms within each category, the kept boxes then merged highest score first
    (ties: lower index first).  torchvision gets the same by shifting each category's boxes
    by an offset so categories cannot overlap; the implementations here never mix
    categories at all, so no offset can round a coordinate (see candidates.py).

``clustered_boxes(n, rng)`` draws the test and benchmark input: boxes in clusters, as a
detector's raw output around each object.

References: Neubeck & Van Gool, "Efficient Non-Maximum Suppression", ICPR 2006;
torchvision/csrc/ops/cpu/nms_kernel.cpp (the semantics above).
"""
import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def check_arguments(fn, boxes, scores, idxs=None):
    """Check the contract's shapes and dtypes (the public ops check values too)."""
    if boxes.ndim != 2 or boxes.shape[1] != 4 or boxes.dtype not in FLOAT_DTYPES:
        raise ValueError(f"{fn}: boxes must be (N, 4) float32 or float64, got shape "
                         f"{tuple(boxes.shape)}, dtype {boxes.dtype}")
    for name, a, kinds in (("scores", scores, FLOAT_DTYPES), ("idxs", idxs, (np.int64,))):
        if a is not None and (a.shape != boxes.shape[:1] or a.dtype not in kinds):
            raise ValueError(f"{fn}: {name} must be ({boxes.shape[0]},) "
                             f"{' or '.join(np.dtype(k).name for k in kinds)} (one per box), "
                             f"got shape {tuple(a.shape)}, dtype {a.dtype}")


def descending(scores):
    """Indices that sort scores high to low; equal scores keep their index order (stable)."""
    return np.argsort(-scores, kind="stable")


def iou_one_to_many(boxes, i, others):
    """IoU of box i with each box in ``others`` (indices), in the boxes' dtype."""
    x1, y1, x2, y2 = boxes.T
    area = (x2 - x1) * (y2 - y1)
    w = np.maximum(0, np.minimum(x2[i], x2[others]) - np.maximum(x1[i], x1[others]))
    h = np.maximum(0, np.minimum(y2[i], y2[others]) - np.maximum(y1[i], y1[others]))
    inter = w * h
    with np.errstate(divide="ignore", invalid="ignore"):  # two empty boxes: 0/0 = NaN
        return inter / (area[i] + area[others] - inter)


def nms(boxes, scores, iou_threshold):
    """Indices of the boxes greedy NMS keeps, highest score first; see the module docstring."""
    check_arguments("nms", boxes, scores)
    candidates = descending(scores)  # still in the running, best first
    keep = []
    while candidates.size:
        best, rest = candidates[0], candidates[1:]
        keep.append(best)
        iou = iou_one_to_many(boxes, best, rest)
        # NOTE: torchvision compares the IoU (float) with a double threshold; NumPy would
        # compare a float32 IoU in float32, rounding the threshold first, unless told.
        candidates = rest[~(iou > np.float64(iou_threshold))]  # NaN: not suppressed
    return np.array(keep, np.int64)


def batched_nms(boxes, scores, idxs, iou_threshold):
    """nms within each category of idxs, merged highest score first (ties: lower index)."""
    check_arguments("batched_nms", boxes, scores, idxs)
    keep = [np.zeros(0, np.int64)]
    for category in np.unique(idxs):
        members = np.flatnonzero(idxs == category)
        keep.append(members[nms(boxes[members], scores[members], iou_threshold)])
    keep = np.sort(np.concatenate(keep))
    return keep[descending(scores[keep])]


def clustered_boxes(n, rng, dtype=np.float32, image_size=1000.0, per_cluster=10):
    """(boxes (n, 4) xyxy, scores (n,)): a detector's raw output around n/per_cluster objects.

    Each object is a box of side 20..120 px somewhere in the image; each of its detections
    moves every edge by up to 30% of the object's size (so widths stay positive), and
    neighbours overlap with IoUs spread around 0.5.  Greedy NMS at IoU 0.5 keeps about
    30% of them (2,951 of 10,000 for seed 0), the case the benchmark and issue 5 measure.
    Scores are uniform in (0, 1).
    """
    objects = -(-n // per_cluster)
    size = rng.uniform(20, 120, (objects, 2))
    corner = rng.uniform(0, image_size - 120, (objects, 2))
    owner = rng.integers(0, objects, n)
    jitter = rng.uniform(-0.3, 0.3, (n, 4)) * np.tile(size[owner], 2)
    boxes = np.concatenate([corner[owner], corner[owner] + size[owner]], axis=1) + jitter
    scores = rng.uniform(0, 1, n)
    return boxes.astype(dtype), scores.astype(dtype)
