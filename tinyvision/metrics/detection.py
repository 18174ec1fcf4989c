"""A detector's outputs, scored the COCO way and the VOC way in one call.

Every detector of the zoo follows torchvision's convention: in eval mode it returns one dict
per image with ``boxes`` (K, 4) xyxy, ``scores`` (K,) and ``labels`` (K,) in 1..C (and
``masks`` for instance segmentation); targets are dicts with ``boxes`` and ``labels``.
``evaluate_detections`` turns both lists into COCO's ground-truth and detection records and
runs ``coco_evaluate`` (the figures pycocotools would print) and ``voc_evaluate`` (PASCAL
VOC's all-point mAP at IoU 0.5, the figure the lectures quote as "mAP@0.5").

    preds = [model(x)[0] for x in images]              # eval mode, one dict per image
    figures = evaluate_detections(preds, targets, num_classes=5, image_size=(128, 128))
    figures["mAP@0.5"], figures["AP"], figures["AP50"]
"""
import numpy as np

from ..data import rle
from ..data.coco import targets_to_coco
from .coco import coco_evaluate
from .voc import voc_evaluate

FN = "evaluate_detections"


def _numpy(x):
    return np.asarray(getattr(x, "data", x))


def _check_pairs(predictions, targets):
    if not isinstance(predictions, (list, tuple)) or not isinstance(targets, (list, tuple)):
        raise TypeError(f"{FN}: predictions and targets must be lists of dicts (one per image), "
                        f"got {type(predictions).__name__} and {type(targets).__name__}")
    if len(predictions) != len(targets):
        raise ValueError(f"{FN}: {len(predictions)} predictions for {len(targets)} targets; "
                         "give one dict per image in the same order")
    for name, items, keys in (("predictions", predictions, ("boxes", "scores", "labels")),
                              ("targets", targets, ("boxes", "labels"))):
        for k, item in enumerate(items):
            if not isinstance(item, dict) or any(key not in item for key in keys):
                raise ValueError(f"{FN}: {name}[{k}] must be a dict with {', '.join(keys)}, "
                                 f"got {item if not isinstance(item, dict) else sorted(item)!r}")


def evaluate_detections(predictions, targets, num_classes, image_size, iou_type="bbox",
                        class_names=None):
    """COCO summary figures plus VOC mAP@0.5 for per-image prediction and target dicts.

    Parameters
    ----------
    predictions, targets : lists of dicts, one per image, in the same order (see the module
        docstring); labels are 1..num_classes
    num_classes : int, C
    image_size : (H, W) of every image, or a list of one (H, W) per image
    iou_type : 'bbox' or 'segm' (then both sides need ``masks``: (K, H, W), predictions'
        as probabilities or 0/1, thresholded at 0.5)
    class_names : optional C names for the COCO categories

    Returns coco_evaluate's dict (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ...) with
    ``mAP@0.5`` (VOC, all-point) and ``ap_per_class`` (VOC AP of classes 1..C) added.
    """
    _check_pairs(predictions, targets)
    if iou_type not in ("bbox", "segm"):
        raise ValueError(f"{FN}: iou_type must be 'bbox' or 'segm', got {iou_type!r}")
    n = len(targets)
    sizes = list(image_size) if (len(image_size) == n and n and
                                 np.ndim(image_size[0]) == 1) else [tuple(image_size)] * n
    names = list(class_names) if class_names is not None else [str(c) for c in
                                                                 range(1, num_classes + 1)]
    segm = iou_type == "segm"
    gt = targets_to_coco(((tuple(int(v) for v in size), dict(t, image_id=k), f"{k:06d}")
                          for k, (size, t) in enumerate(zip(sizes, targets))),
                         names, segmentation=segm)
    detections = []
    for k, p in enumerate(predictions):
        boxes, scores, labels = (_numpy(p[key]) for key in ("boxes", "scores", "labels"))
        masks = _numpy(p["masks"]) if segm else None
        for j, (box, score, label) in enumerate(zip(boxes.reshape(-1, 4), scores.reshape(-1),
                                                    labels.reshape(-1))):
            x1, y1, x2, y2 = (float(v) for v in box)
            d = {"image_id": k, "category_id": int(label), "score": float(score),
                 "bbox": [x1, y1, x2 - x1, y2 - y1]}
            if segm:
                d["segmentation"] = rle.encode(np.asarray(masks[j]).reshape(sizes[k]) >= 0.5)
            detections.append(d)
    figures = coco_evaluate(gt, detections, iou_type=iou_type)
    voc = voc_evaluate([_numpy(p["boxes"]).reshape(-1, 4) for p in predictions],
                       [_numpy(p["labels"]).reshape(-1) for p in predictions],
                       [_numpy(p["scores"]).reshape(-1) for p in predictions],
                       [_numpy(t["boxes"]).reshape(-1, 4) for t in targets],
                       [_numpy(t["labels"]).reshape(-1) for t in targets])
    ap = np.asarray(voc["ap"], dtype=np.float64)
    figures["ap_per_class"] = np.concatenate([ap[1:num_classes + 1],
                                              np.full(max(0, num_classes + 1 - len(ap)), np.nan)])
    figures["mAP@0.5"] = float(voc["map"])
    return figures
