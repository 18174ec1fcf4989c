"""Precision–recall curves from VOC and COCO results, their plot, detections drawn over an
image (PNG files written, pictures that differ where they should), and the classification
metrics (top-k accuracy, mean IoU)."""
import numpy as np
import pytest
from PIL import Image

import tinyvision as tv
from tinyvision import viz
from tinyvision.metrics import (accuracy, coco_evaluate, confusion_matrix, mean_iou, pr_curves,
                                voc_evaluate)

B = np.array([[0, 0, 10, 10], [20, 20, 40, 40], [50, 0, 70, 30]], np.float64)


def read_png(path):
    with Image.open(path) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))


def voc_result(shift=0.0):
    preds = [B + shift, B[:2] + 1]
    return voc_evaluate(preds, [np.array([1, 1, 2]), np.array([1, 2])],
                        [np.array([0.9, 0.3, 0.8]), np.array([0.6, 0.7])],
                        [B, B[:2]], [np.array([1, 1, 2]), np.array([1, 2])])


def coco_result():
    gt = {"images": [{"id": 1}, {"id": 2}],
          "categories": [{"id": 1, "name": "a"}, {"id": 7, "name": "b"}, {"id": 9, "name": "c"}],
          "annotations": [{"id": k + 1, "image_id": 1 + k % 2, "category_id": 1 + 6 * (k % 2),
                           "bbox": [10.0 * k, 0, 10, 10], "area": 100.0} for k in range(4)]}
    dets = [{"image_id": 1 + k % 2, "category_id": 1 + 6 * (k % 2),
             "bbox": [10.0 * k + (k == 2) * 6, 0, 10, 10], "score": 1 - k / 10} for k in range(4)]
    return coco_evaluate(gt, dets)


def test_voc_curves_are_the_evaluation_curves():
    r = voc_result()
    curves = pr_curves(r)
    assert sorted(curves) == [1, 2]                    # label 0 has no ground truth
    for label, (rec, prec) in curves.items():
        np.testing.assert_array_equal(rec, r["recall"][label])
        np.testing.assert_array_equal(prec, r["precision"][label])


def test_coco_curves_are_slices_of_the_precision_array():
    r = coco_result()
    curves = pr_curves(r)
    assert sorted(curves) == [1, 7]                    # category 9 has no ground truth
    rec, prec = curves[1]
    assert len(rec) == len(prec) == 101 and rec[0] == 0 and rec[-1] == 1
    np.testing.assert_array_equal(prec, r["precision"][0, :, 0, 0, 2])
    # category 1 has a box shifted by 6 px (IoU 0.25): it is found at IoU .5 by nothing
    assert prec[50] == pytest.approx(1.0) and prec[51] == 0.0
    strict = pr_curves(r, iou_threshold=0.95, max_dets=1)
    np.testing.assert_array_equal(strict[7][1], r["precision"][9, :, 1, 0, 0])
    with pytest.raises(ValueError, match=r"pr_curves: iou_threshold must be one of"):
        pr_curves(r, iou_threshold=0.52)
    with pytest.raises(ValueError, match=r"pr_curves: area must be one of"):
        pr_curves(r, area="huge")


def test_plot_pr_curves_writes_a_png_that_follows_the_curves(tmp_path):
    path = tmp_path / "pr.png"
    picture = viz.plot_pr_curves(pr_curves(voc_result()), str(path),
                                 class_names={1: "circle", 2: "square"}, title="VOC")
    np.testing.assert_array_equal(read_png(path), picture)
    other = viz.plot_pr_curves(pr_curves(voc_result(shift=4.0)),
                               class_names={1: "circle", 2: "square"}, title="VOC")
    assert picture.shape == other.shape and (picture != other).any()
    renamed = viz.plot_pr_curves(pr_curves(voc_result()), class_names={1: "c", 2: "s"},
                                 title="VOC")
    assert picture.shape != renamed.shape or (picture != renamed).any()
    # the class colour of draw_boxes appears in the plot
    assert (picture == viz.PALETTE[1]).all(axis=2).any()
    many = {k: ([0.0, 1.0], [1.0, 0.5]) for k in range(40)}       # a tall legend
    assert viz.plot_pr_curves(many).shape[0] > picture.shape[0]


def test_draw_detections_draws_only_what_scores_enough(tmp_path):
    image = np.full((3, 60, 80), 0.5, np.float32)
    boxes = np.array([[5, 5, 30, 30], [40, 10, 70, 50]], np.float64)
    labels, scores = np.array([1, 2]), np.array([0.9, 0.2])
    names = ["background", "circle", "square"]
    path = tmp_path / "det.png"
    both = viz.draw_detections(image, boxes, labels, scores, names, score_threshold=0.1,
                               path=str(path))
    np.testing.assert_array_equal(read_png(path), both)
    one = viz.draw_detections(tv.tensor(image), boxes, labels, scores, names)   # 0.5 default
    assert (both != one).any()
    # the low-scoring box's edge is drawn only when the threshold lets it through
    assert (both[45, 70] != 128).any() and (one[45, 70] == 128).all()
    assert (one[5:30, 5] != 128).any(axis=1).all()
    none = viz.draw_detections(image, boxes, labels, scores, names, score_threshold=0.95)
    assert (none == 128).all()
    empty = viz.draw_detections(image, np.zeros((0, 4)), np.zeros(0, int), np.zeros(0))
    assert (empty == 128).all()


# ---- classification metrics ---------------------------------------------------------------
def test_accuracy_topk():
    logits = np.array([[0.1, 0.5, 0.4], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5], [0.3, 0.3, 0.4]])
    target = np.array([2, 0, 1, 1])
    assert accuracy(logits, target) == 0.25
    # top-2 misses the last row: its tie 0.3 / 0.3 goes to the lower class, 0
    assert accuracy(tv.tensor(logits), tv.tensor(target), topk=(1, 2, 3)) == (0.25, 0.75, 1.0)
    assert accuracy(np.array([2, 0, 2, 0]), target) == 0.5           # labels, not scores
    torch = pytest.importorskip("torch", reason="PyTorch's topk is the oracle")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 10)), rng.integers(0, 10, 64)
    top5 = torch.tensor(x).topk(5, dim=1).indices.numpy()
    assert accuracy(x, y, topk=5) == (top5 == y[:, None]).any(1).mean()


def test_mean_iou_by_hand_and_against_sklearn():
    target = np.array([[0, 0, 1, 1], [0, 2, 2, 255]])
    pred = np.array([[0, 1, 1, 1], [0, 2, 0, 2]])
    # class 0: TP 2, FP 1, FN 1 -> 2/4; class 1: 2/3; class 2: TP 1, FN 1 -> 1/2 (the pixel
    # labelled 255 is left out)
    assert mean_iou(pred, target, 3, ignore_index=255) == pytest.approx((1 / 2 + 2 / 3 + 1 / 2) / 3)
    conf = confusion_matrix(pred, target, 3, ignore_index=255)
    assert conf.tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 1]]
    scores = np.eye(3)[pred].transpose(2, 0, 1)[None].astype(np.float32)  # (1, C, H, W)
    assert mean_iou(scores, target[None], 3, ignore_index=255) == mean_iou(pred, target, 3, 255)
    # a class absent from both is not averaged in
    assert mean_iou(np.zeros((2, 2), int), np.zeros((2, 2), int), 5) == 1.0
    sklearn = pytest.importorskip("sklearn.metrics", reason="scikit-learn is the oracle")
    rng = np.random.default_rng(0)
    p, t = rng.integers(0, 4, (3, 16, 16)), rng.integers(0, 4, (3, 16, 16))
    assert mean_iou(p, t, 4) == pytest.approx(
        sklearn.jaccard_score(t.ravel(), p.ravel(), average="macro"))
