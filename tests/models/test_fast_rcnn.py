"""Fast R-CNN: RoI sampling and targets, the multitask loss, a few training steps, the
detections' format, and the recipe's batches (models/fast_rcnn.py, recipes/fast_rcnn.py)."""
import numpy as np
import pytest

import tinyvision as tv
from tinyvision import optim
from tinyvision.data import ShapesScenes
from tinyvision.models import FastRCNN
from tinyvision.models.fast_rcnn import fast_rcnn_loss, truncated_svd
from tinyvision.recipes import fast_rcnn as recipe


def _scenes(n=2, size=64):
    return ShapesScenes("train", n=n, image_size=size, seed=7).arrays()


def _proposals(scenes, seed=0):
    """Jittered copies of the objects' boxes and a few boxes anywhere: (K_i, 4) per scene."""
    rng = np.random.default_rng(seed)
    size = scenes["images"].shape[-1]
    out = []
    for boxes in scenes["boxes"]:
        near = np.repeat(boxes, 6, axis=0) + rng.normal(scale=2.0, size=(6 * len(boxes), 4))
        xy = rng.uniform(0, size - 12, (20, 2))
        anywhere = np.concatenate([xy, xy + rng.uniform(6, 30, (20, 2))], axis=1)
        out.append(np.clip(np.concatenate([near, anywhere]), 0, size).astype(np.float32))
    return out


def test_training_samples_add_the_ground_truth_and_keep_a_quarter_foreground():
    s = _scenes(2)
    model = FastRCNN(batch_size_per_image=16, positive_fraction=0.25)
    tv.manual_seed(0)
    targets = [{"boxes": b, "labels": lab} for b, lab in zip(s["boxes"], s["labels"])]
    boxes, labels, box_targets = model.select_training_samples(
        [np.zeros((0, 4), np.float32)] * 2, targets)
    # no proposals at all: the ground-truth boxes are the only foreground, 4 at most
    assert [len(b) for b in boxes] == [min(4, len(b)) for b in s["boxes"]]
    assert (labels > 0).all()
    np.testing.assert_allclose(box_targets, 0, atol=1e-5)         # a box onto itself
    boxes, labels, box_targets = model.select_training_samples(_proposals(s), targets)
    assert all(len(b) <= 16 for b in boxes)
    per_image = np.split(labels, np.cumsum([len(b) for b in boxes])[:-1])
    assert all((lab > 0).sum() <= 4 for lab in per_image)
    assert set(labels) <= set(range(6)) and (labels == 0).any()
    np.testing.assert_array_equal(box_targets[labels == 0], 0)
    # the targets decode back onto the matched ground-truth box
    fg = labels[:len(boxes[0])] > 0
    decoded = model.box_coder.decode(box_targets[:len(boxes[0])][fg], boxes[0][fg]).numpy()
    iou = tv.ops.box_iou(decoded, s["boxes"][0]).numpy().max(axis=1)
    np.testing.assert_allclose(iou, 1, atol=1e-4)


def test_loss_reads_only_the_offsets_of_the_true_class():
    rng = np.random.default_rng(0)
    logits = tv.tensor(rng.normal(size=(4, 3)).astype(np.float32), requires_grad=True)
    deltas = rng.normal(size=(4, 12)).astype(np.float32)
    labels = np.array([2, 0, 1, 0])
    targets = rng.normal(size=(4, 4)).astype(np.float32)
    loss = fast_rcnn_loss(logits, tv.tensor(deltas), labels, targets)
    other = deltas.copy()
    other[0, 0:8] += 5        # row 0 is class 2: classes 0 and 1 do not count
    other[1] += 5             # row 1 is background: no box loss at all
    again = fast_rcnn_loss(logits, tv.tensor(other), labels, targets)
    assert loss["loss_box_reg"].item() == pytest.approx(again["loss_box_reg"].item())
    # by hand: smooth-L1 (beta 1) of rows 0 (class 2) and 2 (class 1), summed, over R = 4
    d = np.concatenate([deltas[0, 8:12] - targets[0], deltas[2, 4:8] - targets[2]])
    a = np.abs(d)
    expected = np.where(a < 1, 0.5 * a ** 2, a - 0.5).sum() / 4
    assert loss["loss_box_reg"].item() == pytest.approx(expected, rel=1e-5)
    none = fast_rcnn_loss(logits, tv.tensor(deltas), np.zeros(4, np.int64), targets)
    assert none["loss_box_reg"].item() == 0


@pytest.mark.parametrize("roi", ["pool", "align"])
def test_losses_fall_over_a_few_steps_on_two_scenes(roi):
    s = _scenes(2)
    tv.manual_seed(0)
    # every RoI in every step (no sampling noise): the same minibatch, overfitted
    model = FastRCNN(widths=(8, 16, 16, 16), hidden=32, roi=roi, mean=[0.5] * 3, std=[0.25] * 3,
                     batch_size_per_image=256, positive_fraction=1.0)
    model.train()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    targets = [{"boxes": b, "labels": lab, "proposals": p}
               for b, lab, p in zip(s["boxes"], s["labels"], _proposals(s))]
    history = []
    for _ in range(12):
        losses = model(s["images"], targets)
        assert set(losses) == {"loss_classifier", "loss_box_reg"}
        total = losses["loss_classifier"] + losses["loss_box_reg"]
        opt.zero_grad()
        total.backward()
        opt.step()
        history.append((losses["loss_classifier"].item(), losses["loss_box_reg"].item()))
    (cls0, box0), (cls1, box1) = history[0], history[-1]
    # the box head starts from N(0, 0.001²) (Sec. 2.2): its loss moves slowly at first
    assert cls1 < 0.75 * cls0 and box1 < 0.97 * box0, history


def test_detections_have_torchvisions_format():
    s = _scenes(2)
    model = FastRCNN(widths=(8, 16, 16, 16), hidden=32, score_thresh=0.0, detections_per_img=9)
    model.eval()
    out = model(s["images"], proposals=_proposals(s))
    assert len(out) == 2
    for d in out:
        assert d["boxes"].shape == (9, 4) and d["scores"].shape == (9,)
        scores = d["scores"].numpy()
        assert (0 <= scores).all() and (scores <= 1).all()
        assert d["labels"].dtype == np.int64 and set(d["labels"].numpy()) <= set(range(1, 6))
        assert d["boxes"].numpy().min() >= 0 and d["boxes"].numpy().max() <= 64
    found = model(s["images"][:1])                       # selective search inside
    assert found[0]["boxes"].shape[1] == 4
    with pytest.raises(ValueError, match="FastRCNN: in train mode the model needs targets"):
        model.train()(s["images"])
    with pytest.raises(ValueError, match="FastRCNN: roi must be 'pool' or 'align'"):
        FastRCNN(roi="warp")


def test_truncated_svd_is_exact_at_full_rank_and_close_at_a_lower_one():
    tv.manual_seed(0)
    fc = tv.nn.Linear(20, 8)
    x = tv.tensor(np.random.default_rng(0).normal(size=(5, 20)).astype(np.float32))
    full = truncated_svd(fc, 8)
    assert full[0].weight.shape == (8, 20) and full[0].bias is None
    np.testing.assert_allclose(full(x).numpy(), fc(x).numpy(), atol=1e-5)
    # rank 3: the error is what the dropped singular values carry, Eckart–Young
    low = truncated_svd(fc, 3)
    sigma = np.linalg.svd(fc.weight.numpy().astype(np.float64), compute_uv=False)
    W3 = low[1].weight.numpy().astype(np.float64) @ low[0].weight.numpy()
    assert np.linalg.norm(fc.weight.numpy() - W3) == pytest.approx(
        np.sqrt((sigma[3:] ** 2).sum()), rel=1e-4)
    with pytest.raises(ValueError, match=r"truncated_svd: rank must be an int in \[1, 8\]"):
        truncated_svd(fc, 9)
    model = FastRCNN(widths=(8, 16, 16, 16), hidden=32).eval()
    s = _scenes(1)
    before = model(s["images"], proposals=_proposals(s))[0]
    after = model.compress_heads(32, 32)(s["images"], proposals=_proposals(s))[0]
    np.testing.assert_allclose(after["scores"].numpy(), before["scores"].numpy(), atol=1e-4)


def test_recipe_batches_flip_images_boxes_and_proposals_together():
    np.testing.assert_array_equal(recipe.flip_boxes([[10, 2, 30, 8]], 128), [[98, 2, 118, 8]])
    s = _scenes(4)
    proposals = _proposals(s)
    batches = recipe.SceneBatches(s, proposals, images_per_batch=2, seed=1)
    assert len(batches) == 2
    for images, targets in batches:
        assert images.shape == (2, 3, 64, 64) and len(targets) == 2
        for image, t in zip(images.numpy(), targets):
            i = next(k for k in range(4) if np.array_equal(s["labels"][k], t["labels"])
                     and (np.array_equal(s["images"][k], image)
                          or np.array_equal(s["images"][k][..., ::-1], image)))
            flipped = not np.array_equal(s["images"][i], image)
            want = recipe.flip_boxes(s["boxes"][i], 64) if flipped else s["boxes"][i]
            np.testing.assert_allclose(t["boxes"], want)
            want = recipe.flip_boxes(proposals[i], 64) if flipped else proposals[i]
            np.testing.assert_allclose(t["proposals"], want)


def test_speed_comparison_reports_both_detectors():
    s = _scenes(2)
    model = FastRCNN(widths=(8, 16, 16, 32), hidden=32).eval()
    speed = recipe.compare_speed(model, s, _proposals(s), n=2)
    assert speed["rcnn_ms"] > 0 and speed["fast_rcnn_ms"] > 0 and speed["images"] == 2
    assert speed["speedup"] == pytest.approx(speed["rcnn_ms"] / speed["fast_rcnn_ms"])
    assert "untrained" in speed["rcnn"]
