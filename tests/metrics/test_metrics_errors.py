"""Bad input to the metrics and detection pictures gets a clear error: the function, the
argument (for COCO dicts, the item and its field), what was expected and what came. One table:
(call, exception type, patterns the message must contain)."""
import copy
import re

import numpy as np
import pytest

from tinyvision import viz
from tinyvision.data import rle
from tinyvision.metrics import (accuracy, coco_evaluate, mean_iou, pr_curves, rle_ops, voc_ap,
                                voc_evaluate)

nan = float("nan")
GT = {"images": [{"id": 1, "height": 8, "width": 10}, {"id": 4, "height": 8, "width": 10}],
      "categories": [{"id": 1, "name": "a"}, {"id": 3, "name": "b"}],
      "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 4],
                       "area": 16.0, "iscrowd": 0,
                       "segmentation": rle.encode(np.eye(8, 10, dtype=np.uint8))}]}
DET = {"image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 4], "score": 0.9,
       "segmentation": rle.encode(np.eye(8, 10, dtype=np.uint8))}


def gt_with(change):
    gt = copy.deepcopy(GT)
    change(gt)
    return gt


def det_with(**fields):
    d = {k: v for k, v in DET.items() if k not in fields or fields[k] is not None}
    d.update({k: v for k, v in fields.items() if v is not None})
    return [DET, d]


def drop(d, key):
    del d[key]


B = [np.array([[0, 0, 10, 10]], np.float64)]
L, S = [np.array([1])], [np.array([0.5])]

CASES = {
    # ---- coco_evaluate: the arguments ---------------------------------------------------
    "coco iou_type": (lambda: coco_evaluate(GT, [DET], iou_type="mask"), ValueError,
                      ["coco_evaluate", "iou_type", "'bbox' or 'segm'", "'mask'"]),
    "coco gt type": (lambda: coco_evaluate([GT], [DET]), TypeError,
                     ["coco_evaluate", "coco_gt", "COCO dict", "list"]),
    "coco gt key": (lambda: coco_evaluate(gt_with(lambda g: drop(g, "categories")), [DET]),
                    ValueError, ["coco_evaluate", "coco_gt is missing 'categories'"]),
    "coco dets type": (lambda: coco_evaluate(GT, DET), TypeError,
                       ["coco_evaluate", "detections must be a list of dicts", "dict"]),
    "coco det item": (lambda: coco_evaluate(GT, [DET, [1, 2]]), TypeError,
                      ["coco_evaluate", r"detections\[1\] must be a dict", "list"]),
    # ---- coco_evaluate: detections --------------------------------------------------------
    "coco unknown image": (lambda: coco_evaluate(GT, det_with(image_id=2)), ValueError,
                           ["coco_evaluate", r"detections\[1\]\['image_id'\] 2",
                            "not the id of any image in coco_gt"]),
    "coco unknown category": (lambda: coco_evaluate(GT, det_with(category_id=2)), ValueError,
                              [r"detections\[1\]\['category_id'\] 2",
                               "not the id of any category"]),
    "coco image id type": (lambda: coco_evaluate(GT, det_with(image_id="1")), ValueError,
                           [r"detections\[1\]\['image_id'\] must be an int", "'1'"]),
    "coco bbox length": (lambda: coco_evaluate(GT, det_with(bbox=[1, 2, 3])), ValueError,
                         [r"detections\[1\]\['bbox'\] must be 4 finite numbers",
                          r"\[x, y, width, height\]", r"\[1, 2, 3\]"]),
    "coco bbox nan": (lambda: coco_evaluate(GT, det_with(bbox=[1, 2, nan, 3])), ValueError,
                      [r"detections\[1\]\['bbox'\] must be 4 finite numbers", "nan"]),
    "coco bbox negative": (lambda: coco_evaluate(GT, det_with(bbox=[5, 5, -2, 3])), ValueError,
                           [r"detections\[1\]\['bbox'\] has a negative width or height",
                            r"\[5, 5, -2, 3\]"]),
    "coco score nan": (lambda: coco_evaluate(GT, det_with(score=nan)), ValueError,
                       [r"detections\[1\]\['score'\] must be a finite number", "nan"]),
    "coco score missing": (lambda: coco_evaluate(GT, [DET, {"image_id": 1, "category_id": 1,
                                                            "bbox": [0, 0, 1, 1]}]),
                           ValueError, [r"detections\[1\] is missing 'score'"]),
    "coco bbox missing": (lambda: coco_evaluate(GT, [{"image_id": 1, "category_id": 1,
                                                      "score": 1.0}]),
                          ValueError, [r"detections\[0\] is missing 'bbox'"]),
    # ---- coco_evaluate: ground truth ------------------------------------------------------
    "coco gt area": (lambda: coco_evaluate(gt_with(lambda g: drop(g["annotations"][0], "area")),
                                           [DET]),
                     ValueError, [r"coco_gt\['annotations'\]\[0\] is missing 'area'"]),
    "coco gt id zero": (lambda: coco_evaluate(gt_with(
        lambda g: g["annotations"][0].update(id=0)), [DET]), ValueError,
        [r"coco_gt\['annotations'\]\[0\]\['id'\] is 0", ">= 1"]),
    "coco gt image twice": (lambda: coco_evaluate(gt_with(
        lambda g: g["images"].append({"id": 4})), [DET]), ValueError,
        [r"coco_gt\['images'\]\[2\]\['id'\] 4 appears twice"]),
    "coco gt unknown image": (lambda: coco_evaluate(gt_with(
        lambda g: g["annotations"][0].update(image_id=7)), [DET]), ValueError,
        [r"coco_gt\['annotations'\]\[0\]\['image_id'\] 7", "not the id of any image"]),
    "coco gt crowd": (lambda: coco_evaluate(gt_with(
        lambda g: g["annotations"][0].update(iscrowd=2)), [DET]), ValueError,
        [r"\['iscrowd'\] must be 0 or 1", "2"]),
    # ---- coco_evaluate: masks -------------------------------------------------------------
    "coco segm missing": (lambda: coco_evaluate(GT, det_with(segmentation=None), "segm"),
                          ValueError, [r"detections\[1\] is missing 'segmentation'"]),
    "coco segm box": (lambda: coco_evaluate(GT, det_with(bbox=None), "segm"), ValueError,
                      [r"detections\[1\] is missing 'bbox'", r"detections\[0\] has one",
                       "area"]),
    "coco segm size": (lambda: coco_evaluate(GT, det_with(
        segmentation=rle.encode(np.ones((8, 9), np.uint8))), "segm"), ValueError,
        [r"detections\[1\]\['segmentation'\]", r"size \[8, 9\] differs", r"\[8, 10\]"]),
    "coco segm char": (lambda: coco_evaluate(GT, det_with(
        segmentation={"size": [8, 10], "counts": "a b"}), "segm"), ValueError,
        [r"detections\[1\]\['segmentation'\]", "invalid character"]),
    "coco segm sum": (lambda: coco_evaluate(GT, det_with(
        segmentation={"size": [8, 10], "counts": [3, 4]}), "segm"), ValueError,
        [r"detections\[1\]\['segmentation'\]", "sum to 7", "80"]),
    "coco segm height": (lambda: coco_evaluate(gt_with(
        lambda g: drop(g["images"][1], "height")), [DET], "segm"), ValueError,
        [r"coco_gt\['images'\]\[1\] is missing 'height'", "segm"]),
    "coco segm polygon": (lambda: coco_evaluate(gt_with(
        lambda g: g["annotations"][0].update(segmentation=[[1, 2, 3]])), [DET], "segm"),
        ValueError, [r"coco_gt\['annotations'\]\[0\]\['segmentation'\]",
                     r"\(x, y\) pairs", r"\[1, 2, 3\]"]),
    # ---- voc ----------------------------------------------------------------------------
    "voc lengths": (lambda: voc_evaluate(B, L + L, S, B, L), ValueError,
                    ["voc_evaluate", "one entry per image", "pred_boxes has 1",
                     "pred_labels has 2"]),
    "voc ndarray": (lambda: voc_evaluate(B[0], L, S, B, L), TypeError,
                    ["voc_evaluate", "pred_boxes must be a list with one array per image",
                     "ndarray"]),
    "voc xywh": (lambda: voc_evaluate([np.array([[5, 5, 3, 3]])], L, S, B, L), ValueError,
                 ["voc_evaluate", r"pred_boxes\[0\] box 0", "x2 < x1", r"not \(x, y, w, h\)"]),
    "voc box shape": (lambda: voc_evaluate(B, L, S, [np.zeros((2, 5))], L), ValueError,
                      ["voc_evaluate", r"gt_boxes\[0\] must be \(K, 4\)", r"\(2, 5\)"]),
    "voc scores": (lambda: voc_evaluate(B, L, [np.array([nan])], B, L), ValueError,
                   ["voc_evaluate", r"pred_scores\[0\]", "NaN"]),
    "voc labels": (lambda: voc_evaluate(B, L, S, B, [np.array([1.5])]), ValueError,
                   ["voc_evaluate", r"gt_labels\[0\] must hold integer labels", "float64"]),
    "voc per box": (lambda: voc_evaluate(B, L, [np.array([0.5, 0.4])], B, L), ValueError,
                    ["voc_evaluate", r"pred_scores\[0\] must have one entry per box \(1\)",
                     r"\(2,\)"]),
    "voc thresh": (lambda: voc_evaluate(B, L, S, B, L, iou_thresh=1.5), ValueError,
                   ["voc_evaluate", "iou_thresh", r"\[0, 1\]", "1.5"]),
    "voc_ap lengths": (lambda: voc_ap([0.1, 0.2], [1.0]), ValueError,
                       ["voc_ap", "same length", r"\(2,\)", r"\(1,\)"]),
    "voc_ap 2-D": (lambda: voc_ap(np.ones((2, 2)), np.ones((2, 2))), ValueError,
                   ["voc_ap", "recall must be a 1-D array", r"\(2, 2\)"]),
    # ---- classification ---------------------------------------------------------------------
    "accuracy target": (lambda: accuracy(np.ones((2, 3)), np.array([0.0, 1.0])), ValueError,
                        ["accuracy", "target must be", "integer labels", "float64"]),
    "accuracy topk": (lambda: accuracy(np.ones((2, 3)), np.array([0, 1]), topk=(1, 5)),
                      ValueError, ["accuracy", "topk", r"1\.\.C", r"\(1, 5\)"]),
    "accuracy shape": (lambda: accuracy(np.ones((3, 3)), np.array([0, 1])), ValueError,
                       ["accuracy", r"\(N, C\)", "N = 2", r"\(3, 3\)"]),
    "mean_iou range": (lambda: mean_iou(np.zeros((2, 2), int), np.full((2, 2), 255), 3),
                       ValueError, ["mean_iou", "target holds label 255", r"0\.\.2",
                                    "ignore_index"]),
    "mean_iou shape": (lambda: mean_iou(np.zeros((2, 3), int), np.zeros((2, 2), int), 3),
                       ValueError, ["mean_iou", "pred must be integer labels", r"\(2, 2\)",
                                    r"\(2, 3\)"]),
    "mean_iou classes": (lambda: mean_iou(np.zeros(2, int), np.zeros(2, int), 0), ValueError,
                         ["mean_iou", "num_classes must be a positive int", "0"]),
    # ---- curves and pictures ----------------------------------------------------------------
    "pr_curves type": (lambda: pr_curves([1, 2]), TypeError,
                       ["pr_curves", "voc_evaluate or coco_evaluate", "list"]),
    "pr_curves dict": (lambda: pr_curves({"AP": 0.5}), ValueError,
                       ["pr_curves", "voc_evaluate or coco_evaluate", "'AP'"]),
    "plot empty": (lambda: viz.plot_pr_curves({}), ValueError, ["plot_pr_curves", "empty"]),
    "plot pairs": (lambda: viz.plot_pr_curves({1: ([0, 1], [1])}), ValueError,
                   ["plot_pr_curves", r"curves\[1\]", "2 recall and 1 precision"]),
    "plot range": (lambda: viz.plot_pr_curves({1: ([0, 2], [1, 1])}), ValueError,
                   ["plot_pr_curves", r"curves\[1\]", r"\[0, 1\]"]),
    "plot names": (lambda: viz.plot_pr_curves({5: ([0, 1], [1, 1])}, class_names=["a"]),
                   ValueError, ["plot_pr_curves", "class 5", "class_names"]),
    "draw boxes": (lambda: viz.draw_detections(np.zeros((3, 8, 8), np.float32), np.ones((2, 3)),
                                               [1, 1], [1, 1]),
                   ValueError, ["draw_detections", r"\(K, 4\)", r"\(2, 3\)"]),
    "draw scores": (lambda: viz.draw_detections(np.zeros((3, 8, 8), np.float32),
                                                np.ones((2, 4)), [1, 1], [1.0]),
                    ValueError, ["draw_detections", "scores", "one entry per box", r"\(1,\)"]),
    "draw nan": (lambda: viz.draw_detections(np.zeros((3, 8, 8), np.float32), np.ones((1, 4)),
                                             [1], [nan]),
                 ValueError, ["draw_detections", "NaN"]),
    # ---- RLE helpers ------------------------------------------------------------------------
    "rle iou sizes": (lambda: rle_ops.iou([rle.encode(np.ones((2, 2)))],
                                          [rle.encode(np.ones((2, 3)))], [0]),
                      ValueError, ["iou", "same size"]),
    "rle not a dict": (lambda: rle_ops.area([[1, 2, 3, 4, 5, 6]]), ValueError,
                       ["area", r"rles\[0\] must be an RLE dict", "list"]),
    "rle to_rle size": (lambda: rle_ops.to_rle([[0, 0, 1, 0, 1, 1]], 0, 3), ValueError,
                        ["to_rle", "height and width must be positive", "0"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_clear_error(name):
    call, kind, patterns = CASES[name]
    with pytest.raises(kind) as info:
        call()
    message = str(info.value)
    for pattern in patterns:
        assert re.search(pattern, message), f"{pattern!r} not in {message!r}"
