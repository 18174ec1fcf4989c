"""SSD: default boxes and matching, the loss against a hand computation, hard negatives, a few
training steps, the detections' format and errors (models/detection/ssd.py, recipes/ssd.py)."""
import numpy as np
import pytest

import tinyvision as tv
from tinyvision import optim
from tinyvision.data import ShapesScenes
from tinyvision.models.detection.ssd import SSD
from tinyvision.ops import BoxCoder, box_iou


def _scenes(n=2, size=64):
    return ShapesScenes("train", n=n, image_size=size, seed=3).arrays()


def _targets(s):
    return [{"boxes": b, "labels": lab} for b, lab in zip(s["boxes"], s["labels"])]


def _small_ssd(**kw):
    tv.manual_seed(0)
    return SSD(5, widths=(8, 8, 16, 16), extra_channels=(16, 16), **kw)


def test_eval_returns_one_dict_per_image_in_the_calling_convention():
    s = _scenes(2)
    model = _small_ssd().eval()
    out = model(s["images"])
    assert len(out) == 2
    for d in out:
        assert set(d) == {"boxes", "scores", "labels"}
        boxes, scores, labels = d["boxes"].numpy(), d["scores"].numpy(), d["labels"].numpy()
        assert boxes.dtype == np.float32 and boxes.shape == (len(scores), 4)
        assert labels.dtype == np.int64 and scores.dtype == np.float32
        assert len(scores) <= 100 and ((labels >= 1) & (labels <= 5)).all()
        assert (boxes >= 0).all() and (boxes <= 64).all()
        assert (np.diff(scores) <= 1e-7).all() or len(set(labels)) > 1


def test_eval_with_nothing_above_the_threshold_gives_empty_detections():
    s = _scenes(1)
    model = _small_ssd(score_thresh=1.0).eval()
    (d,) = model(s["images"])
    assert d["boxes"].shape == (0, 4) and d["scores"].shape == (0,) and d["labels"].shape == (0,)
    assert d["labels"].numpy().dtype == np.int64


def test_default_boxes_cover_six_maps_and_every_object_gets_a_matched_box():
    s = _scenes(2, size=128)
    model = _small_ssd()
    feats = model.features(tv.tensor(s["images"]))
    assert [f.shape[-1] for f in feats] == [32, 16, 8, 4, 2, 1]
    anchors = model.anchors((128, 128), feats)
    assert anchors.shape == (4 * (32 ** 2 + 16 ** 2 + 8 ** 2 + 4 ** 2 + 2 ** 2 + 1), 4)
    labels, encoded = model.assign_targets(_targets(s), anchors)
    assert labels.shape == (2, len(anchors)) and len(encoded) == (labels > 0).sum()
    for i, t in enumerate(_targets(s)):
        pos = np.flatnonzero(labels[i] > 0)
        iou = box_iou(t["boxes"], anchors[pos]).numpy()          # (M, P)
        assert (iou.max(axis=1) > 0).all()                        # every object matched
        # each matched box carries the class of the object it overlaps most ... or was forced to
        assert set(labels[i][pos]) <= set(t["labels"])
    # the targets decode back onto the objects
    pos = np.flatnonzero(labels.reshape(-1) > 0)
    decoded = model.box_coder.decode(encoded, anchors[pos % len(anchors)]).numpy()
    gts = np.concatenate([t["boxes"] for t in _targets(s)])
    np.testing.assert_allclose(box_iou(decoded, gts).numpy().max(axis=1), 1, atol=1e-4)


def test_loss_matches_a_hand_computation_with_3_to_1_hard_negatives():
    model = _small_ssd()
    # Two images, 6 default boxes, 3 classes + background (K = 4).
    anchors = np.array([[0, 0, 10, 10], [20, 20, 40, 40], [50, 50, 60, 60], [0, 30, 10, 40],
                        [30, 0, 40, 10], [44, 44, 64, 64]], np.float32)
    targets = [{"boxes": np.array([[21, 19, 41, 42]], np.float32), "labels": np.array([2])},
               {"boxes": np.array([[1, 1, 9, 11], [45, 45, 62, 63]], np.float32),
                "labels": np.array([1, 3])}]
    model.num_classes = 3
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 6, 4)).astype(np.float64)
    reg = rng.normal(size=(2, 6, 4)).astype(np.float64)
    losses = model.compute_loss(targets, tv.tensor(logits), tv.tensor(reg), anchors)
    assert set(losses) == {"bbox_regression", "classification"}

    # By hand: image 0 matches box 1 (class 2); image 1 boxes 0 (class 1) and 5 (class 3).
    labels = np.array([[0, 2, 0, 0, 0, 0], [1, 0, 0, 0, 0, 3]])
    logp = logits - np.log(np.exp(logits).sum(axis=2, keepdims=True))
    ce = -np.take_along_axis(logp, labels[..., None], axis=2)[..., 0]          # (2, 6)
    conf = 0.0
    for i, n_pos in enumerate([1, 2]):
        neg = np.flatnonzero(labels[i] == 0)
        hardest = neg[np.argsort(-ce[i, neg])][:3 * n_pos]                     # 3:1
        conf += ce[i, labels[i] > 0].sum() + ce[i, hardest].sum()
    coder = BoxCoder((10, 10, 5, 5))
    g = np.array([[21, 19, 41, 42], [1, 1, 9, 11], [45, 45, 62, 63]], np.float64)
    a = anchors[[1, 0, 5]].astype(np.float64)
    t = coder.encode(g, a).numpy()
    d = np.abs(reg[[0, 1, 1], [1, 0, 5]] - t)
    loc = np.where(d < 1, 0.5 * d ** 2, d - 0.5).sum()
    N = 3                                                                      # matched boxes
    np.testing.assert_allclose(losses["classification"].item(), conf / N, rtol=1e-6)
    np.testing.assert_allclose(losses["bbox_regression"].item(), loc / N, rtol=1e-6)


def test_images_without_objects_add_nothing_and_the_loss_stays_finite():
    s = _scenes(2)
    model = _small_ssd().train()
    targets = [{"boxes": np.zeros((0, 4), np.float32), "labels": np.zeros(0, np.int64)}] * 2
    losses = model(s["images"], targets)
    assert losses["classification"].item() == 0 and losses["bbox_regression"].item() == 0


def test_train_mode_returns_named_finite_losses_and_a_few_sgd_steps_lower_them():
    s = _scenes(2)
    model = _small_ssd().train()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    totals = []
    for _ in range(8):
        losses = model(s["images"], _targets(s))
        assert set(losses) == {"bbox_regression", "classification"}
        assert all(np.isfinite(v.item()) and v.shape == () for v in losses.values())
        total = losses["bbox_regression"] + losses["classification"]
        opt.zero_grad()
        total.backward()
        opt.step()
        totals.append(total.item())
    assert totals[-1] < 0.7 * totals[0], totals


def test_per_class_nms_keeps_overlapping_boxes_of_different_classes():
    model = _small_ssd(nms_thresh=0.45)
    anchors = np.array([[10, 10, 30, 30], [11, 11, 31, 31], [10, 10, 30, 30]], np.float32)
    logits = np.full((1, 3, 6), -10.0, np.float32)
    logits[0, 0, 1], logits[0, 1, 1], logits[0, 2, 2] = 5, 4, 3     # classes 1, 1, 2
    (d,) = model.postprocess_detections(logits, np.zeros((1, 3, 4), np.float32), anchors,
                                        (64, 64))
    # the second class-1 box is suppressed by the first; the class-2 box stays
    assert sorted(d["labels"].numpy().tolist()) == [1, 2]
    np.testing.assert_allclose(d["boxes"].numpy()[0], anchors[0])
    assert (np.diff(d["scores"].numpy()) <= 0).all()
    model.topk_candidates = 1                                        # top 1 per class
    (d,) = model.postprocess_detections(logits, np.zeros((1, 3, 4), np.float32), anchors,
                                        (64, 64))
    assert sorted(d["labels"].numpy().tolist()) == [1, 2]


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="SSD: num_classes"):
        SSD(0)
    with pytest.raises(ValueError, match="SSD: aspect_ratios"):
        SSD(5, aspect_ratios=((2,),) * 3)
    with pytest.raises(ValueError, match="SSD: positive_fraction"):
        SSD(5, positive_fraction=0)
    model = _small_ssd().train()
    s = _scenes(1)
    with pytest.raises(ValueError, match="SSD: in train mode"):
        model(s["images"])
    with pytest.raises(ValueError, match="SSD: targets"):
        model(s["images"], [{"boxes": np.zeros((0, 4))}])
    with pytest.raises(ValueError, match=r"SSD: targets\[0\]\['boxes'\]"):
        model(s["images"], [{"boxes": np.array([[5, 5, 2, 9.0]]), "labels": np.array([1])}])
    with pytest.raises(ValueError, match="SSD: images"):
        model.eval()(np.zeros((2, 64, 64), np.float32))


def test_recipe_builds_the_model_and_augments_a_scene():
    from tinyvision.recipes import ssd as recipe
    model = recipe.build_model(mean=[0.5] * 3, std=[0.2] * 3)
    assert isinstance(model, SSD) and model.num_classes == 5
    s = _scenes(1, size=128)
    rng = np.random.default_rng(0)
    image, target = recipe.augment(rng, s["images"][0], _targets(s)[0])
    assert image.shape == (3, 128, 128) and len(target["boxes"]) == len(target["labels"])
