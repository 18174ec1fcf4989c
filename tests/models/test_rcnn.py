"""R-CNN: context padding, warping, the three stages' labels and solvers, the detector's output
and the recipe's wiring (models/rcnn.py, recipes/rcnn.py), on tiny inputs."""
import numpy as np
import pytest

import tinyvision as tv
import tinyvision.functional as F
from tinyvision import optim
from tinyvision.data import ShapesScenes
from tinyvision.models import RCNN, RCNNNet
from tinyvision.models.rcnn import (add_context, boxes_to_rois, fit_box_regressors,
                                    label_regions, sample_regions, svm_targets, train_svms,
                                    warp_regions)
from tinyvision.ops import BoxCoder
from tinyvision.recipes import rcnn as recipe


def test_context_padding_leaves_p_pixels_around_the_box_at_the_papers_size():
    # at 227 px, a box dilated for p = 16 fills 195 px: it grows by 227 / 195 about its centre
    out = add_context([[0, 0, 195, 195], [10, 20, 30, 60]], warp_size=227)
    np.testing.assert_allclose(out[0], [-16, -16, 211, 211], atol=1e-4)
    np.testing.assert_allclose(out[1], [20 - 10 * 227 / 195, 40 - 20 * 227 / 195,
                                        20 + 10 * 227 / 195, 40 + 20 * 227 / 195], rtol=1e-6)
    # the same relative growth at 32 px: p = 16 * 32 / 227 px of the warped crop
    np.testing.assert_allclose(add_context([[0, 0, 195, 195]], warp_size=32), out[:1],
                               atol=1e-4)


def test_warp_of_a_box_at_its_own_size_is_the_crop_and_outside_reads_the_mean():
    rng = np.random.default_rng(0)
    images = rng.random((2, 3, 20, 24)).astype(np.float32)
    crops = warp_regions(images, [np.zeros((0, 4)), [[4, 2, 12, 10]]], 8)
    assert crops.shape == (1, 3, 8, 8)
    np.testing.assert_allclose(crops[0], images[1, :, 2:10, 4:12], atol=1e-6)
    mean = images.mean(axis=(0, 2, 3)).reshape(1, 3, 1, 1)
    far = warp_regions(images, [[[-40, -40, -30, -30]], []], 4, mean=mean)
    np.testing.assert_allclose(far, 0, atol=1e-7)       # beyond the image: the mean, 0 after


def test_boxes_to_rois_numbers_the_images():
    rois = boxes_to_rois([[[0, 0, 1, 1]], np.zeros((0, 4)), [[1, 2, 3, 4], [5, 6, 7, 8]]])
    np.testing.assert_array_equal(rois[:, 0], [0, 2, 2])
    np.testing.assert_array_equal(rois[2, 1:], [5, 6, 7, 8])


def test_region_labels_and_the_quarter_of_foreground():
    gt, gt_labels = np.array([[10, 10, 50, 50]], np.float32), np.array([3])
    props = np.array([[10, 10, 50, 48], [0, 0, 20, 20], [60, 60, 100, 100]] * 20, np.float32)
    regions, iou, matched, labels = label_regions(props, gt, gt_labels)
    assert len(regions) == 61 and iou[-1] == pytest.approx(1.0)       # the box itself is a region
    np.testing.assert_array_equal(matched[0], gt[0])
    boxes, y = sample_regions(np.random.default_rng(0), props, gt, gt_labels, per_image=16)
    assert len(boxes) == 16 and (y == 3).sum() == 4 and (y == 0).sum() == 12
    assert set(np.unique(y)) <= {0, 3}


def test_svm_targets_follow_the_papers_rule():
    gt = np.array([[0, 0, 40, 40], [60, 60, 100, 100]], np.float32)
    gt_labels = np.array([1, 2])
    regions = np.concatenate([np.array([[0, 0, 40, 36],      # IoU 0.9 with the class-1 box
                                        [0, 0, 40, 10],      # IoU 0.25
                                        [200, 200, 210, 210]], np.float32), gt])
    is_gt = np.array([False, False, False, True, True])
    _, _, _, labels = label_regions(regions[:3], gt, gt_labels)     # proposals, then gt
    y = svm_targets(regions, is_gt, labels, gt, gt_labels, 3)
    np.testing.assert_array_equal(y[:, 0], [0, -1, -1, 1, -1])   # class 1: gt +, near 0, far −
    np.testing.assert_array_equal(y[:, 1], [-1, -1, -1, -1, 1])
    np.testing.assert_array_equal(y[:, 2], [-1] * 5)             # no box of class 3: all −


def test_svms_separate_separable_classes_and_ignore_unlabelled_rows():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)).astype(np.float32)
    y = np.stack([np.sign(x[:, 0] + 0.5 * x[:, 1]), np.sign(x[:, 2] - 1)], axis=1)
    y[:20, 0] = 0                                     # ignored rows may lie on either side
    x[:20, 0] = -x[:20, 0]
    w, b = train_svms(x, y, lam=1e-4, steps=300)
    assert w.shape == (2, 6) and b.shape == (2,)
    scores = x @ w.T + b
    assert (np.sign(scores[20:, 0]) == y[20:, 0]).mean() >= 0.97
    assert (np.sign(scores[:, 1]) == y[:, 1]).mean() >= 0.97


def test_ridge_regression_recovers_a_linear_map_of_the_box_offsets():
    rng = np.random.default_rng(1)
    n, D = 200, 5
    proposals = np.concatenate([rng.uniform(0, 50, (n, 2)), rng.uniform(60, 100, (n, 2))], 1)
    features = rng.normal(size=(n, D))
    true_w = rng.normal(scale=0.05, size=(D, 4))
    gt = BoxCoder().decode(features @ true_w + 0.1, proposals).numpy()
    labels = np.where(np.arange(n) < 150, 1, 2)
    w, b = fit_box_regressors(features, proposals, gt, labels, num_classes=3, lam=1e-6)
    np.testing.assert_allclose(w[0], true_w, atol=1e-3)
    np.testing.assert_allclose(b[0], [0.1] * 4, atol=1e-3)
    np.testing.assert_array_equal(w[2], 0)                       # no rows: zero offsets
    # a large lambda shrinks the weights towards 0, leaving the mean offset
    w_big, b_big = fit_box_regressors(features, proposals, gt, labels, 3, lam=1e9)
    assert np.abs(w_big).max() < 1e-4


def test_rcnn_net_shapes_and_its_loss_falls_on_a_tiny_batch():
    tv.manual_seed(0)
    net = RCNNNet(num_classes=5, warp_size=32, hidden=64)
    x = tv.tensor(np.random.default_rng(0).normal(size=(12, 3, 32, 32)).astype(np.float32))
    y = tv.tensor(np.arange(12) % 6)
    pool5, fc7 = net.features(x)
    assert pool5.shape == (12, 64 * 4 * 4) and fc7.shape == (12, 64)
    assert net(x).shape == (12, 6)
    opt = optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(8):
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], losses
    with pytest.raises(ValueError, match="RCNNNet: warp_size must be a multiple of 8"):
        RCNNNet(warp_size=30)


def _scenes(n=2):
    return ShapesScenes("train", n=n, image_size=64, seed=5).arrays()


def test_rcnn_detections_have_torchvisions_format():
    s = _scenes()
    model = RCNN(num_classes=5, hidden=32, score_thresh=-10.0, detections_per_img=7).eval()
    proposals = [np.array([[2, 2, 30, 30], [10, 5, 60, 40], [0, 0, 64, 64]], np.float32),
                 np.zeros((0, 4), np.float32)]
    out = model(s["images"], proposals=proposals)
    assert len(out) == 2
    assert out[0]["boxes"].shape == (7, 4) and out[0]["scores"].shape == (7,)
    assert out[0]["labels"].dtype == np.int64 and set(out[0]["labels"].numpy()) <= set(range(1, 6))
    boxes = out[0]["boxes"].numpy()
    assert boxes.min() >= 0 and boxes.max() <= 64                      # clipped to the image
    assert out[1]["boxes"].shape == (0, 4)
    # without proposals it runs selective search itself
    found = model(s["images"][:1])
    assert found[0]["boxes"].shape[1] == 4
    with pytest.raises(ValueError, match="RCNN: got 1 proposal arrays for 2 images"):
        model(s["images"], proposals=proposals[:1])
    with pytest.raises(ValueError, match="RCNN: images"):
        model(np.zeros((2, 64, 64), np.float32))


def test_recipe_stages_run_on_a_few_scenes():
    # the recipe's wiring on 3 scenes: fine-tuning batches, features, SVMs and regressors
    s = _scenes(3)
    proposals = [np.concatenate([b + 1.5, np.array([[0, 0, 20, 20], [30, 30, 64, 64]])])
                 .astype(np.float32) for b in s["boxes"]]
    model = RCNN(num_classes=5, hidden=32, mean=[0.5] * 3, std=[0.25] * 3)
    batches = recipe.RegionCrops(model, s, proposals, batch_size=8, per_image=6)
    seen = [(x.shape, y.numpy()) for x, y in batches]
    assert 3 <= sum(shape[0] for shape, _ in seen) <= 3 * 6 and len(seen) <= len(batches)
    assert seen[0][0][1:] == (3, 32, 32)
    assert all(set(y) <= set(range(6)) for _, y in seen)
    feats = recipe.region_features(model, s, proposals, np.random.default_rng(0), per_image=4)
    assert feats["pool5"].shape[0] == feats["fc7"].shape[0] == feats["targets"].shape[0]
    settings = dict(recipe.SETTINGS, svm_steps=20, reg_iou=0.5)
    rows = recipe.fit_svms_and_regressors(model, feats, settings)
    assert rows["regression_rows"] > 0
    assert float(model.feature_scale.data) > 0 and np.abs(model.svm_weight.data).sum() > 0
    metrics, preds, ms = recipe.evaluate_model(model, s, proposals)
    assert 0 <= metrics["mAP@0.5"] <= 1 and ms > 0 and len(preds) == 3


def test_bad_arguments_raise_errors_naming_the_function():
    with pytest.raises(ValueError, match=r"add_context: boxes must be \(N, 4\)"):
        add_context([1, 2, 3])
    with pytest.raises(ValueError, match=r"train_svms: features must be \(N, D\)"):
        train_svms(np.zeros((4, 3)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"train_svms: .*\(values \[0.0, 2.0\]\)"):
        train_svms(np.zeros((2, 3)), [[0, 2], [0, 0]])
    with pytest.raises(ValueError, match="fit_box_regressors: features"):
        fit_box_regressors(np.zeros((3, 2)), [[0, 0, 4, 4]] * 2, [[0, 0, 5, 5]] * 2, [1, 1], 2)
