"""YOLO v1 (models/detection/yolo.py): calling convention, the target assignment and the five
terms of Eq. (3) against hand computations, a few SGD steps, errors, the recipe's
augmentation."""
import numpy as np
import pytest

import tinyvision as tv
from tinyvision import optim
from tinyvision.models.detection.yolo import (YOLOv1, assign_targets, decode_boxes, paired_iou,
                                              yolo_loss)
from tinyvision.recipes import yolo as recipe


def tiny_model(**kw):
    kw = dict(dict(num_classes=3, grid_size=4, boxes_per_cell=2, widths=(8, 8, 8, 8),
                   hidden=32, dropout=0.0, image_size=(64, 64)), **kw)
    return YOLOv1(**kw)


def tiny_batch():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (2, 3, 64, 64)).astype(np.float32)
    images[0, :, 8:24, 8:30] = 1.0                       # two bright shapes to find
    images[1, :, 30:60, 20:44] = 0.0
    targets = [{"boxes": np.array([[8, 8, 30, 24]], np.float32), "labels": np.array([1])},
               {"boxes": np.array([[20, 30, 44, 60]], np.float32), "labels": np.array([3])}]
    return images, targets


def test_eval_output_format():
    model = tiny_model().eval()
    images, _ = tiny_batch()
    out = model(images)
    assert len(out) == 2
    for d in out:
        assert set(d) == {"boxes", "scores", "labels"}
        D = d["boxes"].shape[0]
        assert d["boxes"].shape == (D, 4) and d["boxes"].dtype == np.float32
        assert d["scores"].shape == (D,) and d["labels"].dtype == np.int64
        assert D <= 100 and np.all((d["labels"].numpy() >= 1) & (d["labels"].numpy() <= 3))
        b = d["boxes"].numpy()
        assert np.all(b >= 0) and np.all(b <= 64) and np.all(b[:, 2:] >= b[:, :2])
        assert np.all(np.diff(d["scores"].numpy()) <= 1e-7) or D == 0


def test_eval_with_no_detection_gives_empty_arrays():
    model = tiny_model(score_thresh=1.0).eval()
    d = model(tiny_batch()[0][:1])[0]
    assert d["boxes"].shape == (0, 4) and d["scores"].shape == (0,) and d["labels"].shape == (0,)
    assert d["labels"].dtype == np.int64


def test_train_mode_returns_the_five_named_finite_losses():
    model = tiny_model().train()
    images, targets = tiny_batch()
    losses = model(images, targets)
    assert set(losses) == {"loss_xy", "loss_wh", "loss_obj", "loss_noobj", "loss_class"}
    for v in losses.values():
        assert v.shape == () and np.isfinite(v.item())
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in model.parameters())
    # an image without objects: every predictor is "noobj", the other terms are 0
    empty = [{"boxes": np.zeros((0, 4), np.float32), "labels": np.zeros(0, np.int64)}] * 2
    losses = model(images, empty)
    assert losses["loss_noobj"].item() > 0
    assert all(losses[k].item() == 0 for k in ("loss_xy", "loss_wh", "loss_obj", "loss_class"))


def test_decode_boxes_follows_the_cell_parameterisation():
    S, B = 2, 1
    raw = np.zeros((S, S, B, 4), np.float32)
    raw[1, 0, 0] = [0.5, 0.25, 0.5, 0.25]          # row 1, col 0 of a 2x2 grid on 64x32 (H, W)
    box = decode_boxes(raw, (64, 32))[1, 0, 0]
    # centre ((0 + 0.5)·16, (1 + 0.25)·32) = (8, 40); size (0.25·32, 0.0625·64) = (8, 4)
    np.testing.assert_allclose(box, [4, 38, 12, 42])


def test_assign_targets_by_hand():
    # a 64x64 image, S = 2 (32 px cells), B = 2. Truth (4, 36, 28, 60): centre (16, 48) in
    # row 1, col 0; predictor 1 of that cell overlaps it more than predictor 0.
    pred = np.zeros((1, 2, 2, 2, 4), np.float32)
    pred[..., :] = [0, 0, 1, 1]
    pred[0, 1, 0, 0] = [0, 32, 16, 64]            # IoU with truth: 12·24 / (16·32 + 24·24 − 12·24)
    pred[0, 1, 0, 1] = [4, 36, 28, 48]            # IoU: 24·12 / (24·24) = 0.5
    truth = {"boxes": np.array([[4, 36, 28, 60]], np.float32), "labels": np.array([2])}
    a = assign_targets(pred, [truth], num_classes=3, image_size=(64, 64))
    expected_resp = np.zeros((1, 2, 2, 2))
    expected_resp[0, 1, 0, 1] = 1
    np.testing.assert_array_equal(a["responsible"], expected_resp)
    # x = 16·2/64 − 0 = 0.5, y = 48·2/64 − 1 = 0.5, √w = √(24/64), √h = √(24/64)
    np.testing.assert_allclose(a["box"][0, 1, 0, 1], [0.5, 0.5, np.sqrt(0.375), np.sqrt(0.375)],
                               rtol=1e-6)
    assert a["conf"][0, 1, 0, 1] == pytest.approx(0.5)
    assert a["conf"].sum() == pytest.approx(0.5)
    np.testing.assert_array_equal(a["object"][0], [[0, 0], [1, 0]])
    np.testing.assert_array_equal(a["classes"][0, 1, 0], [0, 1, 0])
    assert a["classes"].sum() == 1
    # rescore=False: the confidence target is 1
    assert assign_targets(pred, [truth], 3, (64, 64), rescore=False)["conf"][0, 1, 0, 1] == 1


def test_assign_targets_keeps_one_object_per_cell():
    pred = np.zeros((2, 2, 2, 2, 4), np.float32)
    both = {"boxes": np.array([[0, 0, 20, 20], [2, 2, 30, 30], [40, 40, 60, 60]], np.float32),
            "labels": np.array([1, 2, 3])}
    none = {"boxes": np.zeros((0, 4), np.float32), "labels": np.zeros(0, np.int64)}
    a = assign_targets(pred, [none, both], 3, (64, 64))
    assert a["object"][0].sum() == 0
    np.testing.assert_array_equal(a["object"][1], [[1, 0], [0, 1]])
    np.testing.assert_array_equal(a["classes"][1, 0, 0], [1, 0, 0])   # the first of the two
    np.testing.assert_array_equal(a["classes"][1, 1, 1], [0, 0, 1])
    assert a["responsible"].sum() == 2


def test_paired_iou():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], np.float32)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(paired_iou(a, b), [50 / 150, 0.0])


def test_yolo_loss_by_hand():
    # N = 2 images, S = 1, B = 2, C = 2. Image 0: predictor 1 responsible, image 1: no object.
    boxes = np.zeros((2, 1, 1, 2, 5), np.float32)
    boxes[0, 0, 0, 1] = [0.6, 0.3, 0.5, 0.4, 0.7]
    boxes[0, 0, 0, 0, 4] = 0.2
    boxes[1, 0, 0, :, 4] = [0.1, 0.3]
    probs = np.array([[[[0.8, 0.2]]], [[[0.5, 0.5]]]], np.float32)
    resp = np.zeros((2, 1, 1, 2), np.float32)
    resp[0, 0, 0, 1] = 1
    box_t = np.zeros((2, 1, 1, 2, 4), np.float32)
    box_t[0, 0, 0, 1] = [0.5, 0.5, 0.3, 0.6]
    conf_t = np.zeros((2, 1, 1, 2), np.float32)
    conf_t[0, 0, 0, 1] = 0.9
    assigned = dict(responsible=resp, box=box_t, conf=conf_t,
                    object=np.array([[[1]], [[0]]], np.float32),
                    classes=np.array([[[[0, 1]]], [[[0, 0]]]], np.float32))
    losses = yolo_loss(tv.tensor(boxes), tv.tensor(probs), assigned, 5.0, 0.5)
    N = 2
    expected = {
        "loss_xy": 5 * (0.1 ** 2 + 0.2 ** 2) / N,
        "loss_wh": 5 * (0.2 ** 2 + 0.2 ** 2) / N,
        "loss_obj": (0.7 - 0.9) ** 2 / N,
        "loss_noobj": 0.5 * (0.2 ** 2 + 0.1 ** 2 + 0.3 ** 2) / N,
        "loss_class": (0.8 ** 2 + 0.8 ** 2) / N,        # only the cell with an object
    }
    for k, v in expected.items():
        assert losses[k].item() == pytest.approx(v, rel=1e-5), k


def test_a_few_sgd_steps_reduce_the_loss():
    tv.manual_seed(0)
    model = tiny_model().train()
    images, targets = tiny_batch()
    opt = optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    totals = []
    for _ in range(12):
        loss = sum(model(images, targets).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        totals.append(loss.item())
    assert totals[-1] < 0.5 * totals[0], totals


@pytest.mark.parametrize("kwargs", [dict(head="fc"), dict(activation="linear")])
def test_head_and_activation_options(kwargs):
    model = tiny_model(**kwargs).train()
    images, targets = tiny_batch()
    losses = model(images, targets)
    assert all(np.isfinite(v.item()) for v in losses.values())
    out = model.eval()(images)
    assert all(np.all((d["scores"].numpy() >= 0) & (d["scores"].numpy() <= 1)) for d in out)


@pytest.mark.parametrize("kwargs, match", [
    (dict(head="mlp"), "head must be 'fc' or 'conv'"),
    (dict(grid_size=0), "grid_size must be a positive int"),
    (dict(boxes_per_cell=1.5), "boxes_per_cell must be a positive int"),
    (dict(head="conv", grid_size=8), r"conv head reads c4.*64"),
    (dict(head="fc", image_size=(60, 64)), "multiples of 32"),
    (dict(activation="relu"), "activation must be 'logistic' or 'linear'"),
])
def test_bad_construction_raises(kwargs, match):
    with pytest.raises(ValueError, match="YOLOv1: .*" + match):
        tiny_model(**kwargs)


def test_bad_input_raises():
    model = tiny_model()
    images, targets = tiny_batch()
    with pytest.raises(ValueError, match="YOLOv1: in train mode the model needs targets"):
        model.train()(images)
    with pytest.raises(ValueError, match="YOLOv1: targets must be a list of 2 dicts"):
        model.train()(images, targets[:1])
    bad = [dict(targets[0], boxes=np.array([[10, 10, 5, 20]], np.float32)), targets[1]]
    with pytest.raises(ValueError, match=r"YOLOv1: targets\[0\]\['boxes'\] must be"):
        model.train()(images, bad)
    with pytest.raises(ValueError, match=r"YOLOv1: images must be \(64, 64\).*got \(32, 32\)"):
        model.eval()(np.zeros((1, 3, 32, 32), np.float32))


def test_augment_moves_boxes_with_the_pixels():
    image = np.zeros((3, 128, 128), np.float32)
    image[:, 40:80, 30:60] = 1.0                      # a white box (30, 40, 60, 80)
    target = {"boxes": np.array([[30, 40, 60, 80]], np.float32), "labels": np.array([2])}
    for seed in range(5):
        out, t = recipe.scale_translate(np.random.default_rng(seed), image, target, 0.2)
        ys, xs = np.nonzero(out[0] > 0.5)
        x1, y1, x2, y2 = t["boxes"][0]
        assert abs(xs.min() - x1) <= 1.5 and abs(xs.max() + 1 - x2) <= 1.5
        assert abs(ys.min() - y1) <= 1.5 and abs(ys.max() + 1 - y2) <= 1.5
    same, t = recipe.scale_translate(np.random.default_rng(0), image, target, 0.0)
    np.testing.assert_array_equal(same, image)
    np.testing.assert_array_equal(t["boxes"], target["boxes"])
    # exposure and saturation: a factor 1 changes nothing, values stay in [0, 1]
    rgb = np.random.default_rng(1).uniform(0, 1, (3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(recipe.exposure_saturation(np.random.default_rng(0), rgb, 1.0), rgb,
                               atol=1e-6)
    out = recipe.exposure_saturation(np.random.default_rng(0), rgb, 1.5)
    assert out.min() >= 0 and out.max() <= 1
