"""Bad input at the public boundary gets a clear error: the function's name, the argument,
what was expected and what came (shapes, dtypes, ranges), never a NumPy traceback from deep
inside. One table of cases: (call, exception type, patterns that the message must contain).
"""
import re

import numpy as np
import pytest

import tinyvision as tv
import tinyvision.functional as F
import tinyvision.nn as nn

nan, inf = float("nan"), float("inf")


def x23():
    return tv.ones(2, 3, requires_grad=True)


CASES = {
    # ---- shapes in binary ops, matmul, linear ------------------------------------------------
    "add shapes": (lambda: x23() + tv.ones(4), ValueError,
                   ["add", r"\(2, 3\)", r"\(4,\)"]),
    "mul shapes": (lambda: F.mul(x23(), tv.ones(2, 4)), ValueError,
                   ["mul", "broadcast", r"\(2, 3\)", r"\(2, 4\)"]),
    "sub ndarray shapes": (lambda: np.ones((3, 2)) - x23(), ValueError,
                           ["sub", r"\(3, 2\)", r"\(2, 3\)"]),
    "maximum shapes": (lambda: F.maximum(x23(), tv.ones(5)), ValueError,
                       ["maximum", r"\(2, 3\)", r"\(5,\)"]),
    "where shapes": (lambda: F.where(tv.tensor([True, False]), x23(), 0.0), ValueError,
                     ["where", r"\(2,\)", r"\(2, 3\)"]),
    "matmul inner dims": (lambda: x23() @ tv.ones(4, 5), ValueError,
                          ["matmul", "inner dims", r"\(2, 3\)", r"\(4, 5\)", "3 != 4"]),
    "matmul vector": (lambda: F.matmul(tv.ones(3), tv.ones(4)), ValueError,
                      ["matmul", "3 != 4"]),
    "matmul batch dims": (lambda: tv.ones(2, 2, 3) @ tv.ones(3, 3, 5), ValueError,
                          ["matmul", "batch dims", r"\(2,\)", r"\(3,\)"]),
    "matmul 0-d": (lambda: F.matmul(tv.tensor(2.0), tv.ones(2)), ValueError,
                   ["matmul", "at least 1 dim", r"\(\)"]),
    "linear input": (lambda: F.linear(x23(), tv.ones(4, 5)), ValueError,
                     ["linear", "in_features = 5", r"\(2, 3\)"]),
    "linear weight": (lambda: F.linear(x23(), tv.ones(3)), ValueError,
                      ["linear", "weight", "2-D", r"\(3,\)"]),
    "linear bias": (lambda: F.linear(x23(), tv.ones(4, 3), tv.ones(3)), ValueError,
                    ["linear", "bias", r"\(4,\)", r"\(3,\)"]),
    "Linear layer input": (lambda: nn.Linear(3, 4)(tv.ones(2, 5)), ValueError,
                           ["linear", "in_features = 3", r"\(2, 5\)"]),
    "cat shapes": (lambda: F.cat([x23(), tv.ones(2, 4)]), ValueError,
                   ["cat", r"\(2, 3\)", r"\(2, 4\)"]),
    "stack shapes": (lambda: F.stack([x23(), tv.ones(3, 2)]), ValueError,
                     ["stack", "same shape", r"\(2, 3\)", r"\(3, 2\)"]),
    "cat empty": (lambda: F.cat([]), ValueError, ["cat", "non-empty"]),
    "expand": (lambda: x23().expand(4, 3), ValueError, ["expand", r"\(2, 3\)", r"\(4, 3\)"]),
    "split sections": (lambda: F.split(tv.ones(5), [2, 2]), ValueError,
                       ["split", r"\[2, 2\]", "sum to 4", "size 5"]),
    "split size": (lambda: F.split(tv.ones(5), 0), ValueError, ["split", "positive", "0"]),
    "chunk count": (lambda: F.chunk(tv.ones(4), 0), ValueError, ["chunk", "positive", "0"]),
    "permute": (lambda: x23().permute(0, 0), ValueError, ["permute", "not a permutation"]),
    "index out of bounds": (lambda: x23()[5], IndexError, ["getitem", "5", r"\(2, 3\)"]),
    "reshape": (lambda: x23().reshape(4, 2), ValueError,
                ["reshape", r"\(2, 3\)", "6 elements", r"\(4, 2\)"]),
    "view": (lambda: F.view(tv.ones(7), (2, -1)), ValueError, ["reshape", r"\(7,\)", r"\(2, -1\)"]),
    "flatten dims": (lambda: F.flatten(tv.ones(2, 3, 4), 2, 1), ValueError,
                     ["flatten", "start_dim 2", "end_dim 1"]),
    # ---- dims --------------------------------------------------------------------------------
    "softmax dim": (lambda: F.softmax(x23(), 2), IndexError, ["softmax", "dim 2", "2 dims"]),
    "log_softmax dim": (lambda: F.log_softmax(x23(), -3), IndexError,
                        ["log_softmax", "dim -3", "2 dims"]),
    "sum dim": (lambda: x23().sum(3), IndexError, ["sum", "dim 3", "2 dims"]),
    "max dim": (lambda: F.max(x23(), 2), IndexError, ["max", "dim 2", "2 dims"]),
    "var dim": (lambda: F.var(x23(), (0, 5)), IndexError, ["var", "dim 5"]),
    "transpose dim": (lambda: F.transpose(x23(), 0, 2), IndexError, ["transpose", "dim 2"]),
    "cat dim": (lambda: F.cat([x23(), x23()], 2), IndexError, ["cat", "dim 2"]),
    "chunk dim": (lambda: F.chunk(x23(), 2, 3), IndexError, ["chunk", "dim 3"]),
    "max of empty": (lambda: F.max(tv.ones(0, 3)), ValueError, ["max", "empty", r"\(0, 3\)"]),
    "cross_entropy 1-D input": (lambda: F.cross_entropy(tv.ones(3), tv.tensor(1)), ValueError,
                                ["cross_entropy", r"\(N, C\)", r"\(3,\)"]),
    "cross_entropy target shape": (lambda: F.cross_entropy(x23(), tv.tensor([0, 1, 1])),
                                   ValueError, ["cross_entropy", "target", r"\(2,\)", r"\(3,\)"]),
    "cross_entropy weight shape": (
        lambda: F.cross_entropy(x23(), tv.tensor([0, 1]), weight=tv.ones(2)), ValueError,
        ["cross_entropy", "weight", r"\(3,\)", r"\(2,\)"]),
    "nll_loss shapes": (lambda: F.nll_loss(x23(), tv.tensor([0, 1, 2])), ValueError,
                        ["nll_loss", r"\(2, 3\)", r"\(3,\)"]),
    "batch_norm channels": (
        lambda: F.batch_norm(tv.ones(4, 3), tv.zeros(2), tv.ones(2), training=True), ValueError,
        ["batch_norm", "running_mean", r"\(3,\)", "3 channels", r"\(2,\)"]),
    "batch_norm weight": (
        lambda: F.batch_norm(tv.ones(4, 3), None, None, tv.ones(4), training=True), ValueError,
        ["batch_norm", "weight", r"\(3,\)", r"\(4,\)"]),
    "batch_norm 1-D": (lambda: F.batch_norm(tv.ones(3), None, None, training=True), ValueError,
                       ["batch_norm", r"\(N, C, \*\)", r"\(3,\)"]),
    "batch_norm one value per channel": (
        lambda: F.batch_norm(tv.ones(1, 3), None, None, training=True), ValueError,
        ["batch_norm", "more than 1 value per channel", r"\(1, 3\)"]),
    "batch_norm eval without statistics": (lambda: F.batch_norm(tv.ones(2, 3), None, None),
                                           ValueError, ["batch_norm", "running_mean"]),
    "BatchNorm2d on 2-D input": (lambda: nn.BatchNorm2d(3)(tv.ones(4, 3)), ValueError,
                                 ["BatchNorm2d", "4 dims", r"\(4, 3\)"]),
    "BatchNorm1d channels": (lambda: nn.BatchNorm1d(3)(tv.ones(4, 5)), ValueError,
                             ["BatchNorm1d", "3 channels", r"\(4, 5\)"]),
    "BatchNorm2d channels": (lambda: nn.BatchNorm2d(3)(tv.ones(2, 4, 5, 5)), ValueError,
                             ["BatchNorm2d", "3 channels", r"\(2, 4, 5, 5\)"]),
    "triplet shapes": (lambda: F.triplet_margin_loss(x23(), x23(), tv.ones(2, 4)), ValueError,
                       ["triplet_margin_loss", r"\(2, 3\)", r"\(2, 4\)"]),
    "mse shapes": (lambda: F.mse_loss(x23(), tv.ones(3)), ValueError,
                   ["mse_loss", r"\(2, 3\)", r"\(3,\)"]),
    "l1 shapes": (lambda: F.l1_loss(x23(), tv.ones(3, 2)), ValueError,
                  ["l1_loss", r"\(2, 3\)", r"\(3, 2\)"]),
    "bce shapes": (lambda: F.binary_cross_entropy_with_logits(x23(), tv.ones(3)), ValueError,
                   ["binary_cross_entropy_with_logits", r"\(3,\)", r"\(2, 3\)"]),
    "bce pos_weight shape": (
        lambda: F.binary_cross_entropy_with_logits(x23(), tv.ones(2, 3), pos_weight=tv.ones(2)),
        ValueError, ["binary_cross_entropy_with_logits", "pos_weight", r"\(2,\)", r"\(2, 3\)"]),
    "bce weight shape": (
        lambda: F.binary_cross_entropy_with_logits(x23(), tv.ones(2, 3), weight=tv.ones(4, 3)),
        ValueError, ["binary_cross_entropy_with_logits", "weight", r"\(4, 3\)", r"\(2, 3\)"]),
    # ---- dtypes ------------------------------------------------------------------------------
    "int tensor requires_grad": (lambda: tv.tensor([1, 2], requires_grad=True), RuntimeError,
                                 ["requires_grad", "floating", "int64"]),
    "int zeros requires_grad": (lambda: tv.zeros(2, dtype=np.int64, requires_grad=True),
                                RuntimeError, ["requires_grad", "int64"]),
    "int Parameter": (lambda: nn.Parameter(np.arange(3)), RuntimeError,
                      ["requires_grad", "int64"]),
    "bool requires_grad_": (lambda: tv.tensor([True]).requires_grad_(), RuntimeError,
                            ["requires_grad", "bool"]),
    "float class indices": (lambda: F.cross_entropy(x23(), tv.tensor([0.0, 2.0])), ValueError,
                            ["cross_entropy", "integer dtype", "float32"]),
    "nll float class indices": (lambda: F.nll_loss(x23(), tv.tensor([0.0, 2.0])), ValueError,
                                ["nll_loss", "integer target", "float32"]),
    "cross_entropy int logits": (lambda: F.cross_entropy(tv.tensor([[1, 2]]), tv.tensor([0])),
                                 TypeError, ["cross_entropy", "floating point", "int64"]),
    "where int condition": (lambda: F.where(tv.tensor([1, 0]), tv.ones(2), tv.zeros(2)),
                            TypeError, ["where", "condition", "bool", "int64"]),
    "where float condition": (lambda: F.where(np.array([0.5, 1.0]), tv.ones(2), 0.0),
                              TypeError, ["where", "bool", "float64"]),
    "relu on ints": (lambda: F.relu(tv.tensor([1, 2])), TypeError, ["relu", "floating", "int64"]),
    "softmax on ints": (lambda: F.softmax(tv.tensor([1, 2]), 0), TypeError,
                        ["softmax", "floating", "int64"]),
    "mean on ints": (lambda: tv.tensor([1, 2]).mean(), TypeError, ["mean", "floating", "int64"]),
    "batch_norm on ints": (lambda: F.batch_norm(tv.tensor([[1, 2], [3, 4]]), None, None,
                                                training=True), TypeError,
                           ["batch_norm", "floating", "int64"]),
    "bad dtype name": (lambda: tv.tensor([1.0], dtype="flaot32"), TypeError,
                       ["tensor", "dtype", "flaot32"]),
    # ---- values and ranges -------------------------------------------------------------------
    "class index too big": (lambda: F.cross_entropy(x23(), tv.tensor([0, 3])), ValueError,
                            ["cross_entropy", "class 3", r"index \(1,\)", "3 classes", "0..2"]),
    "negative class index": (lambda: F.cross_entropy(tv.ones(2, 3, 4), tv.tensor([[0, 1, -1, 2],
                                                                                 [0, 0, 0, 0]])),
                             ValueError, ["cross_entropy", "class -1", r"index \(0, 2\)"]),
    "nll class index": (lambda: F.nll_loss(x23(), tv.tensor([0, 5])), ValueError,
                        ["nll_loss", "class 5", "0..2"]),
    "label_smoothing": (lambda: F.cross_entropy(x23(), tv.tensor([0, 1]), label_smoothing=1.5),
                        ValueError, ["cross_entropy", "label_smoothing", r"\[0, 1\]", "1.5"]),
    "dropout p > 1": (lambda: F.dropout(x23(), 1.5), ValueError,
                      ["dropout", "p", r"\[0, 1\]", "1.5"]),
    "dropout p < 0": (lambda: F.dropout(x23(), -0.1), ValueError, ["dropout", "-0.1"]),
    "Dropout layer p": (lambda: nn.Dropout(2), ValueError, ["Dropout", "p", r"\[0, 1\]", "2"]),
    "smooth_l1 beta": (lambda: F.smooth_l1_loss(x23(), x23(), beta=-1), ValueError,
                       ["smooth_l1_loss", "beta", "-1"]),
    "huber delta": (lambda: F.huber_loss(x23(), x23(), delta=0), ValueError,
                    ["huber_loss", "delta", "> 0", "0"]),
    "triplet margin": (lambda: F.triplet_margin_loss(x23(), x23(), x23(), margin=-1), ValueError,
                       ["triplet_margin_loss", "margin", "-1"]),
    "clamp without bounds": (lambda: F.clamp(x23()), ValueError, ["clamp", "min", "max"]),
    "Linear in_features 0": (lambda: nn.Linear(0, 3), ValueError,
                             ["Linear", "in_features", "positive", "0"]),
    "Linear out_features -1": (lambda: nn.Linear(3, -1), ValueError,
                               ["Linear", "out_features", "positive", "-1"]),
    "Linear float size": (lambda: nn.Linear(2.5, 3), ValueError, ["Linear", "in_features", "2.5"]),
    "BatchNorm num_features": (lambda: nn.BatchNorm2d(0), ValueError,
                               ["BatchNorm2d", "num_features", "positive", "0"]),
    "manual_seed": (lambda: tv.manual_seed(-1), ValueError, ["manual_seed", "non-negative", "-1"]),
    # ---- pad -----------------------------------------------------------------------------------
    "pad odd length": (lambda: F.pad(x23(), (1,)), ValueError, ["pad", "even length", r"\(1,\)"]),
    "pad too long": (lambda: F.pad(tv.ones(3), (1, 1, 1, 1)), ValueError,
                     ["pad", "2·ndim = 2", r"\(1, 1, 1, 1\)"]),
    "pad mode": (lambda: F.pad(x23(), (1, 1), mode="mirror"), ValueError,
                 ["pad", "mode", "reflect", "'mirror'"]),
    "pad negative": (lambda: F.pad(x23(), (-1, 1)), ValueError, ["pad", "negative", r"\(-1, 1\)"]),
    "reflect pad too wide": (lambda: F.pad(x23(), (3, 1), mode="reflect"), ValueError,
                             ["pad", "reflect", r"\(3, 1\)", r"\(3\)"]),
    "circular pad too wide": (lambda: F.pad(x23(), (4, 0), mode="circular"), ValueError,
                              ["pad", "circular", r"\(4, 0\)", r"\(3\)"]),
    # ---- reductions --------------------------------------------------------------------------
    **{f"{name} reduction": (lambda name=name: _loss(name, "avg"), ValueError,
                             [name, "reduction", "mean", "sum", "none", "'avg'"])
       for name in ["cross_entropy", "nll_loss", "binary_cross_entropy_with_logits", "mse_loss",
                    "l1_loss", "smooth_l1_loss", "huber_loss", "triplet_margin_loss"]},
    "loss module reduction": (lambda: nn.MSELoss(reduction="elementwise_mean")(x23(), x23()),
                              ValueError, ["mse_loss", "'elementwise_mean'"]),
    # ---- backward ------------------------------------------------------------------------------
    "backward on a non-scalar": (lambda: (x23() * 2).backward(), RuntimeError,
                                 ["backward", "one-element", r"\(2, 3\)"]),
    "backward gradient shape": (lambda: (x23() * 2).backward(np.ones(3)), ValueError,
                                ["backward", r"\(2, 3\)", r"\(3,\)"]),
    "backward without grad": (lambda: tv.ones(2).sum().backward(), RuntimeError,
                              ["backward", "does not require grad"]),
    "backward twice": (lambda: _backward_twice(), RuntimeError,
                       ["backward", "already freed", "retain_graph=True"]),
    "in-place on a leaf that requires grad": (lambda: x23().add_(1), RuntimeError,
                                              ["add_", "in-place", "no_grad"]),
    # ---- making tensors ------------------------------------------------------------------------
    "ragged lists": (lambda: tv.tensor([[1, 2], [3]]), ValueError,
                     ["tensor", "ragged", "same length"]),
    "ragged nesting": (lambda: tv.tensor([1.0, [2.0, 3.0]]), ValueError, ["tensor", "ragged"]),
    "strings": (lambda: tv.tensor(["a", 1.5]), TypeError, ["tensor", "non-numeric"]),
    "objects": (lambda: tv.tensor([None, 1]), TypeError, ["tensor", "non-numeric", "object"]),
    "from_numpy of a list": (lambda: tv.from_numpy([1, 2]), TypeError,
                             ["from_numpy", "ndarray", "list"]),
    "item of many": (lambda: x23().item(), ValueError, ["item", "one-element", r"\(2, 3\)"]),
    # ---- modules -------------------------------------------------------------------------------
    "load_state_dict of None": (lambda: nn.Linear(2, 2).load_state_dict(None), TypeError,
                                ["load_state_dict", "Linear", "dict", "NoneType"]),
    "Sequential of a non-module": (lambda: nn.Sequential(nn.ReLU(), 3), TypeError,
                                   ["Sequential", "item 1", "int"]),
    "Sequential layer mismatch": (
        lambda: nn.Sequential(nn.Linear(2, 3), nn.Linear(4, 1))(tv.ones(1, 2)), ValueError,
        ["linear", "in_features = 4", r"\(1, 3\)"]),
}


def _loss(name, reduction):
    a, b = x23(), tv.ones(2, 3)
    if name in ("cross_entropy", "nll_loss"):
        return getattr(F, name)(a, tv.tensor([0, 1]), reduction=reduction)
    if name == "triplet_margin_loss":
        return F.triplet_margin_loss(a, b, b, reduction=reduction)
    return getattr(F, name)(a, b, reduction=reduction)


def _backward_twice():
    y = (x23() * 2).sum()
    y.backward()
    y.backward()


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gets_a_clear_error(name):
    call, error, patterns = CASES[name]
    with pytest.raises(error, match=patterns[0]) as info:
        call()
    message = str(info.value)
    for pattern in patterns[1:]:
        assert re.search(pattern, message), f"{pattern!r} not in the message: {message}"
    assert "Traceback" not in message


# ---- NaN and inf reaching a loss -------------------------------------------------------------
def _bad(shape, where, value):
    a = np.ones(shape, np.float32)
    a[where] = value
    return tv.tensor(a)


LOSSES_WITH_TARGETS = {
    "mse_loss": F.mse_loss, "l1_loss": F.l1_loss, "smooth_l1_loss": F.smooth_l1_loss,
    "huber_loss": F.huber_loss,
    "binary_cross_entropy_with_logits": F.binary_cross_entropy_with_logits,
    "cross_entropy": lambda x, t: F.cross_entropy(x, F.softmax(t, 1)),  # probability targets
}


@pytest.mark.parametrize("value", [nan, inf, -inf])
@pytest.mark.parametrize("argument", ["input", "target"])
@pytest.mark.parametrize("name", list(LOSSES_WITH_TARGETS))
def test_losses_refuse_nan_and_inf(name, argument, value):
    good, bad = tv.ones(2, 3), _bad((2, 3), (1, 2), value)
    if name == "cross_entropy" and argument == "target":
        call = lambda: F.cross_entropy(good, bad)  # noqa: E731
    else:
        call = lambda: LOSSES_WITH_TARGETS[name](*((bad, good) if argument == "input"  # noqa: E731
                                                   else (good, bad)))
    with pytest.raises(ValueError, match=f"{name}: {argument} contains NaN or inf") as info:
        call()
    assert r"(1, 2)" in str(info.value)  # where it is


@pytest.mark.parametrize("value", [nan, inf])
def test_class_losses_refuse_nan_and_inf_logits(value):
    for fn in (F.cross_entropy, F.nll_loss):
        with pytest.raises(ValueError, match=f"{fn.__name__}: input contains NaN or inf"):
            fn(_bad((3, 4), (2, 1), value), tv.tensor([0, 1, 2]))


@pytest.mark.parametrize("argument", ["anchor", "positive", "negative"])
def test_triplet_loss_refuses_nan(argument):
    args = {k: tv.ones(2, 3) for k in ("anchor", "positive", "negative")}
    args[argument] = _bad((2, 3), (0, 0), nan)
    with pytest.raises(ValueError, match=f"triplet_margin_loss: {argument} contains NaN or inf"):
        F.triplet_margin_loss(**args)


def test_module_losses_check_too():
    with pytest.raises(ValueError, match="cross_entropy: target has class 7"):
        nn.CrossEntropyLoss()(tv.ones(2, 3), tv.tensor([0, 7]))
    with pytest.raises(ValueError, match="mse_loss: input contains NaN"):
        nn.MSELoss()(_bad((2,), 0, nan), tv.ones(2))


def test_ignore_index_is_not_a_bad_class():
    """The check must not reject what is valid: ignored targets may be out of range."""
    loss = F.cross_entropy(tv.ones(2, 3), tv.tensor([-100, 1]))
    assert np.isfinite(loss.item())
    loss = F.cross_entropy(tv.ones(2, 3), tv.tensor([9, 1]), ignore_index=9)
    assert np.isfinite(loss.item())
