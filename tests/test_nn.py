"""tinyvision.nn: the Module API, containers, hooks, modes, checkpoints (state dicts, .npz files,
and what happens when saving or loading goes wrong), and an MLP that learns with every
optimizer of tinyvision.optim.
"""
import re
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import tinyvision as tv
import tinyvision.functional as F
import tinyvision.nn as nn
import tinyvision.optim as optim


class Block(nn.Module):
    """A small nested model: a Sequential of layers, a head, a buffer."""

    def __init__(self):
        super().__init__()
        self.layer = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5))
        self.head = nn.Linear(8, 3)
        self.register_buffer("steps", tv.tensor(np.zeros((), np.int64)))

    def forward(self, x):
        return self.head(self.layer(x))


def snapshot(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def assert_state_equal(a, b):
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        assert np.asarray(a[k]).dtype == np.asarray(b[k]).dtype, k


# ---- walking the tree ---------------------------------------------------------------------------
def test_named_parameters_have_nested_dotted_names():
    m = Block()
    assert [n for n, _ in m.named_parameters()] == [
        "layer.0.weight", "layer.0.bias", "layer.1.weight", "layer.1.bias",
        "head.weight", "head.bias"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in m.parameters())
    assert [n for n, _ in m.named_parameters(recurse=False)] == []
    assert [n for n, _ in m.head.named_parameters(prefix="h")] == ["h.weight", "h.bias"]


def test_shared_weights_are_listed_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Linear(3, 3)
            self.decoder = nn.Linear(3, 3)
            self.decoder.weight = self.encoder.weight  # a tied weight
            self.again = self.encoder                  # the same module under two names

    m = Tied()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["encoder.weight", "encoder.bias", "decoder.bias"]
    assert len(list(m.parameters())) == 3
    assert [n for n, _ in m.named_modules()] == ["", "encoder", "decoder"]  # as PyTorch
    # the state dict keeps every name (as PyTorch), so it loads back into the same structure
    assert list(m.state_dict()) == ["encoder.weight", "encoder.bias", "decoder.weight",
                                    "decoder.bias", "again.weight", "again.bias"]
    m.load_state_dict(m.state_dict())


def test_buffers():
    m = Block()
    assert [n for n, _ in m.named_buffers()] == [
        "steps", "layer.1.running_mean", "layer.1.running_var", "layer.1.num_batches_tracked"]
    assert all(not b.requires_grad for b in m.buffers())
    assert "layer.1.running_mean" in m.state_dict()
    assert [n for n, _ in m.named_buffers(recurse=False)] == ["steps"]


def test_assigning_a_tensor_to_a_buffer_name_replaces_the_buffer():
    m = nn.BatchNorm1d(3)
    m.running_mean = tv.ones(3)  # as in PyTorch: still a buffer, still in the state dict
    assert "running_mean" in dict(m.named_buffers())
    np.testing.assert_array_equal(m.state_dict()["running_mean"], np.ones(3))


def test_reassigning_parameters_and_none():
    lin = nn.Linear(2, 3)
    lin.bias = None
    assert lin.bias is None and [n for n, _ in lin.named_parameters()] == ["weight"]
    assert lin(tv.zeros(1, 2)).data.tolist() == [[0, 0, 0]]
    new = nn.Parameter(np.ones(3, np.float32))
    lin.bias = new
    assert lin.bias is new and [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
    lin.weight = nn.Parameter(np.zeros((3, 2), np.float32))  # keeps its place in the order
    assert list(lin.state_dict()) == ["weight", "bias"]


def test_children_modules_named_modules():
    m = Block()
    assert [type(c).__name__ for c in m.children()] == ["Sequential", "Linear"]
    assert [n for n, _ in m.named_children()] == ["layer", "head"]
    assert [n for n, _ in m.named_modules()] == [
        "", "layer", "layer.0", "layer.1", "layer.2", "layer.3", "head"]
    assert [type(x).__name__ for x in m.modules()] == [
        "Block", "Sequential", "Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    seen = []
    assert m.apply(lambda mod: seen.append(type(mod).__name__)) is m
    assert seen[-1] == "Block" and len(seen) == 7  # children first, then the module


def test_attribute_errors_name_the_class():
    with pytest.raises(AttributeError, match="'Block' object has no attribute 'missing'"):
        Block().missing

    class Forgot(nn.Module):
        def __init__(self):
            self.w = 1

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Forgot()


def test_deleting_a_submodule_unregisters_it():
    m = Block()
    del m.head
    assert [n for n, _ in m.named_children()] == ["layer"]
    assert not any(k.startswith("head.") for k in m.state_dict())


# ---- modes and gradients ------------------------------------------------------------------------
def test_train_eval_reaches_every_module():
    m = Block()
    assert m.training and all(x.training for x in m.modules())
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    m.train(False)
    assert not any(x.training for x in m.modules())


def test_dropout_is_the_identity_in_eval_mode():
    d = nn.Dropout(0.5)
    x = tv.ones(50, 40)
    y = d(x)
    assert 0.4 < (y.data == 0).mean() < 0.6
    np.testing.assert_array_equal(np.unique(y.data), [0, 2])
    d.eval()
    np.testing.assert_array_equal(d(x).data, x.data)


def test_batchnorm_uses_running_statistics_in_eval_mode():
    bn = nn.BatchNorm1d(3).double()
    x = tv.tensor(np.random.default_rng(0).normal(5, 2, (16, 3)))
    y = bn(x)  # training: batch statistics, running ones move by momentum 0.1
    np.testing.assert_allclose(y.data.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean.data, 0.1 * x.data.mean(0))
    np.testing.assert_allclose(bn.running_var.data, 0.9 + 0.1 * x.data.var(0, ddof=1))
    assert int(bn.num_batches_tracked.item()) == 1
    bn.eval()
    before = snapshot(bn)
    y = bn(x)
    expected = (x.data - bn.running_mean.data) / np.sqrt(bn.running_var.data + bn.eps)
    np.testing.assert_allclose(y.data, expected, rtol=1e-12)
    assert_state_equal(snapshot(bn), before)  # eval changes no statistic


def test_zero_grad():
    m = Block()
    F.cross_entropy(m(tv.randn(5, 4)), tv.tensor([0, 1, 2, 0, 1])).backward()
    assert all(p.grad is not None and np.any(p.grad != 0) for p in m.parameters())
    kept = {n: p.grad for n, p in m.named_parameters()}
    m.zero_grad(set_to_none=False)
    for n, p in m.named_parameters():
        assert p.grad is kept[n] and not np.any(p.grad)  # zeroed in place
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_requires_grad_():
    m = Block()
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    assert not m(tv.randn(3, 4)).requires_grad


def test_to_double_and_back():
    m = Block()
    params = list(m.parameters())
    F.cross_entropy(m(tv.randn(5, 4)), tv.tensor([0, 1, 2, 0, 1])).backward()
    assert m.to(np.float64) is m
    assert list(m.parameters()) == params  # the same Parameter objects, now float64
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in m.parameters())
    assert m.layer[1].running_var.dtype == np.float64
    assert m.steps.dtype == np.int64 and m.layer[1].num_batches_tracked.dtype == np.int64
    x = tv.tensor(np.random.default_rng(1).normal(size=(5, 4)))
    assert m(x).dtype == np.float64
    m.float()
    assert all(p.dtype == np.float32 for p in m.parameters())
    assert m.double() is m and m.head.weight.dtype == np.float64
    assert m.head.weight.is_leaf and m.head.weight.requires_grad


# ---- state dicts -----------------------------------------------------------------------------
def test_state_dict_round_trip():
    a, b = Block(), Block()
    a(tv.randn(6, 4))  # move a's running statistics
    b.load_state_dict({k: v.copy() for k, v in a.state_dict().items()})
    assert_state_equal(snapshot(a), snapshot(b))
    a.eval(), b.eval()
    x = tv.randn(3, 4)
    np.testing.assert_array_equal(a(x).data, b(x).data)
    # loading copies: b does not share a's arrays
    a.head.weight.data += 1
    assert not np.array_equal(a.head.weight.data, b.head.weight.data)


def test_state_dict_accepts_tensors_as_values():
    a, b = Block(), Block()
    b.load_state_dict({k: tv.tensor(v) for k, v in a.state_dict().items()})
    assert_state_equal(snapshot(a), snapshot(b))


def _corrupted_state_dicts():
    good = snapshot(Block())
    missing = dict(good)
    del missing["head.bias"], missing["layer.1.running_var"]
    unexpected = dict(good, **{"head.extra": np.zeros(2), "tail.weight": np.zeros(1)})
    wrong_shape = dict(good, **{"head.weight": np.zeros((3, 9))})
    everything = dict(unexpected, **{"head.weight": np.zeros((2, 8))})
    del everything["layer.0.bias"]
    return [
        (missing, ["missing keys", "head.bias", "layer.1.running_var"]),
        (unexpected, ["unexpected keys", "head.extra", "tail.weight"]),
        (wrong_shape, ["shape mismatch", "head.weight", r"\(3, 8\)", r"\(3, 9\)"]),
        (everything, ["missing keys", "layer.0.bias", "unexpected keys", "head.extra",
                      "shape mismatch", r"\(2, 8\)"]),
    ]


@pytest.mark.parametrize("case", range(4))
def test_load_state_dict_names_every_problem_and_changes_nothing(case):
    bad, expected = _corrupted_state_dicts()[case]
    # every value that fits differs from the model's, so a partial load would show
    bad = {k: np.asarray(v) + 1 if v.dtype.kind == "f" else v for k, v in bad.items()}
    m = Block()
    before = snapshot(m)
    with pytest.raises(ValueError, match="load_state_dict") as info:
        m.load_state_dict(bad)
    for pattern in expected:
        assert re.search(pattern, str(info.value)), (pattern, str(info.value))
    assert_state_equal(snapshot(m), before)


def test_load_state_dict_non_strict():
    m = Block()
    sd = snapshot(Block())
    del sd["head.bias"]
    sd["extra"] = np.zeros(3)
    before_bias = m.head.bias.data.copy()
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert missing == ["head.bias"] and unexpected == ["extra"]
    np.testing.assert_array_equal(m.head.weight.data, sd["head.weight"])
    np.testing.assert_array_equal(m.head.bias.data, before_bias)
    # shapes must still fit
    sd["head.weight"] = np.zeros((1, 1))
    before = snapshot(m)
    with pytest.raises(ValueError, match="shape mismatch for 'head.weight'"):
        m.load_state_dict(sd, strict=False)
    assert_state_equal(snapshot(m), before)


# ---- files -----------------------------------------------------------------------------------
def test_module_save_load_round_trip(tmp_path):
    a, b = Block(), Block()
    a(tv.randn(6, 4))
    path = tmp_path / "block.npz"
    a.save(path)
    b.load(path)
    assert_state_equal(snapshot(a), snapshot(b))
    assert b.layer[1].num_batches_tracked.dtype == np.int64
    c = Block()
    c.load_state_dict(tv.load(str(path)))  # a str path works too
    assert_state_equal(snapshot(a), snapshot(c))


def test_tv_save_load_nested_dicts_ints_floats(tmp_path):
    model = Block()
    obj = {"model": model.state_dict(), "epoch": 7, "lr": 0.125, "best": np.float32(0.5),
           "optim": {"state": {"0": {"step": 3, "exp_avg": tv.ones(2, 2)}}, "lrs": [0.1, 0.01]},
           "name": "run-1", "flag": True}
    path = tmp_path / "ckpt.npz"
    tv.save(obj, path)
    out = tv.load(path)
    assert sorted(out) == sorted(obj)
    assert_state_equal(out["model"], dict(model.state_dict()))
    assert out["epoch"] == 7 and out["epoch"].dtype.kind == "i"
    assert out["lr"] == 0.125 and out["lr"].dtype.kind == "f"
    assert out["best"].dtype == np.float32
    assert out["optim"]["state"]["0"]["step"] == 3
    np.testing.assert_array_equal(out["optim"]["state"]["0"]["exp_avg"], np.ones((2, 2)))
    np.testing.assert_array_equal(out["optim"]["lrs"], [0.1, 0.01])
    assert str(out["name"]) == "run-1" and bool(out["flag"]) is True
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]  # no temporary file left


def test_save_overwrites_atomically(tmp_path):
    path = tmp_path / "w.npz"
    tv.save({"a": np.zeros(3)}, path)
    tv.save({"a": np.ones(3)}, path)
    np.testing.assert_array_equal(tv.load(path)["a"], np.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]


@pytest.mark.parametrize("error", [OSError("No space left on device"), KeyboardInterrupt()])
def test_a_save_that_fails_midway_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch,
                                                                        error):
    path = tmp_path / "model.npz"
    m = Block()
    m.save(path)
    old = path.read_bytes()

    def savez_that_fails(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")  # some bytes reach the disk, then it fails
        raise error

    monkeypatch.setattr(np, "savez", savez_that_fails)
    with pytest.raises(type(error)):
        Block().save(path)
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
    monkeypatch.undo()
    m2 = Block()
    m2.load(path)
    assert_state_equal(snapshot(m2), snapshot(m))


def test_save_rejects_what_it_cannot_store_without_touching_the_file(tmp_path):
    path = tmp_path / "x.npz"
    tv.save({"a": np.arange(3)}, path)
    old = path.read_bytes()
    with pytest.raises(TypeError, match="save: 'b' holds a object"):
        tv.save({"a": np.arange(3), "b": object()}, path)
    with pytest.raises(ValueError, match="keys must be strings"):
        tv.save({1: np.zeros(2)}, path)
    with pytest.raises(TypeError, match="expected a dict"):
        tv.save([np.zeros(2)], path)
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["x.npz"]


def _valid_bytes(tmp_path):
    p = tmp_path / "valid.npz"
    Block().save(p)
    data = p.read_bytes()
    p.unlink()
    return data


@pytest.mark.parametrize("corruption", ["truncated", "garbage", "empty", "flipped bytes",
                                        "flipped data bytes"])
def test_a_corrupt_file_raises_valueerror_naming_it_and_is_left_as_it_was(tmp_path, corruption):
    good = _valid_bytes(tmp_path)
    bad = {"truncated": good[: len(good) // 2], "garbage": b"not a checkpoint at all" * 10,
           "empty": b"",
           "flipped bytes": good[:-60] + bytes(b ^ 0xFF for b in good[-60:]),
           # inside an array's data: only the zip's CRC-32 tells, and it must be checked
           "flipped data bytes": good[:300] + bytes(b ^ 0xFF for b in good[300:308]) + good[308:],
           }[corruption]
    path = tmp_path / "broken.npz"
    path.write_bytes(bad)
    m = Block()
    before = snapshot(m)
    with pytest.raises(ValueError, match="broken.npz"):
        tv.load(path)
    with pytest.raises(ValueError, match="broken.npz"):
        m.load(path)
    assert path.read_bytes() == bad
    assert_state_equal(snapshot(m), before)


def test_a_missing_file_raises_filenotfounderror(tmp_path):
    with pytest.raises(FileNotFoundError):
        tv.load(tmp_path / "nope.npz")


_UNPICKLED = []


def _record_unpickling():
    _UNPICKLED.append(True)
    return "payload ran"


class _Trap:
    """Unpickling this calls _record_unpickling: it would be a stranger's code running."""

    def __reduce__(self):
        return (_record_unpickling, ())


def test_a_pickled_object_array_is_never_unpickled(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, weight=np.zeros(3), payload=np.array([_Trap()], dtype=object))
    _UNPICKLED.clear()
    with pytest.raises(ValueError, match="evil.npz"):
        tv.load(path)
    m = nn.Linear(3, 1)
    before = snapshot(m)
    with pytest.raises(ValueError, match="evil.npz"):
        m.load(path)
    assert _UNPICKLED == []
    assert_state_equal(snapshot(m), before)
    assert zipfile.is_zipfile(path)  # the file is still there, untouched


def test_a_plain_pickle_is_never_unpickled(tmp_path):
    import pickle
    path = tmp_path / "model.npz"
    path.write_bytes(pickle.dumps({"weight": _Trap()}))
    _UNPICKLED.clear()
    with pytest.raises(ValueError, match="model.npz"):
        tv.load(path)
    assert _UNPICKLED == []


# ---- containers ------------------------------------------------------------------------------
def test_sequential():
    s = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(s) == 3
    assert isinstance(s[0], nn.Linear) and isinstance(s[-1], nn.Linear) and s[-1] is s[2]
    assert [type(m).__name__ for m in s] == ["Linear", "ReLU", "Linear"]
    head = s[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is s[0]
    x = tv.randn(4, 2)
    np.testing.assert_allclose(s(x).data, s[2](s[1](s[0](x))).data)
    s.append(nn.Sigmoid())
    assert len(s) == 4 and [n for n, _ in s.named_children()] == ["0", "1", "2", "3"]
    assert s(x).shape == (4, 1) and (s(x).data > 0).all()
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert [n for n, _ in named.named_parameters()] == ["fc.weight", "fc.bias"]
    assert named.fc is named[0]
    with pytest.raises(TypeError, match="Sequential: item 1 is a int, not a Module"):
        nn.Sequential(nn.ReLU(), 3)


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3
    layers.append(nn.Linear(2, 4))
    layers.extend([nn.ReLU()])
    assert len(layers) == 5 and isinstance(layers[-1], nn.ReLU) and layers[3].out_features == 4
    assert [type(m).__name__ for m in layers] == ["Linear"] * 4 + ["ReLU"]
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = layers

    assert len(list(Net().parameters())) == 8  # a plain list would hide them
    assert "blocks.3.weight" in Net().state_dict()
    with pytest.raises(TypeError, match="ModuleList: expected a Module"):
        layers.append(lambda x: x)


def test_module_dict():
    d = nn.ModuleDict({"conv": nn.Linear(2, 2), "act": nn.ReLU()})
    assert len(d) == 2 and list(d) == ["conv", "act"] and list(d.keys()) == ["conv", "act"]
    d["head"] = nn.Linear(2, 1)
    assert isinstance(d["head"], nn.Linear) and len(d) == 3
    assert [k for k, _ in d.items()] == ["conv", "act", "head"]
    assert [type(v).__name__ for v in d.values()] == ["Linear", "ReLU", "Linear"]
    assert [n for n, _ in d.named_parameters()] == ["conv.weight", "conv.bias", "head.weight",
                                                    "head.bias"]


# ---- hooks and repr --------------------------------------------------------------------------
def test_forward_hooks_and_remove():
    m = Block().eval()
    calls = []

    def record(module, inputs, output):
        calls.append((type(module).__name__, inputs[0].shape, output.shape))

    h1 = m.layer.register_forward_hook(record)
    h2 = m.head.register_forward_hook(lambda mod, inp, out: out * 0)  # replaces the output
    x = tv.randn(2, 4)
    y = m(x)
    assert calls == [("Sequential", (2, 4), (2, 8))]
    np.testing.assert_array_equal(y.data, 0)
    h2.remove()
    assert np.any(m(x).data != 0) and len(calls) == 2
    h1.remove()
    h1.remove()  # removing twice is harmless
    m(x)
    assert len(calls) == 2


def test_the_same_hook_registered_twice_runs_twice_and_is_removed_once():
    lin = nn.Linear(2, 2)
    calls = []

    def hook(module, inputs, output):
        calls.append(1)

    h1 = lin.register_forward_hook(hook)
    lin.register_forward_hook(hook)
    lin(tv.randn(1, 2))
    assert len(calls) == 2
    h1.remove()
    lin(tv.randn(1, 2))
    assert len(calls) == 3


def test_repr():
    m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Dropout(0.25),
                      nn.Sequential(nn.Linear(3, 1, bias=False)))
    assert repr(m) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"
        "  (2): ReLU()\n"
        "  (3): Dropout(p=0.25)\n"
        "  (4): Sequential(\n"
        "    (0): Linear(in_features=3, out_features=1, bias=False)\n"
        "  )\n"
        ")")
    assert repr(nn.Parameter(np.zeros(2, np.float32))).startswith("Parameter containing:\ntensor(")


# ---- an MLP learns two spirals with every optimizer ------------------------------------------
def two_spirals(n=100, seed=0):
    """Two interleaved spirals in the plane (1.5 turns each), labels 0 and 1: no line
    separates them, so a model must learn a non-linear boundary."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0.05, 1, n)) * 3 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], 1) / (3 * np.pi)
    x = np.concatenate([arm, -arm]) + rng.normal(0, 0.02, (2 * n, 2))
    return x.astype(np.float32), np.repeat([0, 1], n)


def mlp(hidden=32):
    return nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                         nn.Linear(hidden, 2))


def train(model, make_optimizer, steps, uses_closure=False):
    x, y = two_spirals()
    X, Y = tv.tensor(x), tv.tensor(y)
    opt = make_optimizer(model.parameters())

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(model(X), Y)
        loss.backward()
        return loss

    first = float(closure().item())
    for _ in range(steps):
        if uses_closure:
            opt.step(closure)
        else:
            closure()
            opt.step()
    with tv.no_grad():
        accuracy = (model(X).data.argmax(1) == y).mean()
    return first, float(closure().item()), accuracy


OPTIMIZERS = {
    "SGD momentum": (lambda p: optim.SGD(p, lr=0.1, momentum=0.9), 800, False),
    "Adam": (lambda p: optim.Adam(p, lr=0.01), 300, False),
    "AdamW": (lambda p: optim.AdamW(p, lr=0.01, weight_decay=1e-2), 300, False),
    "LBFGS strong_wolfe": (lambda p: optim.LBFGS(p, lr=1, max_iter=20,
                                                  line_search_fn="strong_wolfe"), 15, True),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_mlp_learns_two_spirals(name):
    make, steps, uses_closure = OPTIMIZERS[name]
    first, last, accuracy = train(mlp(), make, steps, uses_closure)
    assert accuracy >= 0.97, (name, accuracy)
    assert last < 0.1 * first, (name, first, last)


def test_a_linear_model_cannot_learn_two_spirals():
    """The bar above is one that only a working non-linear model clears."""
    _, _, accuracy = train(nn.Linear(2, 2), OPTIMIZERS["Adam"][0], 300)
    assert accuracy < 0.8
