"""Trainer(workers=2): the forked processes of data_parallel.py give the same training as one
process (same parameters, same logged means) for losses that are means over samples, keep a
detector's named losses, survive a batch smaller than the team, and stop cleanly, without
hanging, when a rank fails or the loss diverges.
"""
import numpy as np
import pytest

import tinyvision as tv
import tinyvision.functional as F
from tinyvision import nn, optim
from tinyvision.training import Trainer, TrainingDiverged
from tinyvision.training.data_parallel import shares


def mlp():
    tv.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 3))


def batches(sizes=(8, 8, 5), seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(n, 2)).astype(np.float32), rng.integers(0, 3, n))
            for n in sizes]


def fit(workers, data, model=None, **kwargs):
    model = model or mlp()
    opt = optim.Adam(model.parameters(), lr=0.05)
    history = Trainer(model, opt, progress=False, workers=workers, **kwargs).fit(data, epochs=3)
    return model, history


def test_shares_split_a_batch_with_rank_0_first():
    assert shares(8, 2) == [(0, 4), (4, 8)]
    assert shares(5, 2) == [(0, 3), (3, 5)]
    assert shares(1, 2) == [(0, 1), (1, 1)]
    assert shares(7, 3) == [(0, 3), (3, 5), (5, 7)]


@pytest.mark.parametrize("workers", [2, 3])
def test_two_or_three_processes_train_as_one(workers):
    data = batches()
    one, h1 = fit(1, data, clip_grad_norm=1.0)
    many, hw = fit(workers, data, clip_grad_norm=1.0)
    for (name, a), (_, b) in zip(one.state_dict().items(), many.state_dict().items()):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-6,
                                   err_msg=name)
    np.testing.assert_allclose(hw["train_loss"], h1["train_loss"], rtol=1e-5)
    np.testing.assert_allclose(hw["train_accuracy"], h1["train_accuracy"], rtol=1e-6)
    assert not np.allclose(np.asarray(mlp()[0].weight.data), np.asarray(many[0].weight.data))


class TwoLosses(nn.Module):
    """A model returning a dict of losses, as a detector in train mode (loss_fn=None)."""

    def __init__(self):
        super().__init__()
        tv.manual_seed(1)
        self.body = nn.Linear(2, 3)

    def forward(self, x, targets):
        out = self.body(tv.tensor(x))
        return {"loss_classifier": F.cross_entropy(out, targets),
                "loss_box_reg": (out * out).mean() * 0.1}


def test_named_losses_are_logged_and_a_batch_of_one_leaves_a_rank_idle():
    data = batches((6, 1, 4))
    one, h1 = fit(1, data, model=TwoLosses(), loss_fn=None)
    two, h2 = fit(2, data, model=TwoLosses(), loss_fn=None)
    assert {"train_loss_classifier", "train_loss_box_reg"} <= set(h2)
    for key in ("train_loss", "train_loss_classifier", "train_loss_box_reg"):
        np.testing.assert_allclose(h2[key], h1[key], rtol=1e-5, err_msg=key)
    np.testing.assert_allclose(np.asarray(two.body.weight.data),
                               np.asarray(one.body.weight.data), rtol=1e-4, atol=1e-6)


def test_a_failing_rank_stops_the_run_with_an_error_not_a_hang(capfd):
    def loss_fn(outputs, targets):
        if (np.asarray(targets) < 0).any():            # only in the second share
            raise KeyError("a bad target in the second half")
        return F.cross_entropy(outputs, targets)

    x, y = batches((8,))[0]
    y = y.copy()
    y[6] = -1
    with pytest.raises(RuntimeError, match="another rank"):
        fit(2, [(x, y)], loss_fn=loss_fn)
    assert "a bad target in the second half" in capfd.readouterr().err


def test_a_nan_loss_in_one_share_stops_every_rank():
    x, y = batches((8,))[0]
    x = x.copy()
    x[6] = np.nan                                      # only in rank 1's share
    with pytest.raises(TrainingDiverged, match="the loss became nan at epoch 1"):
        fit(2, [(x, y)], loss_fn=lambda outputs, targets: (outputs * outputs).mean(),
            metric_fn=None)


def test_bad_workers_get_a_clear_error():
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="Trainer: workers must be an int >= 1"):
            Trainer(mlp(), optim.SGD(mlp().parameters(), lr=0.1), workers=bad)


def test_a_detector_recipe_trains_with_two_workers(tmp_path, monkeypatch):
    from tinyvision.recipes import _detection
    from tinyvision.recipes import retinanet as recipe
    monkeypatch.setattr(recipe, "SETTINGS", dict(
        recipe.SETTINGS, train_images=16, epochs=1, workers=2,
        model=dict(widths=(8, 8, 8, 8), layers=(1, 1, 1, 1))))
    evaluate = _detection.evaluate_model                 # 20 test scenes, not all 500
    monkeypatch.setattr(_detection, "evaluate_model", lambda m, s, n=None: evaluate(m, s, 20))
    r = recipe.train(out=str(tmp_path), progress=False)
    assert r["history"]["epoch"] == [1]
    assert {"train_classification", "train_bbox_regression"} <= set(r["history"])
    assert 0 <= r["metrics"]["mAP@0.5"] <= 1
    model = recipe.load_model(r["checkpoint"])          # the checkpoint holds the team's model
    assert tv.load(r["checkpoint"])["meta"]["workers"] == 2
    assert _detection.count_parameters(model) == r["parameters"]
