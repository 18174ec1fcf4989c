"""tinyvision.training.Trainer: it learns, keeps a history, resumes bit for bit from a checkpoint,
stops with a message on a NaN loss, trains models that return a dict of losses, and never
unpickles; and the JSON part of tv.save/tv.load that checkpoints of optimizers need.
"""
import pickle
from collections import Counter

import numpy as np
import pytest
from PIL import Image

import tinyvision as tv
import tinyvision.functional as F
from tinyvision import nn, optim, viz
from tinyvision.training import Trainer, TrainingDiverged, accuracy


class Batches:
    """A minimal DataLoader: re-iterable, shuffles with its own ``generator`` (as DataLoader's)."""

    def __init__(self, x, y, batch_size, shuffle=False, seed=0):
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.generator = np.random.default_rng(seed)

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __iter__(self):
        order = self.generator.permutation(len(self.x)) if self.shuffle else np.arange(len(self.x))
        for i in range(0, len(order), self.batch_size):
            idx = order[i:i + self.batch_size]
            yield self.x[idx], self.y[idx]


def spiral_data(n_per_class=120, seed=0):
    x, y = tv.data.spirals(n_per_class=n_per_class, classes=3, noise=0.1, seed=seed)
    order = np.random.default_rng(seed).permutation(len(x))
    tr, va = order[: len(x) * 3 // 4], order[len(x) * 3 // 4:]
    return Batches(x[tr], y[tr], 32, shuffle=True), Batches(x[va], y[va], 64)


def mlp(hidden=64, dropout=0.0, batchnorm=False):
    layers = [nn.Linear(2, hidden)]
    layers += [nn.BatchNorm1d(hidden)] if batchnorm else []
    layers += [nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
    return nn.Sequential(*layers, nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 3))


def params(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


# ---- learning and the history ---------------------------------------------------------------
def test_an_mlp_learns_spirals_through_the_trainer(tmp_path):
    tv.manual_seed(0)
    train, val = spiral_data()
    model = mlp()
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=0.01), progress=False)
    history = trainer.fit(train, val, epochs=25, seed=0)

    assert list(history) == ["epoch", "train_loss", "train_accuracy", "val_loss",
                             "val_accuracy", "lr"]
    assert all(len(v) == 25 for v in history.values())
    assert history["epoch"] == list(range(1, 26))
    assert history["val_accuracy"][-1] >= 0.95
    assert history["train_loss"][-1] < history["train_loss"][0] / 5
    assert trainer.epoch == 25 and trainer.step == 25 * len(train)
    assert not model.training                       # fit leaves the model in eval mode
    # the accuracy in the history is the model's accuracy on the validation set
    with tv.no_grad():
        x, y = val.x, val.y
        assert history["val_accuracy"][-1] == pytest.approx(accuracy(model(x), y))

    picture = viz.plot_history(history, tmp_path / "curves.png")
    with Image.open(tmp_path / "curves.png") as im:
        assert im.size == (picture.shape[1], picture.shape[0]) and im.mode == "RGB"


def test_the_scheduler_steps_once_per_epoch_and_the_history_records_the_lr():
    train, _ = spiral_data(30)
    model = mlp(8)
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    history = Trainer(model, opt, scheduler=sched, progress=False).fit(train, epochs=5)
    assert history["lr"] == [0.1, 0.1, 0.05, 0.05, 0.025]
    assert "val_loss" not in history                 # no val_data, no val columns


def test_validation_runs_in_eval_mode_without_a_graph():
    calls = []

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 3)

        def forward(self, x):
            calls.append((self.training, tv.is_grad_enabled()))
            return self.fc(x)

    train, val = spiral_data(20)
    model = Spy()
    Trainer(model, optim.SGD(model.parameters(), lr=0.1), progress=False).fit(train, val, epochs=2)
    per_epoch = len(train) + len(val)
    assert calls == 2 * ([(True, True)] * len(train) + [(False, False)] * len(val))
    assert len(calls) == 2 * per_epoch


def test_gradient_clipping_bounds_each_step():
    train = [(np.full((4, 2), 100.0, np.float32), np.array([0, 1, 2, 0]))]
    model = mlp(8)
    before = np.concatenate([p.data.ravel() for p in model.parameters()])
    Trainer(model, optim.SGD(model.parameters(), lr=1.0), clip_grad_norm=1e-3,
            progress=False).fit(train, epochs=1)
    after = np.concatenate([p.data.ravel() for p in model.parameters()])
    assert 0 < np.linalg.norm(after - before) <= 1e-3 * (1 + 1e-4)   # lr · max_norm


# ---- checkpoints and resume ------------------------------------------------------------------
def _run(epochs, checkpoint=None, resume=None, init_seed=0):
    """A run with every source of state: dropout (global RNG), BatchNorm buffers, shuffling
    (the data's generator), Adam moments, a MultiStepLR (a Counter), gradient clipping."""
    tv.manual_seed(init_seed)
    train, val = spiral_data(40)
    model = mlp(16, dropout=0.2, batchnorm=True)
    opt = optim.Adam(model.parameters(), lr=0.02)
    sched = optim.lr_scheduler.MultiStepLR(opt, milestones=[1, 3, 3], gamma=0.5)
    trainer = Trainer(model, opt, scheduler=sched, clip_grad_norm=5.0, checkpoint=checkpoint,
                      progress=False)
    history = trainer.fit(train, val, epochs=epochs, resume=resume, seed=None if resume else 7)
    return trainer, history, train


def test_four_epochs_equal_two_then_resume_then_two(tmp_path):
    path = tmp_path / "run.npz"
    straight, history, train = _run(4)
    _run(2, checkpoint=path)
    # new objects, built from another seed: everything must come from the checkpoint
    resumed, history2, train2 = _run(4, checkpoint=path, resume=path, init_seed=123)

    a, b = params(straight.model), params(resumed.model)
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)   # bit for bit
    assert history2 == history
    assert resumed.step == straight.step and resumed.epoch == 4
    assert resumed.scheduler.get_last_lr() == straight.scheduler.get_last_lr()
    assert train2.generator.bit_generator.state == train.generator.bit_generator.state
    sa, sb = straight.optimizer.state_dict(), resumed.optimizer.state_dict()
    for i in sa["state"]:
        np.testing.assert_array_equal(sa["state"][i]["exp_avg_sq"], sb["state"][i]["exp_avg_sq"])
    assert tv.load(path)["epoch"] == 4             # the resumed run went on writing it
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]   # no temporary file left


def test_resume_is_exact_with_tinyvision_dataloader(tmp_path):
    """The same through tv.data.DataLoader: its ``generator`` (an int seed becomes a numpy
    Generator) is saved and restored with the checkpoint."""
    x, y = tv.data.spirals(n_per_class=30, classes=3, seed=1)

    def run(epochs, checkpoint=None, resume=None, init_seed=0):
        tv.manual_seed(init_seed)
        loader = tv.data.DataLoader(tv.data.TensorDataset(x, y), batch_size=16, shuffle=True,
                                    generator=0)
        model = mlp(8, dropout=0.1)
        trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                          checkpoint=checkpoint, progress=False)
        trainer.fit(loader, epochs=epochs, resume=resume)
        return params(model)

    path = tmp_path / "run.npz"
    straight = run(3)
    run(1, checkpoint=path)
    resumed = run(3, resume=path, init_seed=9)
    for k in straight:
        np.testing.assert_array_equal(straight[k], resumed[k], err_msg=k)


def test_a_run_with_a_seed_is_repeatable():
    a, _, _ = _run(2)
    b, _, _ = _run(2, init_seed=0)
    for k, v in params(a.model).items():
        np.testing.assert_array_equal(v, params(b.model)[k])


def test_resuming_a_finished_run_trains_no_more(tmp_path):
    path = tmp_path / "run.npz"
    done, history, _ = _run(2, checkpoint=path)
    again, history2, _ = _run(2, resume=path, init_seed=5)
    assert history2 == history and again.step == done.step


def test_the_checkpoint_never_unpickles(tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    _run(1, checkpoint=path)
    with np.load(path, allow_pickle=False) as f:    # every entry is a plain array
        assert all(f[k].dtype != object for k in f.files)

    def refuse(*args, **kwargs):
        raise AssertionError("a checkpoint load unpickled something")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    seen = []
    real_load = np.load

    def spy(*args, **kwargs):
        seen.append(kwargs.get("allow_pickle"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    trainer, _, _ = _run(2, resume=path, init_seed=1)
    assert trainer.epoch == 2 and seen == [False]


def test_resume_rejects_files_that_do_not_fit(tmp_path):
    model_only = tmp_path / "model.npz"
    mlp(16, batchnorm=True).save(model_only)
    with pytest.raises(ValueError, match="model.npz is not a training checkpoint"):
        _run(2, resume=model_only)
    with pytest.raises(FileNotFoundError):
        _run(2, resume=tmp_path / "missing.npz")
    path = tmp_path / "run.npz"
    _run(1, checkpoint=path)
    train, _ = spiral_data(40)
    model = mlp(16, dropout=0.2, batchnorm=True)
    no_scheduler = Trainer(model, optim.Adam(model.parameters()), progress=False)
    with pytest.raises(ValueError, match="run.npz was saved with an lr scheduler"):
        no_scheduler.fit(train, epochs=2, resume=path)
    small = mlp(8)                                   # another architecture
    opt = optim.Adam(small.parameters())
    other = Trainer(small, opt, scheduler=optim.lr_scheduler.StepLR(opt, 1), progress=False)
    with pytest.raises(ValueError, match="load_state_dict.*missing keys"):
        other.fit(train, epochs=2, resume=path)


# ---- stopping on NaN -------------------------------------------------------------------------
def test_a_nan_loss_stops_training_naming_the_epoch_and_step(tmp_path):
    train, _ = spiral_data(40)                      # 90 points: 3 batches per epoch
    model = mlp(8)
    calls = []

    def loss_that_breaks(logits, y):
        calls.append(1)
        loss = F.cross_entropy(logits, y)
        return loss * float("nan") if len(calls) == 5 else loss

    path = tmp_path / "run.npz"
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), loss_fn=loss_that_breaks,
                      checkpoint=path, progress=False)
    snapshots = []
    real_step = trainer.optimizer.step
    trainer.optimizer.step = lambda: (real_step(), snapshots.append(params(model)))
    with pytest.raises(TrainingDiverged, match=r"the loss became nan at epoch 2, step 5 "
                                               r"\(batch 2 of the epoch\)") as info:
        trainer.fit(train, epochs=3)
    assert "the last checkpoint (epoch 1) is" in str(info.value)
    assert info.value.epoch == 2 and info.value.step == 5
    assert len(info.value.history["train_loss"]) == 1
    for k, v in params(model).items():              # the NaN never reached the weights
        np.testing.assert_array_equal(v, snapshots[-1][k])
    assert len(snapshots) == 4 and tv.load(path)["epoch"] == 1


# ---- models that return their losses ---------------------------------------------------------
class TwoHeads(nn.Module):
    """Detector-style: train mode with targets -> a dict of named losses; eval -> logits."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 32), nn.ReLU())
        self.cls = nn.Linear(32, 3)
        self.reg = nn.Linear(32, 2)
        self.blow_up = False

    def forward(self, x, targets=None):
        h = self.body(x)
        if targets is None:
            return self.cls(h)
        loss_reg = F.mse_loss(self.reg(h), tv.tensor(x))   # reconstruct the input
        if self.blow_up:
            loss_reg = loss_reg * float("inf")
        return {"loss_classifier": F.cross_entropy(self.cls(h), targets), "loss_reg": loss_reg}


def test_a_model_returning_a_dict_of_losses_trains_and_logs_each():
    tv.manual_seed(0)
    train, val = spiral_data(60)
    model = TwoHeads()
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=0.01), loss_fn=None,
                      metric_fn=accuracy, progress=False)
    h = trainer.fit(train, val, epochs=6, seed=0)
    assert list(h) == ["epoch", "train_loss", "train_loss_classifier", "train_loss_reg",
                       "val_accuracy", "lr"]
    for total, a, b in zip(h["train_loss"], h["train_loss_classifier"], h["train_loss_reg"]):
        assert total == pytest.approx(a + b)
    assert h["train_loss"][-1] < 0.8 * h["train_loss"][0]
    # by default a loss-returning model gets no metric (its eval outputs need not be logits)
    assert Trainer(model, trainer.optimizer, loss_fn=None).metric_fn is None


def test_a_non_finite_named_loss_is_named():
    train, _ = spiral_data(20)
    model = TwoHeads()
    model.blow_up = True
    with pytest.raises(TrainingDiverged, match=r"loss_reg became inf at epoch 1, step 1 .*no checkpoint"):
        Trainer(model, optim.SGD(model.parameters(), lr=0.1), loss_fn=None,
                progress=False).fit(train, epochs=1)


def test_a_loss_fn_may_return_a_dict():
    train, _ = spiral_data(20)
    model = mlp(8)

    def two_terms(logits, y):
        return {"ce": F.cross_entropy(logits, y), "l2": (logits * logits).mean() * 1e-3}

    h = Trainer(model, optim.SGD(model.parameters(), lr=0.1), loss_fn=two_terms,
                progress=False).fit(train, epochs=1)
    assert {"train_loss", "train_ce", "train_l2", "train_accuracy"} <= set(h)


# ---- bad input -------------------------------------------------------------------------------
def test_bad_arguments_get_clear_errors():
    train, _ = spiral_data(20)
    model = mlp(8)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), progress=False)
    with pytest.raises(ValueError, match="epochs must be a positive int, got 0"):
        trainer.fit(train, epochs=0)
    with pytest.raises(TypeError, match="train_data is an iterator"):
        trainer.fit(iter(list(train)), epochs=1)
    with pytest.raises(TypeError, match=r"batch 1 must be an \(inputs, targets\) pair"):
        trainer.fit([train.x], epochs=1)
    with pytest.raises(ValueError, match="train_data gave no batches"):
        trainer.fit([], epochs=1)
    with pytest.raises(TypeError, match="loss_fn must give a 0-d Tensor"):
        Trainer(model, trainer.optimizer, loss_fn=lambda out, y: out,
                progress=False).fit(train, epochs=1)
    with pytest.raises(ValueError, match="clip_grad_norm must be > 0"):
        Trainer(model, trainer.optimizer, clip_grad_norm=0)
    with pytest.raises(ValueError, match="metric_fn must be a function, None or 'auto'"):
        Trainer(model, trainer.optimizer, metric_fn="acc")


# ---- tv.save / tv.load: the JSON values that optimizer and scheduler states need -------------
def _stepped(opt_cls, **kwargs):
    tv.manual_seed(0)
    model = mlp(4)
    opt = opt_cls(model.parameters(), **kwargs)
    x, y = tv.data.spirals(n_per_class=8, classes=3, seed=0)

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    for _ in range(2):
        opt.step(closure) if opt_cls is optim.LBFGS else (closure(), opt.step())
    return model, opt, closure


@pytest.mark.parametrize("opt_cls, kwargs", [
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (optim.Adam, dict(lr=0.01, amsgrad=True)),
    (optim.AdamW, dict(lr=0.01)),
    (optim.LBFGS, dict(lr=0.5, history_size=3, max_iter=3)),
])
def test_optimizer_state_round_trips_through_a_file(tmp_path, opt_cls, kwargs):
    model, opt, closure = _stepped(opt_cls, **kwargs)
    tv.save({"optimizer": opt.state_dict()}, tmp_path / "o.npz")
    loaded = tv.load(tmp_path / "o.npz")["optimizer"]
    original = opt.state_dict()
    assert sorted(loaded["state"]) == sorted(original["state"])  # int keys stay ints
    assert loaded["param_groups"][0].keys() == original["param_groups"][0].keys()
    for k, v in original["param_groups"][0].items():
        assert loaded["param_groups"][0][k] == v and type(loaded["param_groups"][0][k]) is type(v)

    twin = opt_cls(model.parameters(), **kwargs)
    twin.load_state_dict(loaded)
    before = params(model)
    opt.step(closure) if opt_cls is optim.LBFGS else (closure(), opt.step())
    expected = params(model)
    model.load_state_dict(before)
    twin.step(closure) if opt_cls is optim.LBFGS else (closure(), twin.step())
    for k, v in params(model).items():
        np.testing.assert_array_equal(v, expected[k])


def test_json_values_keep_their_python_types(tmp_path):
    obj = {"sched": {"milestones": Counter({3: 2, 5: 1}), "base_lrs": [0.1, 0.01],
                     "lambdas": [None, {"factor": 0.5}], "betas": (0.9, 0.999),
                     "nan": float("nan"), "big": 2 ** 100, "np32": np.float32(0.25)},
           "state": {0: {"step": 3, "buf": np.arange(3.0)}, "0": {"buf": np.ones(2)}},
           "empty": {}, "nested_empty": {"a": {}}, "weights": {"w": np.eye(2)},
           "meta": {"model": "lenet5", "num_classes": 10}, "epoch": 3}
    tv.save(obj, tmp_path / "x.npz")
    out = tv.load(tmp_path / "x.npz")
    s = out["sched"]
    assert type(s["milestones"]) is Counter and s["milestones"] == Counter({3: 2, 5: 1})
    assert s["base_lrs"] == [0.1, 0.01] and s["lambdas"] == [None, {"factor": 0.5}]
    assert s["betas"] == (0.9, 0.999) and np.isnan(s["nan"]) and s["big"] == 2 ** 100
    assert type(s["np32"]) is np.float32 and s["np32"] == 0.25
    assert out["state"][0]["step"] == 3 and type(out["state"][0]["step"]) is int
    np.testing.assert_array_equal(out["state"][0]["buf"], np.arange(3.0))
    np.testing.assert_array_equal(out["state"]["0"]["buf"], np.ones(2))  # 0 and "0" apart
    assert out["empty"] == {} and out["nested_empty"] == {"a": {}}
    np.testing.assert_array_equal(out["weights"]["w"], np.eye(2))
    assert out["meta"] == {"model": "lenet5", "num_classes": 10}
    assert type(out["meta"]["model"]) is str and type(out["meta"]["num_classes"]) is int
    assert out["epoch"].dtype == np.int64 and out["epoch"].shape == ()   # top level: arrays
    with np.load(tmp_path / "x.npz", allow_pickle=False) as f:
        assert "weights/w" in f.files and "state/0/buf" in f.files    # readable names


def _crafted(path, json_text, **arrays):
    np.savez(path, __json__=np.asarray(json_text), **arrays)


@pytest.mark.parametrize("json_text", [
    pytest.param("{not json", id="not JSON"),
    pytest.param('["a", "list"]', id="not a dict"),
    pytest.param('{"x": {"pickle": "os.system"}}', id="unknown tag"),
    pytest.param('{"x": {"ndarray": "missing"}}', id="missing array"),
    pytest.param('{"x": {"dict": [[["unhashable"], 1]]}}', id="unhashable key"),
    pytest.param('{"w": 1}', id="name of an array entry"),
    pytest.param("[" * 100000 + "]" * 100000, id="deep nesting"),
])
def test_a_bad_json_value_raises_valueerror_naming_the_file(tmp_path, json_text):
    path = tmp_path / "crafted.npz"
    _crafted(path, json_text, w=np.zeros(2))
    before = path.read_bytes()
    with pytest.raises(ValueError, match="crafted.npz"):
        tv.load(path)
    assert path.read_bytes() == before


def test_save_refuses_what_json_cannot_hold_before_writing(tmp_path):
    path = tmp_path / "x.npz"
    tv.save({"a": np.zeros(1)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=r"save: 'opt/groups/0/fn' holds a function"):
        tv.save({"opt": {"groups": [{"fn": lambda: 0}]}}, path)
    with pytest.raises(TypeError, match="object array"):
        tv.save({"opt": [np.array([object()])]}, path)
    with pytest.raises(ValueError, match="'__json__' is reserved"):
        tv.save({"__json__": 1}, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["x.npz"]
