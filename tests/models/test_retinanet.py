"""RetinaNet: the prior-probability init, anchors and their matching, the focal and box losses
against a hand computation, a few training steps, the detections' format and the checks of
bad input (models/detection/retinanet.py, recipes/retinanet.py)."""
import math

import numpy as np
import pytest

import tinyvision as tv
from tinyvision import optim
from tinyvision.data import ShapesScenes
from tinyvision.models.detection.retinanet import (DEFAULTS, RetinaNet, RetinaNetHead,
                                                   retinanet_anchor_sizes, retinanet_loss)
from tinyvision.ops import box_iou
from tinyvision.recipes import retinanet as recipe

TINY = dict(widths=(8, 8, 8, 8), fpn_channels=8, head_channels=8, num_convs=1)


def _tiny(**kw):
    tv.manual_seed(0)
    return RetinaNet(5, **dict(TINY, **kw))


def _scenes(n=2, size=64):
    s = ShapesScenes("train", n=n, image_size=size, seed=3).arrays()
    return s["images"].astype(np.float32), [{"boxes": b, "labels": lab}
                                            for b, lab in zip(s["boxes"], s["labels"])]


def test_prior_probability_init_makes_every_anchor_start_at_pi():
    head = RetinaNetHead(16, 9, 5, num_convs=2, channels=16, prior_probability=0.01)
    last = head.classification_head[-1]
    np.testing.assert_allclose(last.bias.numpy(), -math.log(99), rtol=1e-6)
    np.testing.assert_array_equal(head.regression_head[-1].bias.numpy(), 0)
    w = head.classification_head[0].weight.numpy()
    assert abs(w.std() - 0.01) < 0.002 and abs(w.mean()) < 0.002
    x = tv.tensor(np.random.default_rng(0).normal(size=(2, 16, 4, 4)).astype(np.float32))
    logits, offsets = head([x, x[:, :, :2, :2]])
    assert logits.shape == (2, (16 + 4) * 9, 5) and offsets.shape == (2, (16 + 4) * 9, 4)
    p = 1 / (1 + np.exp(-logits.numpy()))
    np.testing.assert_allclose(p, 0.01, atol=2e-3)                 # σ(b) = π everywhere


def test_anchor_sizes_follow_the_paper_and_cover_every_cell():
    sizes = retinanet_anchor_sizes((8, 16), 4.0)
    np.testing.assert_allclose(sizes, [[32, 32 * 2 ** (1 / 3), 32 * 2 ** (2 / 3)],
                                       [64, 64 * 2 ** (1 / 3), 64 * 2 ** (2 / 3)]])
    model = _tiny()
    assert list(model.backbone.strides.values()) == [4, 8, 16]     # P2..P4 by default
    anchors = model.anchors((64, 64), [(16, 16), (8, 8), (4, 4)])
    assert [len(a) for a in anchors] == [16 * 16 * 9, 8 * 8 * 9, 4 * 4 * 9]
    w = anchors[0][:9, 2] - anchors[0][:9, 0]
    h = anchors[0][:9, 3] - anchors[0][:9, 1]
    np.testing.assert_allclose(np.sqrt(w * h), np.tile([16, 20.2, 25.4], 3), atol=1.0)


def test_matching_labels_foreground_background_and_ignored_by_iou():
    model = _tiny(allow_low_quality_matches=False)
    anchors = np.concatenate(model.anchors((64, 64), [(16, 16), (8, 8), (4, 4)]))
    gt = np.array([anchors[1000] + [1, 0, 1, 0]], np.float32)       # near one anchor of P2
    labels, box_targets = model.assign_targets([{"boxes": gt, "labels": np.array([3])},
                                                {"boxes": np.zeros((0, 4), np.float32),
                                                 "labels": np.zeros(0, np.int64)}], anchors)
    iou = box_iou(gt, anchors).numpy()[0]
    np.testing.assert_array_equal(labels[0], np.where(iou >= 0.5, 3, np.where(iou < 0.4, 0, -1)))
    assert labels[0, 1000] == 3 and (labels[0] == -1).any()
    assert (labels[1] == 0).all() and (box_targets[1] == 0).all()  # no objects: background
    w = anchors[1000, 2] - anchors[1000, 0]                        # t_x = (G_x − P_x) / P_w
    np.testing.assert_allclose(box_targets[0, 1000], [1 / w, 0, 0, 0], atol=1e-5)
    decoded = model.box_coder.decode(box_targets[0][labels[0] > 0], anchors[labels[0] > 0])
    np.testing.assert_allclose(decoded.numpy(), np.repeat(gt, (labels[0] > 0).sum(), 0), atol=1e-3)
    # a 6-px object overlaps no anchor by 0.4: only low-quality matching gives it one
    tiny = np.array([[30, 30, 36, 36]], np.float32)
    target = [{"boxes": tiny, "labels": np.array([1])}]
    assert (model.assign_targets(target, anchors)[0] <= 0).all()
    lowq = _tiny(allow_low_quality_matches=True).assign_targets(target, anchors)[0]
    assert 1 <= (lowq == 1).sum() <= 9              # its best anchors (ties kept)


def test_atss_matching_gives_every_object_positives_and_ignores_nothing():
    model = _tiny(matcher="atss")
    anchors = model.anchors((64, 64), [(16, 16), (8, 8), (4, 4)])
    _, targets = _scenes(2)
    labels, box_targets = model.assign_targets(targets, anchors)
    assert (labels >= 0).all()                                      # no ignore band
    for i, t in enumerate(targets):
        assert set(labels[i][labels[i] > 0]) == set(t["labels"].tolist())
    # the 6-px object that only a low-quality match reaches under the IoU matcher
    tiny = [{"boxes": np.array([[30, 30, 36, 36]], np.float32), "labels": np.array([1])}]
    assert (model.assign_targets(tiny, anchors)[0] == 1).sum() >= 2
    images, targets = _scenes(2)
    model.train()
    losses = model(images, targets)
    assert all(np.isfinite(v.item()) for v in losses.values())
    with pytest.raises(ValueError, match="RetinaNet: matcher must be 'iou' or 'atss'"):
        RetinaNet(5, matcher="fixed")


def test_losses_equal_a_hand_computation():
    x = np.array([[[2.0, -1.0], [0.5, 0.0], [3.0, 3.0], [-2.0, 1.5]]], np.float32)   # (1, 4, 2)
    labels = np.array([[1, 0, -1, 2]])                      # fg, bg, ignored, fg
    t = np.array([[[0.1, -0.2, 0.0, 0.05]] * 4], np.float32)
    v = np.array([[[0.0, 0.0, 0.0, 0.0], [9, 9, 9, 9], [9, 9, 9, 9], [0.2, 0.1, -0.5, 0.0]]],
                 np.float32)
    logits = tv.tensor(x, requires_grad=True)
    losses = retinanet_loss(logits, tv.tensor(t), labels, v)
    assert set(losses) == {"classification", "bbox_regression"}
    # by hand: FL = −α_t (1 − p_t)² log p_t over rows 0, 1, 3 and both classes, / 2 fg
    y = np.array([[1, 0], [0, 0], [0, 1]], np.float64)
    p = 1 / (1 + np.exp(-x[0, [0, 1, 3]].astype(np.float64)))
    p_t = np.where(y == 1, p, 1 - p)
    alpha_t = np.where(y == 1, 0.25, 0.75)
    fl = (-alpha_t * (1 - p_t) ** 2 * np.log(p_t)).sum() / 2
    assert losses["classification"].item() == pytest.approx(fl, rel=1e-5)
    d = np.abs(t[0, [0, 3]] - v[0, [0, 3]]).astype(np.float64)
    beta = 1 / 9
    smooth = np.where(d < beta, 0.5 * d ** 2 / beta, d - 0.5 * beta).sum() / 2
    assert losses["bbox_regression"].item() == pytest.approx(smooth, rel=1e-5)
    l1 = retinanet_loss(logits, tv.tensor(t), labels, v, dict(DEFAULTS, bbox_loss="l1"))
    assert l1["bbox_regression"].item() == pytest.approx(d.sum() / 2, rel=1e-5)
    sum(losses.values()).backward()
    assert logits.grad.dtype == np.float32
    np.testing.assert_array_equal(logits.grad[0, 2], 0)     # an ignored anchor learns nothing


def test_no_foreground_normalises_by_one():
    logits = tv.tensor(np.zeros((1, 3, 2), np.float32))
    losses = retinanet_loss(logits, tv.tensor(np.zeros((1, 3, 4), np.float32)),
                            np.zeros((1, 3), np.int64), np.zeros((1, 3, 4), np.float32))
    assert losses["classification"].item() == pytest.approx(6 * 0.75 * 0.25 * math.log(2))
    assert losses["bbox_regression"].item() == 0


def test_train_mode_returns_finite_named_losses_and_sgd_reduces_them():
    images, targets = _scenes(2)
    model = _tiny().train()
    opt = optim.SGD(model.parameters(), lr=0.03, momentum=0.9)
    totals = []
    for _ in range(10):
        losses = model(images, targets)
        assert set(losses) == {"classification", "bbox_regression"}
        assert all(v.shape == () and np.isfinite(v.item()) for v in losses.values())
        total = losses["classification"] + losses["bbox_regression"]
        opt.zero_grad()
        total.backward()
        opt.step()
        totals.append(total.item())
    assert totals[-1] < 0.95 * totals[0], totals     # the σ = 0.01 heads start slowly


def test_eval_output_format_and_empty_predictions():
    images, _ = _scenes(2)
    model = _tiny().eval()
    out = model(images)                       # untrained: every score ≈ π = 0.01 < 0.05
    assert len(out) == 2 and all(set(d) == {"boxes", "scores", "labels"} for d in out)
    assert out[0]["boxes"].shape == (0, 4) and out[0]["labels"].dtype == np.int64
    model.score_thresh, model.detections_per_img = 0.0, 7
    d = model(images[:1])[0]
    boxes, scores, labels = d["boxes"].numpy(), d["scores"].numpy(), d["labels"].numpy()
    assert boxes.shape == (7, 4) and boxes.dtype == np.float32 and scores.dtype == np.float32
    assert (np.diff(scores) <= 0).all() and set(labels) <= set(range(1, 6))
    assert (boxes >= 0).all() and (boxes <= 64).all()


def test_postprocess_decodes_the_best_anchor_and_keeps_topk_per_level():
    model = _tiny(topk_candidates=3)
    anchors = model.anchors((64, 64), [(16, 16), (8, 8), (4, 4)])
    T = sum(len(a) for a in anchors)
    logits = np.full((1, T, 5), -10.0, np.float32)
    logits[0, 2400, 2] = 4.0                                   # an anchor of P3, class 3
    logits[0, :5, 0] = [-2, -1, 0, 1, 2]                        # 5 candidates on P2: top 3 kept
    offsets = np.zeros((1, T, 4), np.float32)
    d = model.postprocess_detections(logits, offsets, anchors, (64, 64))[0]
    all_anchors = np.concatenate(anchors)
    assert d["labels"].numpy()[0] == 3
    np.testing.assert_allclose(d["scores"].numpy()[0], 1 / (1 + np.exp(-4.0)), rtol=1e-6)
    np.testing.assert_allclose(d["boxes"].numpy()[0], np.clip(all_anchors[2400], 0, 64))
    assert (d["labels"].numpy() == 1).sum() <= 3


def test_bad_input_raises_clear_errors():
    with pytest.raises(TypeError, match="RetinaNet: unknown keyword"):
        RetinaNet(5, num_conv=2)
    with pytest.raises(ValueError, match="RetinaNet: bbox_loss"):
        RetinaNet(5, bbox_loss="giou")
    with pytest.raises(ValueError, match="RetinaNet: num_classes"):
        RetinaNet(0)
    with pytest.raises(ValueError, match="RetinaNetHead: prior_probability"):
        RetinaNetHead(8, 9, 5, prior_probability=1.5)
    model = _tiny().train()
    images, targets = _scenes(2)
    with pytest.raises(ValueError, match="RetinaNet: in train mode"):
        model(images)
    with pytest.raises(ValueError, match="RetinaNet: targets must be a list of 2"):
        model(images, targets[:1])
    bad = [dict(targets[0], boxes=np.array([[10, 10, 5, 20]], np.float32),
                labels=np.array([1])), targets[1]]
    with pytest.raises(ValueError, match=r"RetinaNet: targets\[0\]\['boxes'\]"):
        model(images, bad)


def test_recipe_builds_the_model_it_describes():
    model = recipe.build_model(np.zeros(3), np.ones(3))
    assert isinstance(model, RetinaNet) and model.num_classes == 5
    assert recipe.TASK == "retinanet" and recipe.ROW_METRICS == ("mAP@0.5", "AP")
    assert set(recipe.SETTINGS) >= {"train_images", "epochs", "images_per_batch", "lr", "model"}
