"""Sliding-window detection: the window grid, crop-and-resize, the window classifier, its
training crops, and the naive detector's output (models/sliding_window.py,
recipes/_window_classifier.py, recipes/sliding_window.py)."""
import numpy as np
import pytest

import tinyvision as tv
import tinyvision.functional as F
from tinyvision import optim
from tinyvision.data import ShapesScenes
from tinyvision.models import SlidingWindowDetector, WindowClassifier
from tinyvision.models.sliding_window import crop_and_resize, sliding_windows, window_scales
from tinyvision.ops import box_iou
from tinyvision.recipes import _window_classifier as W


def test_window_grid_of_one_scale():
    # a 32 px window at stride 4 on a 128 px image: 25 x 25 windows, row by row
    boxes = sliding_windows(128, 128, (128, 128), window=32, stride=4)
    assert boxes.shape == (625, 4)
    np.testing.assert_allclose(boxes[0], [0, 0, 32, 32])
    np.testing.assert_allclose(boxes[1], [4, 0, 36, 32])
    np.testing.assert_allclose(boxes[25], [0, 4, 32, 36])
    np.testing.assert_allclose(boxes[-1], [96, 96, 128, 128])
    # the image resized to 64: windows of 64 px, 8 px apart
    boxes = sliding_windows(128, 128, (64, 64), window=32, stride=4)
    assert boxes.shape == (81, 4)
    np.testing.assert_allclose(boxes[1], [8, 0, 72, 64])


def test_window_scales_skip_windows_larger_than_the_image():
    assert window_scales(128, 128, (16, 32, 64, 160)) == [(256, 256), (128, 128), (64, 64)]
    assert window_scales(100, 60, (30,)) == [(107, 64)]


def test_crop_and_resize_equals_a_window_of_the_resized_image():
    # The naive detector's crops are exactly the windows of F.interpolate's resized image:
    # the reason the naive detector and Overfeat score the same pixels.
    rng = np.random.default_rng(0)
    image = rng.random((3, 50, 70)).astype(np.float32)
    for resized in [(80, 112), (33, 46), (50, 70)]:
        big = F.interpolate(tv.tensor(image[None]), size=resized, mode="bilinear").data[0]
        boxes = sliding_windows(50, 70, resized, window=32, stride=4)
        crops = crop_and_resize(image, boxes, 32)
        k = len(boxes) - 1                       # the last window: right and bottom edges
        nw = (resized[1] - 32) // 4 + 1
        i, j = divmod(k, nw)
        np.testing.assert_allclose(crops[k], big[:, 4 * i:4 * i + 32, 4 * j:4 * j + 32],
                                   atol=1e-5)
        np.testing.assert_allclose(crops[0], big[:, :32, :32], atol=1e-5)


def test_crop_and_resize_of_the_whole_image_at_its_size_is_the_image():
    image = np.random.default_rng(1).random((3, 16, 16)).astype(np.float32)
    out = crop_and_resize(image, [[0, 0, 16, 16]], 16)
    assert out.shape == (1, 3, 16, 16) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], image, atol=1e-6)


def test_window_classifier_shapes_and_arguments():
    net = WindowClassifier(5)
    x = tv.tensor(np.random.default_rng(0).random((3, 3, 32, 32)).astype(np.float32))
    assert net(x).shape == (3, 6)
    assert net.box_offsets(x).shape == (3, 4)
    assert net.feature_shape == (32, 5, 5)
    assert set(net.state_dict()) >= {"mean", "std"}
    with pytest.raises(ValueError, match=r"WindowClassifier: window .* got 30"):
        WindowClassifier(5, window=30)


def _tiny_crops(n_scenes=6):
    scenes = ShapesScenes("train", n=n_scenes, seed=3).arrays()
    return W.make_crops(scenes, np.random.default_rng(0), 2, 4)


def test_training_windows_follow_the_labelling_rule():
    scenes = ShapesScenes("train", n=5, seed=1).arrays()
    rng = np.random.default_rng(0)
    for boxes, labels in zip(scenes["boxes"], scenes["labels"]):
        windows, y, t = W.sample_windows(rng, boxes, labels, 128, 2, 8)
        sq = W.square_boxes(boxes)
        iou = box_iou(windows, sq).data
        assert (windows[:, 2] - windows[:, 0] == pytest.approx(windows[:, 3] - windows[:, 1]))
        assert windows.min() >= 0 and windows.max() <= 128
        pos = y > 0
        assert (iou[pos].max(1) >= 0.5).all() and (iou[~pos].max(1) < 0.3).all()
        assert set(y[pos]) <= set(labels) and (~pos).sum() == 8
        # the regression targets give the object's box back from the window
        from tinyvision.models.overfeat import decode_offsets
        best = iou[pos].argmax(1)
        np.testing.assert_allclose(decode_offsets(windows[pos], t[pos]), boxes[best], atol=1e-4)
        assert (t[~pos] == 0).all()


def test_window_classifier_loss_falls_on_a_tiny_batch():
    crops = _tiny_crops()
    x, y = tv.tensor(crops["crops"][:48]), tv.tensor(crops["labels"][:48])
    mean = crops["crops"].mean(axis=(0, 2, 3))
    net = WindowClassifier(5, mean=mean, std=crops["crops"].std(axis=(0, 2, 3)))
    opt = optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        loss = F.cross_entropy(net(x), y) + F.smooth_l1_loss(net.box_offsets(x),
                                                             tv.tensor(crops["targets"][:48]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_window_crops_batches_are_fresh_each_epoch_and_seedable():
    scenes = ShapesScenes("train", n=3, seed=2).arrays()
    crops = W.WindowCrops(scenes, batch_size=16, positives_per_object=1, negatives_per_image=4)
    first = [b for b in crops]
    again = [b for b in crops]
    assert first[0][0].shape[1:] == (3, 32, 32) and first[0][1].dtype == np.int64
    assert sum(len(b[1]) for b in first) <= len(crops) * 16
    assert not np.array_equal(first[0][0].data, again[0][0].data)


def test_sliding_window_detector_output_and_window_count():
    net = WindowClassifier(5)
    det = SlidingWindowDetector(net, window_sizes=(32, 64), stride=8, score_thresh=0.0,
                                nms_thresh=1.0, detections_per_img=7)
    assert len(det.windows(64, 64)) == 5 * 5 + 1
    images = np.random.default_rng(0).random((2, 3, 64, 64)).astype(np.float32)
    out = det(images)
    assert len(out) == 2
    for d in out:
        assert d["boxes"].shape == (7, 4) and d["boxes"].dtype == np.float32
        assert d["labels"].dtype == np.int64 and set(d["labels"].data) <= set(range(1, 6))
        s = d["scores"].data
        assert (np.diff(s) <= 0).all() and ((s >= 0) & (s <= 1)).all()
    # the same result from a list of images
    again = det(list(images))
    np.testing.assert_array_equal(again[1]["boxes"].data, out[1]["boxes"].data)


@pytest.mark.parametrize("images, match", [
    (np.zeros((3, 64, 64), np.float32), r"SlidingWindowDetector: images must be \(N, 3, H, W\), "
                                         r"got shape \(3, 64, 64\)"),
    ([np.zeros((1, 64, 64), np.float32)], r"SlidingWindowDetector: images\[0\] must be a "
                                           r"\(3, H, W\) float image, got shape \(1, 64, 64\)"),
    ([np.zeros((3, 64, 64), np.uint8)], r"images\[0\] .* dtype uint8"),
])
def test_sliding_window_detector_rejects_bad_images(images, match):
    with pytest.raises(ValueError, match=match):
        SlidingWindowDetector(WindowClassifier(5))(images)


def test_sliding_window_detector_rejects_bad_arguments():
    with pytest.raises(TypeError, match="SlidingWindowDetector: classifier must be a "
                                        "WindowClassifier, got Linear"):
        SlidingWindowDetector(tv.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="SlidingWindowDetector: stride must be a positive "
                                         "int, got 0"):
        SlidingWindowDetector(WindowClassifier(5), stride=0)


def test_recipe_checkpoint_evaluates_to_its_metrics(tmp_path, monkeypatch):
    from tinyvision import load, recipes
    from tinyvision.recipes import sliding_window as recipe
    assert recipes.TASKS["sliding_window"] == "sliding_window"
    monkeypatch.setattr(recipe, "EVAL_IMAGES", 2)
    monkeypatch.setattr(recipe, "DETECTOR", dict(recipe.DETECTOR, window_sizes=(64, 96)))
    net = WindowClassifier(5)
    path = tmp_path / "sw.npz"
    W.save_window_classifier(net, path, "sliding_window",
                             dict(seconds=1.0, val_accuracy=0.5, history={"epoch": [1]}))
    assert str(load(path)["meta"]["task"]) == "sliding_window"
    metrics = recipe.evaluate(str(path))
    assert set(metrics) == {"map50", "windows_per_image"}
    assert 0 <= metrics["map50"] <= 1 and metrics["windows_per_image"] == 5 * 5 + 2 * 2


def test_hard_negatives_are_mined_from_confident_background_windows():
    scenes = ShapesScenes("train", n=2, seed=4).arrays()
    net = WindowClassifier(5).eval()
    hard = W.mine_hard_negatives(net, scenes, per_image=3, score_thresh=0.0)
    assert hard.shape == (6, 3, 32, 32) and hard.dtype == np.float32
    assert W.mine_hard_negatives(net, scenes, per_image=3, score_thresh=1.01).shape[0] == 0
    crops = W.WindowCrops(scenes, batch_size=8, positives_per_object=1, negatives_per_image=2)
    crops.hard_negatives = hard
    epoch = crops.sample()
    np.testing.assert_array_equal(epoch["crops"][-6:], hard)
    assert (epoch["labels"][-6:] == 0).all() and (epoch["targets"][-6:] == 0).all()


def test_recipe_train_returns_the_task_contract(tmp_path, monkeypatch):
    from tinyvision import load
    from tinyvision.recipes import sliding_window as recipe
    info = dict(seconds=2.0, val_accuracy=0.5, history={"epoch": [1], "val_accuracy": [0.5]})
    monkeypatch.setattr(recipe, "train_window_classifier",
                        lambda epochs, seed, progress: (WindowClassifier(5).eval(), info))
    monkeypatch.setattr(recipe, "EVAL_IMAGES", 8)
    monkeypatch.setattr(recipe, "DETECTOR", dict(recipe.DETECTOR, window_sizes=(64, 96)))
    r = recipe.train(out=str(tmp_path), progress=False)
    assert set(r["metrics"]) == {"map50", "windows_per_image"} and r["seconds"] == 2.0
    assert r["ms_per_image"] > 0 and r["eval_images"] == 8
    assert str(load(r["checkpoint"])["meta"]["task"]) == "sliding_window"
    assert [p.endswith(".png") for p in r["pictures"]] == [True]
    assert (tmp_path / "sliding_window-shapes-detections.png").stat().st_size > 0
