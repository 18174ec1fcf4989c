"""Faster R-CNN: the RPN's anchor labels and loss by hand, the proposal layer, the calling
convention, a few training steps, bad input, and the 4-step alternating schedule
(models/detection/faster_rcnn.py, recipes/faster_rcnn.py)."""
import numpy as np
import pytest

import tinyvision as tv
from tinyvision import optim
from tinyvision.data import ShapesScenes
from tinyvision.models.detection.faster_rcnn import (FasterRCNN, RegionProposalNetwork,
                                                     RPNHead, rpn_loss)
from tinyvision.ops import AnchorGenerator, BalancedPositiveNegativeSampler

LOSSES = {"loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg"}


def _scenes(n=2, size=64):
    return ShapesScenes("train", n=n, image_size=size, seed=3).arrays()


def _targets(s):
    return [{"boxes": b, "labels": lab} for b, lab in zip(s["boxes"], s["labels"])]


def _rpn(sizes=((16,),), ratios=((1.0,),), **kw):
    anchors = AnchorGenerator(sizes, ratios)
    settings = dict(fg_iou_thresh=0.7, bg_iou_thresh=0.3, batch_size_per_image=256,
                    positive_fraction=0.5, pre_nms_top_n=dict(training=100, testing=100),
                    post_nms_top_n=dict(training=50, testing=50), nms_thresh=0.7)
    settings.update(kw)
    return RegionProposalNetwork(anchors, RPNHead(4, 1), **settings)


def test_anchor_labels_follow_the_0_7_and_0_3_thresholds_and_the_best_anchor_rule():
    rpn = _rpn()
    anchors = np.array([[0, 0, 16, 16],      # the ground truth itself: IoU 1
                        [2, 0, 18, 16],      # IoU 14/18 = 0.78: positive
                        [6, 0, 22, 16],      # IoU 10/22 = 0.45: ignored
                        [12, 0, 28, 16],     # IoU 4/28 = 0.14: negative
                        [40, 40, 48, 48],    # only box near the small object: IoU 16/64 = 0.25
                        [60, 60, 70, 70]], np.float32)
    gt = np.array([[0, 0, 16, 16], [40, 40, 56, 56]], np.float32)
    labels, targets = rpn.assign_targets_to_anchors(anchors, [{"boxes": gt}])
    # anchor 4 is below 0.3 but the best anchor of the second object: a positive anyway
    np.testing.assert_array_equal(labels[0], [1, 1, -1, 0, 1, 0])
    # t* = ((x − x_a)/w_a, (y − y_a)/h_a, log(w/w_a), log(h/h_a)), Eq. (2)
    np.testing.assert_allclose(targets[0, 0], 0, atol=1e-6)
    np.testing.assert_allclose(targets[0, 1], [-2 / 16, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(targets[0, 4], [4 / 8, 4 / 8, np.log(2), np.log(2)], atol=1e-6)
    np.testing.assert_array_equal(targets[0, [2, 3, 5]], 0)


def test_rpn_loss_matches_a_hand_computation():
    rng = np.random.default_rng(0)
    objectness = tv.tensor(rng.normal(size=(2, 5)).astype(np.float32), requires_grad=True)
    deltas = tv.tensor(rng.normal(size=(2, 5, 4)).astype(np.float32), requires_grad=True)
    labels = np.array([[1, 0, -1, 0, 0], [0, 1, 1, -1, 0]])
    box_targets = rng.normal(size=(2, 5, 4)).astype(np.float32)
    # a sampler that takes every labelled anchor, so the loss is deterministic
    losses = rpn_loss(objectness, deltas, labels, box_targets,
                      BalancedPositiveNegativeSampler(100, 0.5))
    sampled = labels >= 0                                               # 8 anchors
    x, y = objectness.numpy()[sampled], (labels[sampled] == 1).astype(np.float64)
    bce = np.mean(np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x))))
    d = np.abs(deltas.numpy()[labels == 1] - box_targets[labels == 1])
    beta = 1 / 9
    smooth = np.where(d < beta, 0.5 * d ** 2 / beta, d - 0.5 * beta).sum() / sampled.sum()
    assert losses["loss_objectness"].item() == pytest.approx(bce, rel=1e-5)
    assert losses["loss_rpn_box_reg"].item() == pytest.approx(smooth, rel=1e-5)
    sum(losses.values()).backward()
    assert objectness.grad[labels < 0].tolist() == [0.0, 0.0]           # ignored anchors
    assert not deltas.grad[labels != 1].any()                          # negatives: no box loss


def test_proposal_layer_nms_runs_per_level_and_keeps_the_best_first():
    rpn = _rpn(nms_thresh=0.5)
    rpn.eval()
    boxes = np.array([[[0, 0, 20, 20], [1, 1, 21, 21], [30, 30, 40, 40], [1, 0, 21, 20],
                       [-5, -5, 3, 70]]], np.float32)
    scores = np.array([[1.0, 3.0, 2.0, 0.5, 0.1]], np.float32)
    level_of = np.array([0, 0, 0, 1, 1])
    (kept,) = rpn.filter_proposals(boxes, scores, level_of, (64, 64))
    # box 0 is suppressed by box 1 on its level; box 3 overlaps box 1 too, but on another
    # level; box 4 is clipped to the image
    np.testing.assert_allclose(kept, [[1, 1, 21, 21], [30, 30, 40, 40], [1, 0, 21, 20],
                                      [0, 0, 3, 64]])
    rpn._post_nms_top_n["testing"] = 2
    assert len(rpn.filter_proposals(boxes, scores, level_of, (64, 64))[0]) == 2


def test_train_mode_gives_the_four_named_finite_losses_and_eval_the_detections():
    s = _scenes(2)
    tv.manual_seed(0)
    model = FasterRCNN(5)
    losses = model(s["images"], _targets(s))
    assert set(losses) == LOSSES
    assert all(v.shape == () and np.isfinite(v.item()) for v in losses.values())
    model.eval()
    out = model(s["images"])
    assert len(out) == 2
    for d in out:
        assert set(d) == {"boxes", "scores", "labels"}
        assert d["boxes"].dtype == np.float32 and d["boxes"].shape[1:] == (4,)
        assert d["labels"].dtype == np.int64 and d["scores"].shape == d["labels"].shape
        assert len(d["boxes"]) <= 100
        assert ((d["labels"].numpy() >= 1) & (d["labels"].numpy() <= 5)).all()
        assert (d["boxes"].numpy() >= 0).all() and (d["boxes"].numpy() <= 64).all()


def test_nothing_above_the_score_threshold_gives_empty_detections_of_the_right_types():
    s = _scenes(1)
    model = FasterRCNN(5, box_score_thresh=1.0).eval()
    (d,) = model(s["images"])
    assert d["boxes"].shape == (0, 4) and d["scores"].shape == (0,) and d["labels"].shape == (0,)
    assert d["labels"].dtype == np.int64 and d["boxes"].dtype == np.float32


def test_single_map_option_runs_on_c4():
    s = _scenes(2)
    model = FasterRCNN(5, fpn=False)
    assert set(model(s["images"], _targets(s))) == LOSSES
    assert len(model.rpn.anchor_generator.cell_anchors) == 1


def test_a_few_sgd_steps_reduce_the_loss_on_two_images():
    s = _scenes(2)
    tv.manual_seed(0)
    model = FasterRCNN(5)
    opt = optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    totals = []
    for _ in range(8):
        tv.manual_seed(1)                          # the same RoI samples every step
        loss = sum(model(s["images"], _targets(s)).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        totals.append(loss.item())
    assert totals[-1] < 0.7 * totals[0], totals


def test_given_proposals_skip_the_rpn():
    s = _scenes(2)
    model = FasterRCNN(5)
    losses = model(s["images"], _targets(s), proposals=[b + 1 for b in s["boxes"]])
    assert set(losses) == {"loss_classifier", "loss_box_reg"}
    with pytest.raises(ValueError, match="FasterRCNN: proposals must be a list of 2"):
        model(s["images"], _targets(s), proposals=[s["boxes"][0]])


def test_bad_input_gets_clear_errors():
    s = _scenes(2)
    model = FasterRCNN(5)
    with pytest.raises(ValueError, match="FasterRCNN: in train mode the model needs targets"):
        model(s["images"])
    with pytest.raises(ValueError, match=r"FasterRCNN: targets\[0\]\['boxes'\] must be"):
        model(s["images"], [{"boxes": [[10, 10, 5, 20]], "labels": [1]}] * 2)
    with pytest.raises(ValueError, match="FasterRCNN: targets must be a list of 2"):
        model(s["images"], _targets(s)[:1])
    with pytest.raises(TypeError, match="FasterRCNN: unknown arguments"):
        FasterRCNN(5, rpn_nms=0.5)
    with pytest.raises(ValueError, match="FasterRCNN: num_classes must be a positive int"):
        FasterRCNN(0)


def test_alternating_schedule_runs_its_four_steps(monkeypatch):
    from tinyvision.recipes import faster_rcnn as recipe
    monkeypatch.setitem(recipe.SETTINGS, "images_per_batch", 4)
    r = recipe.train_alternating(epochs=1, progress=False, train_images=8, test_images=4)
    assert sorted(r["history"]) == [1, 2, 3, 4]
    assert set(r["history"][1]) >= {"train_loss_objectness", "train_loss_rpn_box_reg"}
    assert "train_loss_classifier" not in r["history"][1]
    assert set(r["history"][4]) >= {"train_loss_classifier", "train_loss_box_reg"}
    assert 0 <= r["metrics"]["mAP@0.5"] <= 1
    # the step-4 model shares one backbone; every parameter is trainable again
    assert all(p.requires_grad for p in r["model"].parameters())
    with pytest.raises(ValueError, match="faster_rcnn.train: schedule must be"):
        recipe.train(schedule="four-step")
