"""tinyvision.optim and tinyvision.nn.utils: conformance with torch.optim, step for step.

Both sides get the same starting parameters and, at every step, the gradients of the
same objective computed in NumPy from their own current parameters; the trajectories
must agree (float64 to ~1e-10, float32 loosely). The optimizers are driven through a
duck-typed parameter (``.data``, ``.grad``) so these tests do not depend on the
autograd core; one end-to-end test trains a real ``tinyvision.nn.Linear``.
"""
import copy
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyvision import Tensor
from tinyvision.nn.utils import clip_grad_norm_, clip_grad_value_
from tinyvision.optim import LBFGS, SGD, Adam, AdamW, Optimizer, lr_scheduler

TORCH_REASON = "PyTorch (CPU) is the conformance oracle for tinyvision.optim; install torch"


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason=TORCH_REASON)


class Param:
    """The interface the optimizers rely on: ``.data`` updated in place, ``.grad``."""

    def __init__(self, array):
        self.data = np.array(array)
        self.grad = None


# ---------------------------------------------------------------- objectives (NumPy)
# Each takes the list of parameter arrays and returns (f, list of gradients, same shapes).
def _flat(xs):
    return np.concatenate([a.ravel() for a in xs])


def _unflat(g, xs):
    out, offset = [], 0
    for a in xs:
        out.append(g[offset:offset + a.size].reshape(a.shape))
        offset += a.size
    return out


def rosenbrock(xs):
    """f(x) = Σ 100(x_{i+1} − x_i²)² + (1 − x_i)² over the flattened parameters."""
    x = _flat(xs)
    a, b = x[:-1], x[1:]
    f = np.sum(100 * (b - a * a) ** 2 + (1 - a) ** 2)
    g = np.zeros_like(x)
    g[:-1] += -400 * a * (b - a * a) - 2 * (1 - a)
    g[1:] += 200 * (b - a * a)
    return f, _unflat(g, xs)


_rng = np.random.default_rng(0)
_Q = np.linalg.qr(_rng.standard_normal((7, 7)))[0]
A_SPD = _Q @ np.diag(np.linspace(0.5, 4.0, 7)) @ _Q.T
B_VEC = _rng.standard_normal(7)


def quadratic(xs):
    """f(x) = ½ xᵀAx + bᵀx with A symmetric positive definite (eigenvalues 0.5 … 4)."""
    x = _flat(xs)
    return 0.5 * x @ A_SPD @ x + B_VEC @ x, _unflat(A_SPD @ x + B_VEC, xs)


def negated(objective):
    """−f: with maximize=True the optimizers climb it towards the minimum of f."""
    def neg(xs):
        f, grads = objective(xs)
        return -f, [-g for g in grads]
    return neg


# Two parameters of different shapes, flattened together into one 7-vector.
X0 = [np.array([-1.2, 1.0, -0.5]), np.array([[0.8, 1.3], [-0.7, 0.4]])]
# The classic 2-D Rosenbrock start (-1.2, 1), split over two parameters.
X0_2D = [np.array([-1.2]), np.array([1.0])]


def start(dtype, x0=X0):
    return [a.astype(dtype) for a in x0]


def ours_run(cls, kwargs, objective, dtype, steps, groups=None):
    """Run our optimizer; return the (steps, 7) trajectory of parameters."""
    params = [Param(a) for a in start(dtype)]
    opt = cls(_grouped(params, groups), **kwargs)
    trajectory = []
    for _ in range(steps):
        _, grads = objective([p.data for p in params])
        for p, g in zip(params, grads):
            p.grad = g.astype(dtype)
        opt.step()
        trajectory.append(_flat([p.data for p in params]))
    return np.array(trajectory), opt, params


def torch_run(torch, name, kwargs, objective, dtype, steps, groups=None):
    params = [torch.tensor(a, requires_grad=True) for a in start(dtype)]
    opt = getattr(torch.optim, name)(_grouped(params, groups), **kwargs)
    trajectory = []
    for _ in range(steps):
        _, grads = objective([p.detach().numpy() for p in params])
        for p, g in zip(params, grads):
            p.grad = torch.from_numpy(g.astype(dtype))
        opt.step()
        trajectory.append(_flat([p.detach().numpy() for p in params]))
    return np.array(trajectory), opt


def _grouped(params, groups):
    """groups: None (one group) or a list of per-group option dicts, one per parameter."""
    if groups is None:
        return params
    return [dict(options, params=[p]) for p, options in zip(params, groups)]


# ---------------------------------------------------------------- SGD / Adam / AdamW
SGD_CASES = [
    dict(lr=1e-4),
    dict(lr=1e-4, momentum=0.9),
    dict(lr=1e-4, momentum=0.9, nesterov=True),
    dict(lr=1e-4, momentum=0.8, dampening=0.3),
    dict(lr=1e-4, momentum=0.9, weight_decay=0.1),
    dict(lr=1e-4, momentum=0.5, nesterov=True, weight_decay=0.05, maximize=True),
    dict(lr=1e-4, maximize=True),
]
ADAM_CASES = [
    dict(lr=1e-2),
    dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6),
    dict(lr=1e-2, weight_decay=0.1),
    dict(lr=1e-2, amsgrad=True),
    dict(lr=1e-2, amsgrad=True, weight_decay=0.05, maximize=True),
    dict(lr=5e-2, betas=(0.0, 0.5)),
]
FIRST_ORDER = ([("SGD", SGD, c) for c in SGD_CASES]
               + [("Adam", Adam, c) for c in ADAM_CASES]
               + [("AdamW", AdamW, c) for c in ADAM_CASES])


def _case_id(case):
    name, _, kwargs = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kwargs.items())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", FIRST_ORDER, ids=[_case_id(c) for c in FIRST_ORDER])
def test_first_order_trajectory_matches_torch(torch, case, dtype):
    name, cls, kwargs = case
    objective = negated(rosenbrock) if kwargs.get("maximize") else rosenbrock
    ours, opt, params = ours_run(cls, kwargs, objective, dtype, steps=30)
    theirs, _ = torch_run(torch, name, kwargs, objective, dtype, steps=30)
    assert ours.dtype == dtype and np.isfinite(ours).all()
    assert np.abs(ours[-1] - _flat(X0)).max() > 1e-3  # the test moved something
    if dtype == np.float64:
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    else:
        # float32 rounding differs (FMA, summation order); allow a few times the
        # distance between PyTorch's own float32 and float64 runs.
        theirs64, _ = torch_run(torch, name, kwargs, objective, np.float64, steps=30)
        atol = 4 * np.abs(theirs - theirs64).max() + 1e-6
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=atol)
    for p in params:  # state arrays take the parameter's dtype
        for value in opt.state[p].values():
            if isinstance(value, np.ndarray):
                assert value.dtype == dtype


@pytest.mark.parametrize("name, cls, groups", [
    ("SGD", SGD, [dict(lr=1e-4, momentum=0.9), dict(lr=3e-4, nesterov=True, momentum=0.5)]),
    ("Adam", Adam, [dict(lr=1e-2), dict(lr=3e-2, betas=(0.5, 0.9), amsgrad=True)]),
    ("AdamW", AdamW, [dict(weight_decay=0.5), dict(lr=2e-2)]),
])
def test_param_groups_match_torch(torch, name, cls, groups):
    kwargs = dict(lr=1e-2)
    ours, opt, _ = ours_run(cls, kwargs, rosenbrock, np.float64, 25, groups=groups)
    theirs, _ = torch_run(torch, name, kwargs, rosenbrock, np.float64, 25, groups=groups)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    assert opt.param_groups[1]["lr"] == groups[1]["lr"]
    assert opt.param_groups[0]["lr"] == groups[0].get("lr", kwargs["lr"])


@settings(deadline=None)  # example count from the profile (conftest): 15 in CI
@given(lr=st.floats(1e-4, 0.2), momentum=st.floats(0.0, 0.95),
       dampening=st.floats(0.0, 0.9), weight_decay=st.floats(0.0, 0.5),
       nesterov=st.booleans(), maximize=st.booleans())
def test_sgd_matches_torch_on_random_options(torch, lr, momentum, dampening, weight_decay,
                                             nesterov, maximize):
    if nesterov:  # Nesterov needs momentum and no dampening
        momentum, dampening = max(momentum, 0.1), 0.0
    objective = negated(quadratic) if maximize else quadratic
    kwargs = dict(lr=lr, momentum=momentum, dampening=dampening,
                  weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
    ours, _, _ = ours_run(SGD, kwargs, objective, np.float64, 20)
    theirs, _ = torch_run(torch, "SGD", kwargs, objective, np.float64, 20)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@settings(deadline=None)  # example count from the profile (conftest): 15 in CI
@given(lr=st.floats(1e-4, 0.1), beta1=st.floats(0.0, 0.99), beta2=st.floats(0.5, 0.9999),
       eps=st.sampled_from([1e-8, 1e-6, 1e-3]), weight_decay=st.floats(0.0, 0.5),
       amsgrad=st.booleans(), decoupled=st.booleans())
def test_adam_matches_torch_on_random_options(torch, lr, beta1, beta2, eps, weight_decay,
                                              amsgrad, decoupled):
    name, cls = ("AdamW", AdamW) if decoupled else ("Adam", Adam)
    kwargs = dict(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay,
                  amsgrad=amsgrad)
    ours, _, _ = ours_run(cls, kwargs, quadratic, np.float64, 20)
    theirs, _ = torch_run(torch, name, kwargs, quadratic, np.float64, 20)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def test_state_dict_matches_torch_layout(torch):
    kwargs = dict(lr=1e-2, amsgrad=True)
    _, ours, _ = ours_run(Adam, kwargs, rosenbrock, np.float64, 5)
    _, theirs = torch_run(torch, "Adam", kwargs, rosenbrock, np.float64, 5)
    a, b = ours.state_dict(), theirs.state_dict()
    assert a["state"].keys() == b["state"].keys() == {0, 1}
    for i in a["state"]:
        assert a["state"][i].keys() == b["state"][i].keys()
        for key, value in a["state"][i].items():
            np.testing.assert_allclose(value, np.asarray(b["state"][i][key]), rtol=1e-12)
    assert a["param_groups"][0]["params"] == b["param_groups"][0]["params"] == [0, 1]
    assert a["param_groups"][0]["betas"] == b["param_groups"][0]["betas"]


def test_params_without_grad_are_skipped():
    frozen, live = Param(np.ones(3)), Param(np.ones(3))
    opt = Adam([frozen, live], lr=0.1)
    live.grad = np.ones(3)
    opt.step()
    np.testing.assert_array_equal(frozen.data, np.ones(3))
    assert frozen not in opt.state and not np.allclose(live.data, 1)


def test_step_updates_data_in_place_and_leaves_grad_alone():
    p = Param(np.arange(4.0))
    data, view, grad = p.data, p.data[1:], np.ones(4)
    p.grad = grad
    for opt in (SGD([p], lr=0.5, momentum=0.9, weight_decay=0.1, maximize=True),
                Adam([p], weight_decay=0.1, maximize=True), AdamW([p]),
                LBFGS([p], max_iter=2)):
        before = p.data.copy()
        opt.step(lambda: 0.0)
        assert p.data is data and not np.array_equal(p.data, before)
        np.testing.assert_array_equal(view, p.data[1:])  # views see the update
        assert p.grad is grad and np.array_equal(grad, np.ones(4))


def test_zero_grad():
    p, q = Param(np.ones(2)), Param(np.ones(2))
    p.grad, q.grad = np.ones(2), np.ones(2)
    grad = q.grad
    opt = SGD([p, q])
    opt.zero_grad(set_to_none=False)
    assert q.grad is grad and not grad.any()
    opt.zero_grad()
    assert p.grad is None and q.grad is None


def test_closure_is_called_and_its_loss_returned():
    p = Param(np.ones(2))

    def closure():
        p.grad = 2 * p.data
        return 7.0

    assert SGD([p], lr=0.1).step(closure) == 7.0
    np.testing.assert_allclose(p.data, 0.8)


# ---------------------------------------------------------------- state_dict round trip
@pytest.mark.parametrize("cls, kwargs", [
    (SGD, dict(lr=1e-4, momentum=0.9, nesterov=True)),
    (Adam, dict(lr=1e-2, amsgrad=True)),
    (AdamW, dict(lr=1e-2, weight_decay=0.1)),
])
def test_state_dict_round_trip_continues_the_same_trajectory(cls, kwargs):
    full, _, _ = ours_run(cls, kwargs, rosenbrock, np.float64, 20)
    _, opt, params = ours_run(cls, kwargs, rosenbrock, np.float64, 10)
    saved = opt.state_dict()
    frozen = copy.deepcopy(saved)
    # Plain arrays and numbers only: no parameter objects, nothing to pickle.
    for state in saved["state"].values():
        assert all(isinstance(v, (np.ndarray, int, float)) for v in state.values())

    opt.step()  # training on must not change what was saved
    for i, state in saved["state"].items():
        for key, value in state.items():
            np.testing.assert_array_equal(value, frozen["state"][i][key])

    fresh = [Param(a.copy()) for a in _unflat(full[9], X0)]
    opt2 = cls(fresh, lr=123.0)  # the lr is restored from the state dict
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == kwargs["lr"]
    for row in full[10:]:
        _, grads = rosenbrock([p.data for p in fresh])
        for p, g in zip(fresh, grads):
            p.grad = g
        opt2.step()
        np.testing.assert_array_equal(_flat([p.data for p in fresh]), row)


def test_load_state_dict_casts_to_param_dtype_and_checks_sizes():
    _, opt, _ = ours_run(Adam, dict(lr=1e-2), rosenbrock, np.float64, 3)
    saved = opt.state_dict()
    params32 = [Param(a) for a in start(np.float32)]
    opt32 = Adam(params32)
    opt32.load_state_dict(saved)
    assert opt32.state[params32[0]]["exp_avg"].dtype == np.float32
    with pytest.raises(ValueError, match="Adam.load_state_dict: parameter group 0 has 1"):
        Adam([Param(np.ones(2))]).load_state_dict(saved)
    with pytest.raises(ValueError, match="expected 2 parameter groups, got 1"):
        Adam([{"params": [p]} for p in params32]).load_state_dict(saved)


# ---------------------------------------------------------------- LBFGS
def _lbfgs_ours(kwargs, dtype, n_steps, x0=X0):
    """Run ``n_steps`` LBFGS steps; return every closure evaluation point, the losses."""
    params = [Param(a) for a in start(dtype, x0)]
    opt = LBFGS(params, **kwargs)
    evaluations = []

    def closure():
        f, grads = rosenbrock([p.data for p in params])
        for p, g in zip(params, grads):
            p.grad = g.astype(dtype)
        evaluations.append(_flat([p.data for p in params]))
        return f

    losses = [float(opt.step(closure)) for _ in range(n_steps)]
    return np.array(evaluations), losses, opt, params


def _lbfgs_torch(torch, kwargs, dtype, n_steps, x0=X0):
    params = [torch.tensor(a, requires_grad=True) for a in start(dtype, x0)]
    opt = torch.optim.LBFGS(params, **kwargs)
    evaluations = []

    def closure():
        xs = [p.detach().numpy() for p in params]
        f, grads = rosenbrock(xs)
        for p, g in zip(params, grads):
            p.grad = torch.from_numpy(g.astype(dtype))
        evaluations.append(_flat(xs))
        return torch.tensor(f)

    losses = [float(opt.step(closure)) for _ in range(n_steps)]
    return np.array(evaluations), losses, opt


LBFGS_CASES = [
    dict(lr=1e-3, max_iter=10),
    dict(lr=1e-3, max_iter=8, history_size=3),
    dict(line_search_fn="strong_wolfe"),
    dict(line_search_fn="strong_wolfe", history_size=4, max_iter=15),
    dict(lr=0.5, line_search_fn="strong_wolfe", max_eval=12),
    dict(lr=1e-2, tolerance_change=1e-2),  # stops early: a step below tolerance_change
    dict(line_search_fn="strong_wolfe", tolerance_change=1e-3),  # loss change below it
]


@pytest.mark.parametrize("x0", [X0_2D, X0], ids=["2d", "7d"])
@pytest.mark.parametrize("kwargs", LBFGS_CASES, ids=[str(k) for k in LBFGS_CASES])
def test_lbfgs_matches_torch_on_rosenbrock(torch, kwargs, x0):
    ours, our_losses, opt, params = _lbfgs_ours(kwargs, np.float64, 6, x0)
    theirs, their_losses, topt = _lbfgs_torch(torch, kwargs, np.float64, 6, x0)
    # The same path: every closure evaluation, line-search trials included.
    assert ours.shape == theirs.shape
    state, tstate = opt.state[params[0]], topt.state[topt._params[0]]
    assert state["n_iter"] == tstate["n_iter"] and state["func_evals"] == tstate["func_evals"]
    if "line_search_fn" not in kwargs or x0 is X0_2D:
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(our_losses, their_losses, rtol=1e-6, atol=1e-14)
    else:
        # NOTE: PyTorch's x + t·d and dot products use fused multiply-adds, NumPy
        # rounds twice; on the 7-D valley the strong-Wolfe iterates amplify that
        # 1-ulp difference (~10x every 5 evaluations). Compare the first 25
        # evaluations tightly, then where both end up.
        np.testing.assert_allclose(ours[:25], theirs[:25], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ours[-1], theirs[-1], rtol=0, atol=1e-2)
        np.testing.assert_allclose(our_losses, their_losses, rtol=1e-2, atol=1e-8)


@pytest.mark.parametrize("kwargs, n_steps, x0", [
    (dict(lr=0.5, max_iter=100, history_size=10), 5, X0_2D),
    (dict(line_search_fn="strong_wolfe", max_iter=100, tolerance_grad=1e-12,
          tolerance_change=1e-14), 2, X0_2D),
    (dict(line_search_fn="strong_wolfe", max_iter=100, tolerance_grad=1e-12,
          tolerance_change=1e-14), 2, X0),
], ids=["fixed-step-2d", "strong_wolfe-2d", "strong_wolfe-7d"])
def test_lbfgs_minimises_rosenbrock_like_torch(torch, kwargs, n_steps, x0):
    ours, _, _, params = _lbfgs_ours(kwargs, np.float64, n_steps, x0)
    theirs, _, _ = _lbfgs_torch(torch, kwargs, np.float64, n_steps, x0)
    f_ours, _ = rosenbrock([p.data for p in params])
    f_theirs, _ = rosenbrock(_unflat(theirs[-1], x0))
    assert f_ours < 1e-9 and f_theirs < 1e-9  # the minimum: x = 1, f = 0
    np.testing.assert_allclose(f_ours, f_theirs, rtol=1e-6, atol=1e-14)
    np.testing.assert_allclose(ours[-1], 1.0, atol=1e-4)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours[:25], theirs[:25], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kwargs", [dict(lr=1e-3, max_iter=10),
                                    dict(line_search_fn="strong_wolfe", max_iter=10)])
def test_lbfgs_float32_matches_torch(torch, kwargs):
    ours, losses, opt, params = _lbfgs_ours(kwargs, np.float32, 2, X0_2D)
    theirs, their_losses, _ = _lbfgs_torch(torch, kwargs, np.float32, 2, X0_2D)
    assert params[0].data.dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state[params[0]]["old_dirs"])
    assert ours.shape == theirs.shape  # the same path through the line search
    # The two agree to the bit for the first evaluations, then 1-ulp differences
    # (fused multiply-adds) grow along the valley, as far as PyTorch's own float32
    # run is from its float64 one.
    np.testing.assert_allclose(ours[:8], theirs[:8], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-3)
    np.testing.assert_allclose(losses, their_losses, rtol=1e-5)


def test_lbfgs_state_dict_round_trip():
    kwargs = dict(line_search_fn="strong_wolfe", max_iter=5)
    full, _, _, _ = _lbfgs_ours(kwargs, np.float64, 4)
    _, _, opt, params = _lbfgs_ours(kwargs, np.float64, 2)
    saved = opt.state_dict()
    fresh = [Param(p.data.copy()) for p in params]
    opt2 = LBFGS(fresh, **kwargs)
    opt2.load_state_dict(saved)
    evaluations = []

    def closure():
        f, grads = rosenbrock([p.data for p in fresh])
        for p, g in zip(fresh, grads):
            p.grad = g
        evaluations.append(_flat([p.data for p in fresh]))
        return f

    opt2.step(closure), opt2.step(closure)
    np.testing.assert_array_equal(np.array(evaluations), full[-len(evaluations):])


def test_lbfgs_returns_at_once_at_a_stationary_point():
    p = Param(np.ones(3))
    calls = []

    def closure():
        calls.append(1)
        p.grad = np.zeros(3)
        return 0.0

    assert LBFGS([p]).step(closure) == 0.0 and len(calls) == 1


# ---------------------------------------------------------------- schedulers
def _lr_sequences(make_ours, make_theirs, torch, n_steps):
    lrs = (0.1, 0.03)  # two groups with different lrs
    ours_opt = SGD([{"params": [Param(np.zeros(1))], "lr": lr} for lr in lrs], lr=1.0)
    theirs_opt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr}
                                  for lr in lrs], lr=1.0)
    ours, theirs = make_ours(ours_opt), make_theirs(theirs_opt)
    ours, theirs = (ours if isinstance(ours, list) else [ours],
                    theirs if isinstance(theirs, list) else [theirs])
    a, b = [ours[-1].get_last_lr()], [theirs[-1].get_last_lr()]
    for _ in range(n_steps):
        ours_opt.step(), theirs_opt.step()
        for s in ours:
            s.step()
        for s in theirs:
            s.step()
        a.append(ours[-1].get_last_lr())
        b.append(theirs[-1].get_last_lr())
        assert [g["lr"] for g in ours_opt.param_groups] == a[-1]
    return np.array(a), np.array(b)


T_MAX = 10
SCHEDULERS = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=4, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[3, 7, 7, 20], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lr_lambda=lambda e: 1 / (1 + e)),
    "LambdaLR-per-group": lambda m, o: m.LambdaLR(
        o, lr_lambda=[lambda e: 0.95 ** e, lambda e: 1 + (e % 3)]),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=T_MAX),
    "CosineAnnealingLR-eta_min": lambda m, o: m.CosineAnnealingLR(o, T_max=T_MAX, eta_min=0.01),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.1, total_iters=6),
    "LinearLR-decay": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.2,
                                              total_iters=7),
    "warmup+cosine": lambda m, o: [m.LinearLR(o, start_factor=0.25, total_iters=4),
                                   m.CosineAnnealingLR(o, T_max=T_MAX, eta_min=1e-3)],
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_lrs_match_torch(torch, name):
    make = SCHEDULERS[name]
    ours, theirs = _lr_sequences(lambda o: make(lr_scheduler, o),
                                 lambda o: make(torch.optim.lr_scheduler, o), torch, 3 * T_MAX)
    assert len(np.unique(ours.round(12))) > 2  # the lr did change
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_cosine_follows_the_closed_form_then_climbs_back():
    opt = SGD([Param(np.zeros(1))], lr=1.0)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=8, eta_min=0.1)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(16):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    closed = [0.1 + 0.9 * (1 + math.cos(math.pi * t / 8)) / 2 for t in range(17)]
    np.testing.assert_allclose(lrs, closed, rtol=1e-12)


def test_scheduler_state_dict_round_trip():
    def build():
        opt = SGD([Param(np.zeros(1))], lr=1.0)
        return opt, [lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=3),
                     lr_scheduler.CosineAnnealingLR(opt, T_max=6, eta_min=0.05)]

    opt, scheds = build()
    for _ in range(4):
        for s in scheds:
            s.step()
    saved_opt, saved = opt.state_dict(), [s.state_dict() for s in scheds]
    expected = []
    for _ in range(8):
        for s in scheds:
            s.step()
        expected.append(opt.param_groups[0]["lr"])

    # Restore as PyTorch advises: build the schedulers, then load the optimizer.
    opt2, scheds2 = build()
    opt2.load_state_dict(saved_opt)
    for s, state in zip(scheds2, saved):
        s.load_state_dict(state)
    assert scheds2[1].last_epoch == 4
    got = []
    for _ in range(8):
        for s in scheds2:
            s.step()
        got.append(opt2.param_groups[0]["lr"])
    np.testing.assert_allclose(got, expected, rtol=1e-15)
    assert scheds2[1].get_last_lr() == [got[-1]]


def test_lambda_lr_state_dict_keeps_callable_objects_state():
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate ** epoch

    opt = SGD([Param(np.zeros(1))], lr=1.0)
    sched = lr_scheduler.LambdaLR(opt, Decay(0.5))
    sched.step()
    saved = sched.state_dict()
    assert saved["lr_lambdas"] == [{"rate": 0.5}]
    other = lr_scheduler.LambdaLR(SGD([Param(np.zeros(1))], lr=1.0), Decay(0.9))
    other.load_state_dict(saved)
    other.step()
    assert other.last_epoch == 2 and other.get_last_lr() == [0.25]


# ---------------------------------------------------------------- gradient clipping
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_grad_norm_matches_torch(torch, norm_type, max_norm, dtype):
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(s).astype(dtype) for s in [(3, 4), (5,), (2, 2, 2)]]
    ours = [Param(np.zeros_like(g)) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype, requires_grad=True)
              for g in grads]
    for p, tp, g in zip(ours, theirs, grads):
        p.grad, tp.grad = g.copy(), torch.from_numpy(g.copy())
    ours.append(Param(np.zeros(2, dtype)))  # no grad: skipped
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    their_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert isinstance(total, Tensor) and total.shape == () and total.dtype == dtype
    np.testing.assert_allclose(total.item(), their_total.item(), rtol=rtol)
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=rtol)
        assert p.grad.dtype == dtype
    if max_norm > 100:  # nothing to clip: the gradients are unchanged
        np.testing.assert_array_equal(ours[0].grad, grads[0])


def test_clip_grad_norm_nonfinite():
    p = Param(np.zeros(2))
    p.grad = np.array([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="clip_grad_norm_: the total norm of order 2.0"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="norm_type must be > 0 or inf, got -1.0"):
        clip_grad_norm_([p], 1.0, norm_type=-1)
    assert float(clip_grad_norm_([Param(np.zeros(2))], 1.0).item()) == 0.0


def test_clip_grad_value_matches_torch(torch):
    g = np.linspace(-3, 3, 12).reshape(3, 4)
    p, tp = Param(np.zeros((3, 4))), torch.zeros((3, 4), dtype=torch.float64, requires_grad=True)
    p.grad, tp.grad = g.copy(), torch.from_numpy(g.copy())
    clip_grad_value_(p, 1.25)
    torch.nn.utils.clip_grad_value_(tp, 1.25)
    np.testing.assert_array_equal(p.grad, tp.grad.numpy())


# ---------------------------------------------------------------- errors at the boundary
def _p():
    return [Param(np.ones(2))]


BAD_ARGUMENTS = [
    (lambda: SGD(_p(), lr=-0.1), ValueError, r"SGD: lr must be >= 0, got -0.1"),
    (lambda: SGD(_p(), momentum=-1), ValueError, r"SGD: momentum must be >= 0, got -1"),
    (lambda: SGD(_p(), weight_decay=-1e-4), ValueError, r"SGD: weight_decay must be >= 0"),
    (lambda: SGD(_p(), nesterov=True), ValueError,
     r"SGD: nesterov=True needs momentum > 0 and dampening = 0, got momentum=0"),
    (lambda: SGD(_p(), momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     r"dampening=0.1"),
    (lambda: SGD([{"params": _p(), "lr": -1.0}], lr=0.1), ValueError, r"SGD: lr must be >= 0"),
    (lambda: Adam(_p(), betas=(1.0, 0.999)), ValueError,
     r"Adam: betas\[0\] must be in \[0, 1\), got 1.0"),
    (lambda: Adam(_p(), betas=(0.9, -0.1)), ValueError, r"Adam: betas\[1\] must be in \[0, 1\)"),
    (lambda: Adam(_p(), eps=-1e-8), ValueError, r"Adam: eps must be >= 0"),
    (lambda: AdamW(_p(), lr=-1), ValueError, r"AdamW: lr must be >= 0, got -1"),
    (lambda: LBFGS(_p(), line_search_fn="armijo"), ValueError,
     r"LBFGS: line_search_fn must be None or 'strong_wolfe', got 'armijo'"),
    (lambda: LBFGS(_p(), history_size=0), ValueError, r"LBFGS: history_size must be >= 1"),
    (lambda: LBFGS([{"params": _p()}, {"params": _p()}]), ValueError,
     r"LBFGS: does not support more than one parameter group"),
    (lambda: LBFGS(_p()).step(None), TypeError, r"LBFGS.step: closure must be"),
    (lambda: SGD([]), ValueError, r"SGD: params must be a non-empty iterable"),
    (lambda: SGD(Param(np.ones(2))), TypeError, r"SGD: params must be an iterable"),
    (lambda: SGD({Param(np.ones(2))}), TypeError, r"SGD: params must be an ordered collection"),
    (lambda: SGD([np.ones(2)]), TypeError, r"SGD: params\[0\] must be a Parameter"),
    (lambda: SGD([Param(np.ones(2, np.int64))]), TypeError,
     r"SGD: params\[0\] must have a floating dtype, got int64"),
    (lambda: (lambda p: SGD([{"params": [p]}, {"params": [p]}]))(Param(np.ones(1))),
     ValueError, r"SGD: some parameters appear in more than one parameter group"),
    (lambda: (lambda p: Adam([p, p]))(Param(np.ones(1))), ValueError,
     r"Adam: a parameter group holds the same parameter twice"),
    (lambda: lr_scheduler.StepLR(SGD(_p()), step_size=0), ValueError,
     r"StepLR: step_size must be a positive int, got 0"),
    (lambda: lr_scheduler.CosineAnnealingLR(SGD(_p()), T_max=0), ValueError,
     r"CosineAnnealingLR: T_max must be a positive int"),
    (lambda: lr_scheduler.LinearLR(SGD(_p()), start_factor=0), ValueError,
     r"LinearLR: start_factor must be in \(0, 1\], got 0"),
    (lambda: lr_scheduler.LambdaLR(SGD(_p()), [lambda e: 1, lambda e: 2]), ValueError,
     r"LambdaLR: lr_lambda must have one function per parameter group \(1\), got 2"),
    (lambda: lr_scheduler.StepLR("sgd", step_size=2), TypeError,
     r"StepLR: optimizer must be an Optimizer, got str"),
    (lambda: lr_scheduler.StepLR(SGD(_p()), step_size=2, last_epoch=5), KeyError,
     r"initial_lr"),
]


@pytest.mark.parametrize("make, error, match", BAD_ARGUMENTS,
                         ids=[m[:40] for _, _, m in BAD_ARGUMENTS])
def test_bad_arguments_raise_clear_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_add_param_group_fills_defaults():
    opt = SGD([Param(np.ones(1))], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": Param(np.ones(1)), "lr": 0.01})
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["momentum"] == 0.9
    assert isinstance(opt, Optimizer) and len(opt.param_groups[1]["params"]) == 1


# ---------------------------------------------------------------- end to end
def test_trains_a_linear_model_end_to_end():
    """A real tinyvision Linear layer fitted with SGD, Adam and LBFGS through autograd."""
    import tinyvision as tv
    import tinyvision.functional as F
    from tinyvision import nn

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    w_true, b_true = np.array([[1.5, -2.0, 0.5]], np.float32), np.float32(0.3)
    y = x @ w_true.T + b_true
    for make_opt, n_steps in ((lambda ps: SGD(ps, lr=0.1, momentum=0.9), 150),
                              (lambda ps: Adam(ps, lr=0.05), 300),
                              (lambda ps: LBFGS(ps, line_search_fn="strong_wolfe"), 3)):
        tv.manual_seed(0)
        model = nn.Linear(3, 1)
        opt = make_opt(model.parameters())  # a generator, as in PyTorch scripts

        def closure():
            opt.zero_grad()
            loss = F.mse_loss(model(tv.tensor(x)), tv.tensor(y))
            loss.backward()
            return loss

        first = float(closure().item())
        for _ in range(n_steps):
            with tv.no_grad():  # the closure still records its graph (enable_grad)
                opt.step(closure)
        final = float(closure().item())
        assert final < 1e-4 * first, (type(opt).__name__, first, final)
        np.testing.assert_allclose(model.weight.data, w_true, atol=1e-2)
        np.testing.assert_allclose(model.bias.data, [b_true], atol=1e-2)
        assert model.weight.data.dtype == np.float32
