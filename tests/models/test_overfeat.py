"""Overfeat: FC layers as convolutions give the same scores, one pass gives every window's
score, the pyramid matches the naive sliding window window for window, box offsets and
greedy merging (models/overfeat.py, recipes/overfeat.py)."""
import numpy as np
import pytest

import tinyvision as tv
from tinyvision import nn
from tinyvision.models import Overfeat, SlidingWindowDetector, WindowClassifier, fc_to_conv
from tinyvision.models.overfeat import decode_offsets, encode_offsets, merge_detections


def _trained_looking_net(seed=0):
    """A WindowClassifier with random weights scaled so its scores vary (a fresh one gives
    nearly uniform softmax scores, which would make the comparisons below too easy)."""
    tv.manual_seed(seed)
    net = WindowClassifier(5, mean=[0.5, 0.4, 0.45], std=[0.2, 0.25, 0.2])
    for p in net.parameters():
        p.data *= 3
    return net.eval()


def _image(h, w, seed=0):
    return np.random.default_rng(seed).random((3, h, w)).astype(np.float32)


def test_fc_to_conv_gives_the_classifiers_scores_on_a_crop():
    net = _trained_looking_net()
    convs = fc_to_conv(net.classifier, net.feature_shape)
    assert [type(m).__name__ for m in convs] == ["Conv2d", "ReLU", "Conv2d", "ReLU", "Conv2d"]
    assert convs[0].weight.shape == (128, 32, 5, 5) and convs[2].weight.shape == (128, 128, 1, 1)
    crops = tv.tensor(np.stack([_image(32, 32, s) for s in range(4)]))
    with tv.no_grad():
        fc = net(crops).data
        features = net.features(net.normalize(crops))
        conv = convs(features).data
    assert conv.shape == (4, 6, 1, 1)
    np.testing.assert_allclose(conv[:, :, 0, 0], fc, rtol=1e-5, atol=1e-5)
    assert np.ptp(fc) > 1    # the scores differ between classes and crops


def test_one_pass_over_a_larger_image_gives_every_windows_score():
    net = _trained_looking_net(1)
    overfeat = Overfeat(net)
    image = _image(48, 44, 2)
    with tv.no_grad():
        logits, offsets = overfeat.score_maps(tv.tensor(image[None]))
    # (48 - 32) / 4 + 1 = 5 rows, (44 - 32) / 4 + 1 = 4 columns
    assert logits.shape == (1, 6, 5, 4) and offsets.shape == (1, 4, 5, 4)
    for i in range(5):
        for j in range(4):
            crop = tv.tensor(image[None, :, 4 * i:4 * i + 32, 4 * j:4 * j + 32])
            with tv.no_grad():
                np.testing.assert_allclose(logits.data[0, :, i, j], net(crop).data[0],
                                           rtol=1e-4, atol=1e-4)
                np.testing.assert_allclose(offsets.data[0, :, i, j], net.box_offsets(crop).data[0],
                                           rtol=1e-4, atol=1e-4)


def test_pyramid_scores_equal_the_naive_sliding_window_over_the_same_windows():
    net = _trained_looking_net(2)
    sizes = (24, 40, 64)                   # upsampling, and downsampling by 1.25 and 2
    naive = SlidingWindowDetector(net, window_sizes=sizes, stride=4)
    overfeat = Overfeat(net, window_sizes=sizes)
    image = _image(64, 72, 3)
    windows, probs = naive.score_windows(image)
    cells, offsets, cell_probs = overfeat.score_windows(image)
    assert len(windows) == 14 * 17 + 5 * 7 + 1 * 2     # (85, 96), (51, 58), (32, 36) px
    np.testing.assert_allclose(cells, windows, rtol=1e-12)
    np.testing.assert_allclose(cell_probs, probs, atol=2e-5)
    assert offsets.shape == (len(windows), 4)
    # without regression and with NMS, Overfeat is the naive detector: same detections
    plain = Overfeat(net, window_sizes=sizes, regression=False, merge="nms")
    a, b = plain([image])[0], naive([image])[0]
    np.testing.assert_array_equal(a["labels"].data, b["labels"].data)
    np.testing.assert_allclose(a["boxes"].data, b["boxes"].data, atol=1e-4)


def test_fc_to_conv_checks_its_layers():
    with pytest.raises(ValueError, match=r"fc_to_conv: the first Linear reads 800 features, "
                                         r"but in_shape \(32, 4, 4\) has 512"):
        fc_to_conv(WindowClassifier(5).classifier, (32, 4, 4))
    with pytest.raises(TypeError, match=r"fc_to_conv: layers\[1\] is a BatchNorm1d"):
        fc_to_conv(nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)), (4, 1, 1))
    with pytest.raises(ValueError, match=r"fc_to_conv: Flatten must come first"):
        fc_to_conv(nn.Sequential(nn.Linear(4, 3), nn.Flatten()), (4, 1, 1))
    with pytest.raises(ValueError, match="fc_to_conv: layers has no Linear layer"):
        fc_to_conv(nn.Sequential(nn.Flatten(), nn.ReLU()), (4, 1, 1))
    with pytest.raises(TypeError, match="Overfeat: classifier must be a WindowClassifier"):
        Overfeat(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="Overfeat: merge must be 'merge' or 'nms', got 'avg'"):
        Overfeat(WindowClassifier(5), merge="avg")


def test_box_offsets_round_trip_and_meaning():
    windows = np.array([[0, 0, 32, 32], [10, 20, 50, 60]], float)
    boxes = np.array([[4, 8, 28, 24], [10, 20, 50, 60]], float)
    t = encode_offsets(windows, boxes)
    np.testing.assert_allclose(t[0], [4 / 32, 8 / 32, -4 / 32, -8 / 32])
    np.testing.assert_allclose(t[1], 0)
    np.testing.assert_allclose(decode_offsets(windows, t), boxes)


def test_greedy_merging_averages_each_cluster_by_score():
    boxes = [[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60], [3, 3, 13, 13]]
    scores = [0.9, 0.3, 0.8, 0.5, 0.4]
    labels = [1, 1, 2, 1, 1]   # box 2 overlaps box 0 but is another class; box 4 overlaps
    out = merge_detections(boxes, scores, labels, iou_threshold=0.3)  # box 0 by IoU 0.33
    np.testing.assert_allclose(out["scores"].data, [0.9, 0.8, 0.5])
    np.testing.assert_array_equal(out["labels"].data, [1, 2, 1])
    # box 0 with box 1 (IoU 0.68 > 0.5), weights 0.9 and 0.3; box 4 is suppressed, not averaged
    np.testing.assert_allclose(out["boxes"].data[0], [0.25, 0.25, 10.25, 10.25], atol=1e-6)
    np.testing.assert_allclose(out["boxes"].data[1:], [[0, 0, 10, 10], [50, 50, 60, 60]])
    empty = merge_detections(np.zeros((0, 4)), [], [], 0.5)
    assert empty["boxes"].shape == (0, 4) and empty["scores"].shape == (0,)


def test_overfeat_output_format_with_regression():
    net = _trained_looking_net(3)
    out = Overfeat(net, window_sizes=(32, 64), score_thresh=0.0, merge_thresh=1.0,
                   detections_per_img=5)(
        np.stack([_image(64, 64, 4), _image(64, 64, 5)]))
    assert len(out) == 2
    for d in out:
        assert d["boxes"].shape == (5, 4) and d["boxes"].dtype == np.float32
        assert d["labels"].dtype == np.int64 and set(d["labels"].data) <= set(range(1, 6))
        assert (np.diff(d["scores"].data) <= 0).all()
        b = d["boxes"].data        # regressed boxes: ordered corners, inside the image
        assert (b[:, 2:] >= b[:, :2]).all() and b.min() >= 0 and b.max() <= 64


def test_recipe_evaluate_reports_the_speedup_and_both_maps(tmp_path, monkeypatch):
    from tinyvision import recipes
    from tinyvision.recipes import _window_classifier as W
    from tinyvision.recipes import overfeat as recipe
    assert recipes.TASKS["overfeat"] == "overfeat"
    small = W.test_scenes(3)
    monkeypatch.setattr(recipe, "test_scenes", lambda n=None: small)
    monkeypatch.setattr(recipe, "SPEED_IMAGES", 1)
    monkeypatch.setattr(recipe, "DETECTOR", dict(recipe.DETECTOR, window_sizes=(64, 96)))
    path = tmp_path / "of.npz"
    W.save_window_classifier(_trained_looking_net(), path, "overfeat",
                             dict(seconds=1.0, val_accuracy=0.5, history={"epoch": [1]}))
    metrics = recipe.evaluate(str(path))
    assert set(metrics) == {"map50", "map50_windows", "speedup", "naive_ms", "ms_per_image",
                            "windows_per_image"}
    assert metrics["windows_per_image"] == 9 * 9 + 3 * 3
    assert metrics["speedup"] > 0 and 0 <= metrics["map50"] <= 1


def test_images_smaller_than_every_window_give_no_detections():
    net = _trained_looking_net()
    tiny = [_image(20, 20)]
    for detector in (Overfeat(net, window_sizes=(32, 64)),
                     SlidingWindowDetector(net, window_sizes=(32, 64))):
        d = detector(tiny)[0]
        assert d["boxes"].shape == (0, 4) and d["scores"].shape == (0,)
