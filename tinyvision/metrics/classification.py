"""Classification accuracy (top-k) and semantic-segmentation mean IoU.

    top-k accuracy = (1/N) Σ_n [target_n ∈ the k highest-scoring classes of sample n]
    IoU_c = TP_c / (TP_c + FP_c + FN_c) over all pixels,   mIoU = mean of IoU_c over the
            classes present in the prediction or the target (the others are NaN)

as the ImageNet example's ``accuracy(output, target, topk=(1, 5))`` and FCN's (Long et al.,
"Fully Convolutional Networks for Semantic Segmentation", CVPR 2015, Sec. 5) mean IU, which
sums TP, FP and FN over the whole data set before dividing.
"""
import numpy as np

from ..tensor import Tensor


def _array(x):
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def accuracy(output, target, topk=1):
    """Fraction of samples whose target is among the top-k predictions.

    Parameters
    ----------
    output : (N, C) scores or logits, or (N,) predicted labels (then topk must be 1)
    target : (N,) int class labels
    topk : int, or a tuple of ints for several at once

    Returns
    -------
    float (a tuple of floats when ``topk`` is a tuple). Ties among scores go to the lower
    class index, as ``argmax``.
    """
    fn = "accuracy"
    out, tgt = _array(output), _array(target)
    if tgt.ndim != 1 or tgt.dtype.kind not in "iu":
        raise ValueError(f"{fn}: target must be (N,) integer labels, got shape {tgt.shape} "
                         f"dtype {tgt.dtype}")
    ks = topk if isinstance(topk, tuple) else (topk,)
    if out.ndim not in (1, 2) or len(out) != len(tgt):
        raise ValueError(f"{fn}: output must be (N, C) scores or (N,) labels with N = "
                         f"{len(tgt)} as target, got shape {out.shape}")
    n_classes = out.shape[1] if out.ndim == 2 else None
    for k in ks:
        if not (isinstance(k, (int, np.integer)) and k >= 1) or (
                n_classes is not None and k > n_classes) or (out.ndim == 1 and k != 1):
            raise ValueError(f"{fn}: topk must be ints in 1..C ({n_classes or 1} here), got "
                             f"{topk!r}")
    if len(tgt) == 0:
        raise ValueError(f"{fn}: output and target are empty")
    if out.ndim == 1:
        hits = [(out == tgt).mean()]
    else:
        ranked = np.argsort(-out, axis=1, kind="stable")       # best class first
        hits = [(ranked[:, :k] == tgt[:, None]).any(axis=1).mean() for k in ks]
    hits = tuple(float(h) for h in hits)
    return hits if isinstance(topk, tuple) else hits[0]


def confusion_matrix(pred, target, num_classes, ignore_index=None):
    """(C, C) int64 pixel (or sample) counts: row = target class, column = predicted class.

    Arguments as ``mean_iou``; IoU_c = C[c, c] / (row c + column c − C[c, c])."""
    return _confusion(pred, target, num_classes, ignore_index, "confusion_matrix")


def mean_iou(pred, target, num_classes, ignore_index=None):
    """Mean intersection over union of label maps (semantic segmentation).

    Parameters
    ----------
    pred : (N, H, W) or (H, W) predicted labels, or (N, C, H, W) scores (argmax over C)
    target : (N, H, W) or (H, W) true labels, as pred
    num_classes : C; labels are 0 .. C-1
    ignore_index : optional target label whose pixels are left out (e.g. 255, VOC's border)

    Returns
    -------
    float: the mean over classes present in pred or target of TP / (TP + FP + FN), pixels
    summed over the whole batch first (NaN if no pixel is counted).
    """
    conf = _confusion(pred, target, num_classes, ignore_index, "mean_iou")
    tp = np.diag(conf).astype(np.float64)
    union = conf.sum(axis=0) + conf.sum(axis=1) - tp
    present = union > 0
    return float((tp[present] / union[present]).mean()) if present.any() else float("nan")


def _confusion(pred, target, num_classes, ignore_index, fn):
    p, t = _label_maps(pred, target, num_classes, ignore_index, fn)
    return np.bincount(t * num_classes + p, minlength=num_classes ** 2).reshape(
        num_classes, num_classes)


def _label_maps(pred, target, num_classes, ignore_index, fn):
    """Flat int64 (pred, target) of the counted pixels, checked."""
    if not (isinstance(num_classes, (int, np.integer)) and num_classes >= 1):
        raise ValueError(f"{fn}: num_classes must be a positive int, got {num_classes!r}")
    p, t = _array(pred), _array(target)
    if t.dtype.kind not in "iu":
        raise ValueError(f"{fn}: target must hold integer labels, got dtype {t.dtype}")
    if p.dtype.kind == "f" and p.ndim == t.ndim + 1:
        if p.shape[1] != num_classes:
            raise ValueError(f"{fn}: pred scores must have num_classes = {num_classes} "
                             f"channels on dim 1, got shape {p.shape}")
        p = p.argmax(axis=1)
    if p.dtype.kind not in "iu" or p.shape != t.shape:
        raise ValueError(f"{fn}: pred must be integer labels of target's shape {t.shape} (or "
                         f"(N, C, H, W) scores), got shape {p.shape} dtype {p.dtype}")
    p, t = p.reshape(-1).astype(np.int64), t.reshape(-1).astype(np.int64)
    if ignore_index is not None:
        keep = t != ignore_index
        p, t = p[keep], t[keep]
    for name, a in (("target", t), ("pred", p)):
        bad = (a < 0) | (a >= num_classes)
        if bad.any():
            raise ValueError(f"{fn}: {name} holds label {a[bad][0]}, outside 0..{num_classes - 1}"
                             + ("" if name == "pred" or ignore_index is not None else
                                " (pass ignore_index for a 'void' label)"))
    return p, t
