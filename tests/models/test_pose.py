"""Pose regression (DeepPose): shapes, the ℓ2 loss over visible joints only, PCK, the
coordinate normalisation, and the recipe's outputs (models/pose.py, recipes/pose.py)."""
import numpy as np
import pytest

import tinyvision as tv
from tinyvision import cli, optim, recipes
from tinyvision.models import PoseRegressor, pck, pose_loss
from tinyvision.models.pose import denormalize_joints, normalize_joints
from tinyvision.recipes import pose as P


def tiny():
    tv.manual_seed(0)
    return PoseRegressor(14, 3, 32, widths=(4, 8, 8), hidden=32)


def test_output_is_k_joints_starting_at_the_centre():
    model = tiny()
    y = model(tv.randn(2, 3, 32, 32))
    assert y.shape == (2, 14, 2)
    np.testing.assert_allclose(y.data, 0.0)                      # zero-initialised last layer
    np.testing.assert_allclose(model.predict(tv.randn(1, 3, 32, 32)), 16.0)   # image centre


def test_input_size_must_halve_evenly():
    with pytest.raises(ValueError, match=r"PoseRegressor: input_size .* 2\^3 = 8 .* got 20"):
        PoseRegressor(14, 3, 20, widths=(4, 8, 8))


def test_normalisation_is_centred_on_the_image_and_inverts():
    kp = np.array([[[0, 0, 1], [64, 32, 0], [16, 48, 1]]], np.float32)
    n = normalize_joints(kp, 64)
    np.testing.assert_allclose(n[0, :, :2], [[-0.5, -0.5], [0.5, 0], [-0.25, 0.25]])
    np.testing.assert_array_equal(n[..., 2], kp[..., 2])          # visibility kept
    np.testing.assert_allclose(denormalize_joints(n[..., :2], 64), kp[..., :2])


def test_loss_ignores_invisible_joints():
    pred = tv.tensor(np.zeros((2, 3, 2), np.float32), requires_grad=True)
    target = np.array([[[0.1, 0.2, 1], [0.3, 0.0, 0], [0.0, -0.1, 1]],
                       [[0.0, 0.0, 0], [0.2, 0.2, 1], [5.0, 5.0, 0]]], np.float32)
    loss = pose_loss(pred, target)
    # visible squared distances: 0.05 + 0.01 (image 0) and 0.08 (image 1), over N = 2
    assert loss.item() == pytest.approx((0.05 + 0.01 + 0.08) / 2, rel=1e-5)
    loss.backward()
    invisible = target[..., 2] == 0
    np.testing.assert_array_equal(pred.grad[invisible], 0.0)     # no pull towards them
    np.testing.assert_allclose(pred.grad[~invisible], -target[~invisible][:, :2], rtol=1e-5)
    moved = target.copy()
    moved[invisible, :2] += 3.0                                   # anywhere: same loss
    assert pose_loss(pred, moved).item() == pytest.approx(loss.item())


def test_loss_checks_the_target_shape():
    with pytest.raises(ValueError,
                       match=r"pose_loss: target must be \(N, k, 3\) .* got \(2, 3, 2\)"):
        pose_loss(tv.zeros(2, 3, 2), np.zeros((2, 3, 2), np.float32))


def test_loss_falls_on_a_tiny_batch():
    model = tiny()
    model.train()
    x = tv.randn(8, 3, 32, 32)
    rng = np.random.default_rng(0)
    target = np.concatenate([rng.uniform(-0.4, 0.4, (8, 14, 2)),
                             rng.random((8, 14, 1)) < 0.8], axis=2).astype(np.float32)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = pose_loss(model(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0], losses


def test_pck_counts_visible_joints_within_alpha_of_the_box_side():
    # Truth: a 40 x 20 box of joints (reference 40), joint 3 invisible.
    truth = np.array([[[0, 0, 1], [40, 0, 1], [40, 20, 1], [0, 20, 0]]], np.float32)
    pred = truth[..., :2] + np.array([[[3.9, 0], [0, 4.1], [-2, 2], [100, 100]]])
    score, per_joint = pck(pred, truth, alpha=0.1)                # threshold 4 px
    assert score == pytest.approx(2 / 3)                          # 3.9 and 2.83 px: in
    np.testing.assert_array_equal(per_joint[:3], [1, 0, 1])
    assert np.isnan(per_joint[3])                                 # never visible
    assert pck(pred, truth, alpha=0.2)[0] == 1.0
    assert pck(pred, truth, alpha=0.1, ref=[100])[0] == 1.0       # a given reference size
    # shifting and scaling everything alike changes nothing (normalised joints give the same)
    assert pck(pred * 0.5 + 3, np.concatenate([truth[..., :2] * 0.5 + 3, truth[..., 2:]], -1),
               alpha=0.1)[0] == pytest.approx(2 / 3)


def test_pck_checks_shapes():
    with pytest.raises(ValueError, match=r"pck: pred must be \(N, k, 2\) .* got \(1, 4, 3\)"):
        pck(np.zeros((1, 4, 3)), np.zeros((1, 4, 3)))


@pytest.fixture
def small_recipe(monkeypatch):
    """The recipe at a toy size: 32 training images at 32 px, a narrow net."""
    monkeypatch.setitem(P.SETTINGS, "widths", (4, 4, 4))
    monkeypatch.setitem(P.SETTINGS, "hidden", 16)
    monkeypatch.setitem(P.SETTINGS, "train_images", 32)
    monkeypatch.setitem(P.SETTINGS, "image_size", 32)


def test_flip_in_the_recipe_swaps_left_and_right(small_recipe):
    arrays = tv.data.StickFigures("test", n=3, image_size=32).arrays()
    plain, flipped = P.PoseData(arrays, 0.0, 1.0), P.PoseData(arrays, 0.0, 1.0, flip=True)
    flipped.flip.p = 1.0
    (x, k), (xf, kf) = plain[1], flipped[1]
    np.testing.assert_array_equal(xf, x[..., ::-1])
    fi = list(tv.data.StickFigures.FLIP_INDICES)
    np.testing.assert_allclose(kf[:, 0], -k[fi, 0], atol=1e-6)    # normalised x -> −x, renamed
    np.testing.assert_allclose(kf[:, 1:], k[fi, 1:], atol=1e-6)


def test_recipe_output_and_evaluate_from_the_checkpoint(small_recipe, tmp_path):
    r = recipes.train_task("pose", epochs=1, out=str(tmp_path), progress=False)
    assert set(r["metrics"]) == {"pck@0.1", "pck@0.2"}
    assert 0 <= r["metrics"]["pck@0.1"] <= r["metrics"]["pck@0.2"] <= 1
    assert list(r["per_joint"]) == list(tv.data.StickFigures.JOINTS)
    assert r["seconds"] > 0 and r["ms_per_image"] > 0
    assert all((tmp_path / p.split("/")[-1]).exists() for p in r["pictures"])
    again = recipes.task("pose").evaluate(r["checkpoint"])
    for key, value in r["metrics"].items():
        assert again[key] == pytest.approx(value, abs=1e-6)


def test_cli_trains_and_evaluates_the_task(small_recipe, tmp_path, capsys):
    assert cli.main(["train", "pose", "--epochs", "1", "--out", str(tmp_path)]) == 0
    assert "pose: pck@0.1" in capsys.readouterr().out
    assert cli.main(["eval", str(tmp_path / "pose.npz")]) == 0
    assert "pose (test split): pck@0.1" in capsys.readouterr().out
