"""evaluate_detections: torchvision-style per-image dicts in, COCO and VOC figures out."""
import numpy as np
import pytest

from tinyvision import tensor
from tinyvision.data import ShapesScenes
from tinyvision.metrics import coco_evaluate, evaluate_detections


def _scenes(n=6):
    ds = ShapesScenes("val", n=n, image_size=64)
    return [ds[i][1] for i in range(n)]


def test_perfect_predictions_score_one_both_ways():
    targets = _scenes()
    preds = [dict(boxes=t["boxes"], labels=t["labels"], scores=np.ones(len(t["labels"])))
             for t in targets]
    f = evaluate_detections(preds, targets, num_classes=5, image_size=(64, 64))
    assert f["AP"] == pytest.approx(1.0) and f["AP50"] == pytest.approx(1.0)
    assert f["mAP@0.5"] == pytest.approx(1.0)


def test_masks_score_one_with_segm_and_tensors_are_accepted():
    targets = _scenes()
    preds = [dict(boxes=tensor(t["boxes"]), labels=tensor(t["labels"]),
                  scores=tensor(np.linspace(1, 0.5, len(t["labels"]))),
                  masks=tensor(t["masks"].astype(np.float32))) for t in targets]
    f = evaluate_detections(preds, targets, num_classes=5, image_size=(64, 64), iou_type="segm")
    assert f["AP"] == pytest.approx(1.0)


def test_shifted_boxes_lose_ap_at_strict_thresholds_and_equal_coco_evaluate():
    targets = _scenes()
    preds = [dict(boxes=t["boxes"] + 3.0, labels=t["labels"], scores=np.ones(len(t["labels"])))
             for t in targets]
    f = evaluate_detections(preds, targets, num_classes=5, image_size=(64, 64))
    assert f["AP"] < 1.0
    # the same records built by hand give the same COCO figures
    gt = {"images": [{"id": k, "height": 64, "width": 64} for k in range(len(targets))],
          "categories": [{"id": c} for c in range(1, 6)], "annotations": []}
    dets = []
    for k, (t, p) in enumerate(zip(targets, preds)):
        for b, l in zip(t["boxes"], t["labels"]):
            gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": k,
                                      "category_id": int(l), "iscrowd": 0,
                                      "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]),
                                               float(b[3] - b[1])],
                                      "area": float((b[2] - b[0]) * (b[3] - b[1]))})
        for b, l in zip(p["boxes"], p["labels"]):
            dets.append({"image_id": k, "category_id": int(l), "score": 1.0,
                         "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]})
    ref = coco_evaluate(gt, dets)
    for key in ("AP", "AP50", "AP75", "AR100"):
        assert f[key] == pytest.approx(ref[key], abs=1e-12)


def test_no_predictions_score_zero():
    targets = _scenes()
    preds = [dict(boxes=np.zeros((0, 4)), labels=np.zeros(0, int), scores=np.zeros(0))
             for _ in targets]
    f = evaluate_detections(preds, targets, num_classes=5, image_size=(64, 64))
    assert f["AP"] == 0 and f["mAP@0.5"] == 0


@pytest.mark.parametrize("preds,match", [
    ("nope", "lists of dicts"), ([{}], "predictions\\[0\\] must be a dict with boxes")])
def test_bad_input(preds, match):
    targets = _scenes(1)
    with pytest.raises((TypeError, ValueError), match=match):
        evaluate_detections(preds, targets, num_classes=5, image_size=(64, 64))


def test_length_mismatch():
    with pytest.raises(ValueError, match="2 predictions for 1 targets"):
        evaluate_detections([{}, {}], _scenes(1), num_classes=5, image_size=(64, 64))
