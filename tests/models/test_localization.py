"""Single-object localization: the two heads, the α-weighted loss, box decoding, and the
recipe's outputs (models/localization.py, recipes/localization.py)."""
import numpy as np
import pytest

import tinyvision as tv
from tinyvision import cli, optim, recipes
from tinyvision.models import Localizer, localization_loss
from tinyvision.models.localization import box_regression_loss, boxes_to_targets
from tinyvision.recipes import localization as L


def tiny(**kw):
    tv.manual_seed(0)
    return Localizer(5, 3, 32, widths=(4, 8, 8), hidden=16, **kw)


def test_two_heads_shapes_and_initial_box():
    model = tiny()
    scores, boxes = model(tv.randn(3, 3, 32, 32))
    assert scores.shape == (3, 5) and boxes.shape == (3, 4)
    # the box head starts at the centred half-size box (cx, cy, w, h) = 0.5
    np.testing.assert_allclose(boxes.data, 0.5, atol=1e-6)
    names = [n for n, _ in model.named_parameters()]
    assert any(n.startswith("cls_head") for n in names)
    assert any(n.startswith("box_head") for n in names)


def test_input_size_must_halve_evenly():
    with pytest.raises(ValueError, match=r"Localizer: input_size .* 2\^3 = 8 .* got 36"):
        Localizer(5, 3, 36, widths=(4, 8, 8))


def test_loss_is_alpha_weighted_cross_entropy_plus_box_loss():
    model = tiny()
    out = model(tv.randn(4, 3, 32, 32))
    labels = np.array([0, 1, 2, 3])
    boxes = np.array([[0.5, 0.5, 0.3, 0.4], [0.2, 0.7, 0.1, 0.2], [0.6, 0.4, 0.5, 0.5],
                      [0.5, 0.5, 0.5, 0.5]], np.float32)
    ce = tv.functional.cross_entropy(out[0], labels).item()
    d = out[1].data - boxes
    l2 = (d ** 2).sum(1).mean()
    beta = 1 / 9
    sl1 = np.where(np.abs(d) < beta, 0.5 * d ** 2 / beta, np.abs(d) - beta / 2).sum(1).mean()
    for alpha, kind, box in ((0.3, "l2", l2), (0.3, "smooth_l1", sl1), (1.0, "l2", l2),
                             (0.0, "smooth_l1", sl1)):
        losses = localization_loss(out, (labels, boxes), alpha=alpha, box_loss=kind)
        assert set(losses) == {"loss_classifier", "loss_box"}
        np.testing.assert_allclose(losses["loss_classifier"].item(), alpha * ce, rtol=1e-5)
        np.testing.assert_allclose(losses["loss_box"].item(), (1 - alpha) * box, rtol=1e-5,
                                   atol=1e-7)


def test_loss_arguments_are_checked():
    out = tiny()(tv.randn(2, 3, 32, 32))
    good = (np.array([0, 1]), np.full((2, 4), 0.5, np.float32))
    with pytest.raises(ValueError, match=r"localization_loss: alpha .* \[0, 1\], got 1.5"):
        localization_loss(out, good, alpha=1.5)
    with pytest.raises(ValueError, match=r"box_regression_loss: kind .* got 'l3'"):
        localization_loss(out, good, box_loss="l3")
    with pytest.raises(ValueError,
                       match=r"localization_loss: box targets .* \(2, 4\), got \(2, 5\)"):
        localization_loss(out, (good[0], np.zeros((2, 5), np.float32)))


@pytest.mark.parametrize("kind", ["l2", "smooth_l1"])
def test_loss_falls_on_a_tiny_batch(kind):
    model = tiny()
    x = tv.randn(8, 3, 32, 32)
    boxes = np.random.default_rng(0).uniform(0.2, 0.8, (8, 4)).astype(np.float32)
    targets = (np.arange(8) % 5, boxes)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    history = []
    for _ in range(30):
        losses = localization_loss(model(x), targets, alpha=0.5, box_loss=kind)
        loss = losses["loss_classifier"] + losses["loss_box"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append([v.item() for v in losses.values()])
    first, last = np.array(history[0]), np.array(history[-1])
    assert (last < 0.5 * first).all(), history            # both terms fall
    assert all(p.grad is not None for p in model.parameters())


def test_predict_decodes_boxes_to_pixels():
    model = tiny()
    model.box_head.bias.data[:] = [0.25, 0.5, 0.5, 0.25]     # (cx, cy, w, h) / S, weights 0
    p = model.predict(tv.randn(2, 3, 32, 32))
    assert p["labels"].shape == (2,) and p["labels"].dtype.kind == "i"
    assert ((0 < p["scores"]) & (p["scores"] <= 1)).all()
    np.testing.assert_allclose(p["boxes"], [[0, 12, 16, 20]] * 2, atol=1e-5)
    model.box_head.bias.data[:] = [0.0, 1.0, 0.5, 0.5]       # half outside: clipped
    np.testing.assert_allclose(model.predict(tv.randn(1, 3, 32, 32))["boxes"], [[0, 24, 8, 32]],
                               atol=1e-5)
    model.box_head.bias.data[:] = [0.5, 0.5, -0.2, 0.25]     # a negative width: taken as 0
    np.testing.assert_allclose(model.predict(tv.randn(1, 3, 32, 32))["boxes"],
                               [[16, 12, 16, 20]], atol=1e-5)
    # and the training metric takes such a box too (IoU 0 with any box)
    out = (None, tv.tensor([[0.5, 0.5, -0.2, 0.25], [0.5, 0.5, 0.5, 0.5]]))
    assert L.mean_iou(out, (None, np.full((2, 4), 0.5, np.float32))) == pytest.approx(0.5)


def test_box_targets_are_centre_and_size_over_the_image_side():
    t = boxes_to_targets(np.array([[4, 8, 12, 24]], np.float32), 32)
    np.testing.assert_allclose(t, [[8 / 32, 16 / 32, 8 / 32, 16 / 32]])
    assert t.dtype == np.float32


def test_box_regression_loss_is_zero_at_the_target():
    b = tv.tensor(np.full((3, 4), 0.3, np.float32))
    assert box_regression_loss(b, b.data, "l2").item() == 0.0


def test_flip_moves_the_box_with_the_image():
    arrays = tv.data.ShapesScenes("test", n=4, image_size=32, single_object=True).arrays()
    plain = L.LocalizationData(arrays, 0.0, 1.0)
    flipped = L.LocalizationData(arrays, 0.0, 1.0, flip=True)
    flipped.flip.p = 1.0
    (x, (y, b)), (xf, (yf, bf)) = plain[2], flipped[2]
    np.testing.assert_array_equal(xf, x[..., ::-1])
    assert y == yf
    np.testing.assert_allclose(bf, [1 - b[0], b[1], b[2], b[3]], atol=1e-6)


@pytest.fixture
def small_recipe(monkeypatch):
    """The recipe at a toy size: 64 training images, a narrow net."""
    monkeypatch.setitem(L.SETTINGS, "widths", (4, 4, 4))
    monkeypatch.setitem(L.SETTINGS, "hidden", 16)
    monkeypatch.setitem(L.SETTINGS, "train_images", 64)


def test_recipe_output_and_evaluate_from_the_checkpoint(small_recipe, tmp_path):
    r = recipes.train_task("localization", epochs=1, out=str(tmp_path), progress=False)
    assert set(r["metrics"]) == {"accuracy", "mean_iou"}
    assert 0 <= r["metrics"]["accuracy"] <= 1 and 0 <= r["metrics"]["mean_iou"] <= 1
    assert r["seconds"] > 0 and r["ms_per_image"] > 0
    assert all(p.endswith(".png") and (tmp_path / p.split("/")[-1]).exists()
               for p in r["pictures"])
    assert tv.load(r["checkpoint"])["meta"]["task"] == "localization"
    again = recipes.task("localization").evaluate(r["checkpoint"])
    for key, value in r["metrics"].items():
        assert again[key] == pytest.approx(value, abs=1e-6)


def test_cli_trains_and_evaluates_the_task(small_recipe, tmp_path, capsys):
    assert cli.main(["train", "localization", "--epochs", "1", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "localization: accuracy" in printed and "mean_iou" in printed
    ckpt = tmp_path / f"localization-alpha{L.SETTINGS['alpha']:g}-smooth_l1.npz"
    assert cli.main(["eval", str(ckpt)]) == 0
    assert "localization (test split): accuracy" in capsys.readouterr().out
