"""sigmoid_focal_loss: torchvision.ops' formula, recomputed in PyTorch, and its gradient."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinyvision as tv
import tinyvision.functional as F
from tinyvision import ops


@given(st.integers(0, 2**31 - 1), st.sampled_from([0.0, 0.5, 2.0]),
       st.sampled_from([-1.0, 0.25, 0.75]), st.sampled_from(["none", "mean", "sum"]))
def test_gradcheck_float64(seed, gamma, alpha, reduction):
    rng = np.random.default_rng(seed)
    x = tv.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    t = (rng.random((3, 4)) < 0.3).astype(np.float64)
    assert tv.gradcheck(lambda x: F.sigmoid_focal_loss(x, t, alpha, gamma, reduction), (x,))


def test_gamma_0_and_no_alpha_is_binary_cross_entropy():
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((5, 6)), (rng.random((5, 6)) < 0.5).astype(np.float64)
    a = F.sigmoid_focal_loss(x, t, alpha=-1, gamma=0, reduction="mean").item()
    b = F.binary_cross_entropy_with_logits(x, t).item()
    assert a == pytest.approx(b, rel=1e-12)


def test_equals_torchvision_formula_in_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle here (pip install torch)")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 5)).astype(np.float32) * 3
    t = (rng.random((16, 5)) < 0.2).astype(np.float32)
    tx = torch.from_numpy(x).requires_grad_()
    tt = torch.from_numpy(t)
    # torchvision.ops.sigmoid_focal_loss, written out (torchvision itself is not installed)
    p = torch.sigmoid(tx)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(tx, tt, reduction="none")
    p_t = p * tt + (1 - p) * (1 - tt)
    loss = ce * (1 - p_t) ** 2 * (0.25 * tt + 0.75 * (1 - tt))
    loss.sum().backward()
    ours_x = tv.tensor(x, requires_grad=True)
    ours = ops.sigmoid_focal_loss(ours_x, t, reduction="sum")
    ours.backward()
    np.testing.assert_allclose(ours.item(), loss.sum().item(), rtol=1e-5)
    np.testing.assert_allclose(ours_x.grad, tx.grad.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kwargs,match", [
    (dict(gamma=-1), "gamma"), (dict(alpha=2), "alpha"), (dict(reduction="avg"), "reduction")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        F.sigmoid_focal_loss(np.zeros(3), np.zeros(3), **kwargs)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        F.sigmoid_focal_loss(np.zeros(3), np.zeros(4))


def test_float32_logits_with_array_targets_stay_float32_through_backward():
    # a bare float32 array of targets once made 1 − t float64, and the whole backward with it
    x = tv.tensor(np.zeros((3, 2), np.float32), requires_grad=True)
    loss = F.sigmoid_focal_loss(x, np.ones((3, 2), np.float32), reduction="sum")
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32
