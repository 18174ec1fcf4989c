"""PyTorch conformance: every op of tinyvision.functional, the Tensor operators, nn layers and
init, against torch on the same inputs.

For each op the forward values AND the gradients with respect to every floating input are
compared, in float64 (tight tolerance) and float32 (loose), with a random upstream gradient
so that every element of the Jacobian-vector product counts. Hypothesis draws shapes, dims
and parameters; the values come from a NumPy generator seeded by a drawn integer.

The cases that are easy to get wrong are written out: gradients at ties (maximum, max/amax),
at bounds (clamp) and at kinks (abs, relu at 0), repeated integer indices, every pad mode,
softmax on huge logits, batch norm's in-place running statistics, cross entropy with weight +
ignore_index + label smoothing, BCE on ±100 logits.
"""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed: conformance tests need it "
                                             "(pip install torch==2.13.0)")
import torch.nn.functional as TF  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import tinyvision as tv  # noqa: E402
import tinyvision.functional as F  # noqa: E402
import tinyvision.nn as nn  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed_torch():
    torch.manual_seed(0)

DTYPES = [np.float64, np.float32]
TOL = {np.float64: (1e-9, 1e-11), np.float32: (2e-4, 2e-5)}  # (rtol, atol)
seeds = st.integers(0, 2**31 - 1)


# ---- the comparison machinery ----------------------------------------------------------------
def _np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    if isinstance(x, tv.Tensor):
        return x.data
    return np.asarray(x)


def assert_close(ours, theirs, what="", scale=1.0):
    """Same shape, same dtype, values within the dtype's tolerance (times ``scale``)."""
    a, b = _np(ours), _np(theirs)
    assert a.shape == b.shape, f"{what}: shape {a.shape}, torch {b.shape}"
    assert a.dtype == b.dtype, f"{what}: dtype {a.dtype}, torch {b.dtype}"
    if a.dtype.kind in "fc":
        rtol, atol = TOL[a.dtype.type]
        np.testing.assert_allclose(a, b, rtol=rtol * scale, atol=atol * scale, err_msg=what)
    else:
        np.testing.assert_array_equal(a, b, err_msg=what)


def _outputs(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def check(tv_fn, torch_fn, *arrays, grad=None, scale=1.0, seed=0):
    """Call both functions on copies of ``arrays`` (tinyvision Tensors, torch tensors), compare
    every output, then back-propagate the same random upstream gradient through the floating
    outputs and compare the gradient of every floating input. Returns (ours, theirs)."""
    if grad is None:
        grad = [a.dtype.kind == "f" for a in arrays]
    ours_in = [tv.tensor(a, requires_grad=g) for a, g in zip(arrays, grad)]
    theirs_in = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grad)]
    ours, theirs = _outputs(tv_fn(*ours_in)), _outputs(torch_fn(*theirs_in))
    assert len(ours) == len(theirs)
    for i, (o, t) in enumerate(zip(ours, theirs)):
        assert_close(o, t, f"output {i}", scale)
    if any(grad):
        rng = np.random.default_rng(seed)
        pairs = [(o, t) for o, t in zip(ours, theirs) if t.requires_grad]
        assert pairs, "torch says no output is differentiable"
        for o, _ in pairs:
            assert o.requires_grad, "our output does not require grad"
        gys = [rng.standard_normal(t.shape).astype(_np(t).dtype) for _, t in pairs]
        torch.autograd.backward([t for _, t in pairs], [torch.tensor(g) for g in gys])
        if len(pairs) == 1:
            pairs[0][0].backward(gys[0])
        else:
            F.sum(F.stack([F.sum(o * g) for (o, _), g in zip(pairs, gys)])).backward()
        for i, (o, t) in enumerate(zip(ours_in, theirs_in)):
            if not grad[i]:
                continue
            tg = t.grad if t.grad is not None else torch.zeros_like(t)
            og = o.grad if o.grad is not None else np.zeros_like(o.data)
            assert_close(og, tg, f"grad of input {i}", scale)
    return ours, theirs


def rand(rng, shape, dtype, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, shape).astype(dtype)


def away_from_zero(rng, shape, dtype):
    """Values with |v| in [0.5, 2]: safe denominators, logs, roots."""
    return (rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)).astype(dtype)


def ints(rng, shape, dtype, hi=3):
    """Small integers as floats: many ties."""
    return rng.integers(-hi, hi + 1, shape).astype(dtype)


# ---- Tensor operators and broadcasting arithmetic --------------------------------------------
BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / b, lambda a, b: a / b),
    "pow": (lambda a, b: a ** b, lambda a, b: a ** b),
    "F.add alpha": (lambda a, b: F.add(a, b, alpha=2.5), lambda a, b: torch.add(a, b, alpha=2.5)),
    "F.sub alpha": (lambda a, b: F.sub(a, b, alpha=0.5), lambda a, b: torch.sub(a, b, alpha=0.5)),
    "maximum": (F.maximum, torch.maximum),
    "minimum": (F.minimum, torch.minimum),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", list(BINARY))
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4),
       seed=seeds)
def test_binary_broadcasting(op, dtype, shapes, seed):
    rng = np.random.default_rng(seed)
    sa, sb = shapes.input_shapes
    if op == "pow":
        a, b = rng.uniform(0.5, 2.0, sa).astype(dtype), rand(rng, sb, dtype)
    elif op in ("maximum", "minimum"):
        a, b = ints(rng, sa, dtype, 1), ints(rng, sb, dtype, 1)  # ties share the gradient
    else:
        a, b = rand(rng, sa, dtype), away_from_zero(rng, sb, dtype)
    check(*BINARY[op], a, b, seed=seed)


SCALAR_OPS = {
    "x + 2": (lambda x: x + 2, lambda x: x + 2),
    "3 - x": (lambda x: 3 - x, lambda x: 3 - x),
    "x * 0.5": (lambda x: x * 0.5, lambda x: x * 0.5),
    "2 / x": (lambda x: 2 / x, lambda x: 2 / x),
    "x / 4": (lambda x: x / 4, lambda x: x / 4),
    "x ** 2": (lambda x: x ** 2, lambda x: x ** 2),
    "x ** 3": (lambda x: x ** 3, lambda x: x ** 3),
    "x ** 0": (lambda x: x ** 0, lambda x: x ** 0),
    "|x| ** 0.5": (lambda x: abs(x) ** 0.5, lambda x: abs(x) ** 0.5),
    "2 ** x": (lambda x: 2 ** x, lambda x: 2 ** x),
    "-x": (lambda x: -x, lambda x: -x),
    "abs(x)": (abs, abs),
    "x.T": (lambda x: x.T, lambda x: x.permute(*reversed(range(x.ndim)))),
    "x @ x.T": (lambda x: x @ x.T, lambda x: x @ x.permute(*reversed(range(x.ndim)))),
    "ndarray + x": (lambda x: np.full(x.shape[-1:], 1.5, x.dtype) + x,
                    lambda x: torch.full(x.shape[-1:], 1.5, dtype=x.dtype) + x),
    "ndarray * x": (lambda x: np.arange(x.shape[-1], dtype=x.dtype) * x,
                    lambda x: torch.arange(x.shape[-1], dtype=x.dtype) * x),
    "clone": (lambda x: x.clone(), lambda x: x.clone()),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", list(SCALAR_OPS))
def test_operators_with_scalars_and_arrays(op, dtype):
    rng = np.random.default_rng(1)
    x = away_from_zero(rng, (3, 4), dtype)
    if op.startswith("x **") or op.startswith("abs") or op == "-x":
        x[0, :2] = 0  # the derivative at 0 too (x**0 has gradient 0 there, as PyTorch)
    check(*SCALAR_OPS[op], x)


def test_python_scalars_keep_the_tensor_dtype():
    for dtype in DTYPES:
        x = tv.tensor(np.ones(3, dtype))
        for y in (x + 1, 2.5 * x, x / 3, x ** 2, 1 - x):
            assert y.dtype == dtype
    assert (tv.tensor([1, 2]) * 0.5).dtype == torch.tensor([1, 2]).mul(0.5).numpy().dtype


PROMOTIONS = {
    "int + int": lambda t, m: t + t, "int * 2": lambda t, m: t * 2,
    "int * 0.5": lambda t, m: t * 0.5, "1.5 - int": lambda t, m: 1.5 - t,
    "int / int": lambda t, m: t / t, "int / 2": lambda t, m: t / 2, "2 / int": lambda t, m: 2 / t,
    "int ** 2": lambda t, m: t ** 2, "bool * 1.5": lambda t, m: (t > 1) * 1.5,
    "int + float64": lambda t, m: t + (m.tensor(np.ones(3)) if m is tv else
                                       torch.ones(3, dtype=torch.float64)),
    "int * float32": lambda t, m: t * m.tensor([0.5, 1.5, 2.5]),
    "maximum(int, float)": lambda t, m: m.maximum(t, m.tensor([0.5, 2.5, 1.0])),
}


@pytest.mark.parametrize("case", list(PROMOTIONS))
def test_dtype_promotion_with_integer_tensors(case):
    """Integers meeting floats take the float's dtype; int / int is float32 (as torch)."""
    ours = PROMOTIONS[case](tv.tensor([1, 2, 3]), tv)
    theirs = PROMOTIONS[case](torch.tensor([1, 2, 3]), torch)
    assert_close(ours, theirs, case)


@pytest.mark.parametrize("op", ["__lt__", "__le__", "__gt__", "__ge__", "eq", "ne"])
def test_comparisons(op):
    rng = np.random.default_rng(21)
    a, b = ints(rng, (3, 4), np.float32, 1), ints(rng, (4,), np.float32, 1)
    check(lambda x, y: getattr(x, op)(y), lambda x, y: getattr(x, op)(y), a, b,
          grad=[False, False])
    check(lambda x: getattr(x, op)(0.0), lambda x: getattr(x, op)(0.0), a, grad=[False])


UNARY = {
    "exp": (F.exp, torch.exp, rand),
    "log": (F.log, torch.log, lambda r, s, d: r.uniform(0.1, 3, s).astype(d)),
    "sqrt": (F.sqrt, torch.sqrt, lambda r, s, d: r.uniform(0.1, 3, s).astype(d)),
    "abs": (F.abs, torch.abs, ints),  # zeros included: d|x|/dx = 0 at 0
    "neg": (F.neg, torch.neg, rand),
    "relu": (F.relu, torch.relu, ints),  # 0 at 0
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2), ints),
    "sigmoid": (F.sigmoid, torch.sigmoid, lambda r, s, d: r.uniform(-60, 60, s).astype(d)),
    "tanh": (F.tanh, torch.tanh, lambda r, s, d: r.uniform(-5, 5, s).astype(d)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", list(UNARY))
@given(shape=hnp.array_shapes(min_dims=0, max_dims=4, max_side=5), seed=seeds)
def test_unary(op, dtype, shape, seed):
    ours, theirs, draw = UNARY[op]
    check(ours, theirs, draw(np.random.default_rng(seed), shape, dtype), seed=seed)


@pytest.mark.parametrize("method", ["sum", "mean", "exp", "abs", "relu", "sigmoid", "tanh",
                                    "flatten", "t", "double", "float"])
def test_tensor_methods(method):
    x = away_from_zero(np.random.default_rng(2), (3, 4), np.float64)
    check(lambda t: getattr(t, method)(), lambda t: getattr(t, method)(), x)


# ---- clamp, where, maximum/minimum at ties -------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lo, hi", [(-1.0, 1.0), (None, 0.0), (0.0, None), (1.0, 1.0), (1.0, -1.0)])
def test_clamp_passes_the_gradient_at_the_bounds(lo, hi, dtype):
    x = np.array([-2, -1, -0.5, 0, 0.5, 1, 2, 1, -1, 0], dtype)  # hits both bounds exactly
    check(lambda t: F.clamp(t, lo, hi), lambda t: torch.clamp(t, lo, hi), x)
    check(lambda t: t.clamp(min=lo, max=hi), lambda t: t.clamp(min=lo, max=hi), x)
    ours, theirs = check(lambda t: F.clip(t, lo, hi), lambda t: torch.clip(t, lo, hi), x)


@pytest.mark.parametrize("dtype", DTYPES)
def test_maximum_minimum_split_ties_in_half(dtype):
    a = np.array([[1, 2, 3], [0, 0, 5]], dtype)
    b = np.array([1, 0, 3], dtype)  # ties at (0, 0), (0, 2) and broadcast over rows
    ours, _ = check(F.maximum, torch.maximum, a, b)
    check(F.minimum, torch.minimum, a, b)
    check(lambda x, y: x.maximum(y), lambda x, y: x.maximum(y), a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=4),
       seed=seeds)
def test_where(dtype, shapes, seed):
    rng = np.random.default_rng(seed)
    sc, sa, sb = shapes.input_shapes
    cond = rng.random(sc) < 0.5
    check(lambda c, a, b: F.where(c, a, b), lambda c, a, b: torch.where(c, a, b),
          cond, rand(rng, sa, dtype), rand(rng, sb, dtype))


# ---- reductions ---------------------------------------------------------------------------------
@st.composite
def shape_and_dims(draw, min_dims=1, max_dims=4):
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=4))
    dims = draw(st.lists(st.integers(-len(shape), len(shape) - 1), min_size=1,
                         max_size=len(shape), unique_by=lambda d: d % len(shape)))
    return shape, tuple(dims)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin"])
@given(sd=shape_and_dims(), keepdim=st.booleans(), seed=seeds)
def test_reduction_over_dims(op, dtype, sd, keepdim, seed):
    shape, dims = sd
    rng = np.random.default_rng(seed)
    x = ints(rng, shape, dtype, 2) if op in ("amax", "amin") else rand(rng, shape, dtype)
    # amax/amin share the gradient evenly between tied maxima, as torch.amax
    check(lambda t: getattr(F, op)(t, dims, keepdim),
          lambda t: getattr(torch, op)(t, dims, keepdim), x, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "amax", "amin"])
def test_reduction_to_a_scalar(op, dtype):
    x = ints(np.random.default_rng(3), (4, 5), dtype, 2)  # max/min over all: ties share (torch)
    check(getattr(F, op), getattr(torch, op), x)
    check(lambda t: getattr(t, op)(), lambda t: getattr(t, op)(), x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["max", "min"])
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=5), data=st.data(),
       keepdim=st.booleans(), seed=seeds)
def test_max_min_over_a_dim_give_the_gradient_to_the_returned_index(op, dtype, shape, data,
                                                                    keepdim, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = ints(np.random.default_rng(seed), shape, dtype, 1)  # many ties: torch picks the first
    ours, theirs = check(lambda t: getattr(F, op)(t, dim, keepdim),
                         lambda t: getattr(torch, op)(t, dim, keepdim), x, seed=seed)
    assert ours[1].dtype == np.int64


def test_max_over_a_dim_returns_a_named_pair():
    x = tv.tensor([[1.0, 5.0, 5.0], [7.0, 7.0, 0.0]])
    out = x.max(dim=1)
    np.testing.assert_array_equal(out.values.data, [5, 7])
    np.testing.assert_array_equal(out.indices.data, [1, 0])  # the first of tied maxima
    values, indices = F.min(x, 1, keepdim=True)
    assert values.shape == indices.shape == (2, 1)


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), data=st.data(),
       keepdim=st.booleans(), seed=seeds)
def test_argmax_argmin(op, shape, data, keepdim, seed):
    dim = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    x = ints(np.random.default_rng(seed), shape, np.float64, 1)
    if dim is None:
        check(getattr(F, op), getattr(torch, op), x, grad=[False])
    else:
        check(lambda t: getattr(F, op)(t, dim, keepdim),
              lambda t: getattr(torch, op)(t, dim, keepdim), x, grad=[False])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["var", "std"])
@given(sd=shape_and_dims(), keepdim=st.booleans(), correction=st.sampled_from([0, 1, 2]),
       seed=seeds)
def test_var_std_with_correction(op, dtype, sd, keepdim, correction, seed):
    shape, dims = sd
    if int(np.prod([shape[d] for d in dims])) <= correction:
        shape = tuple(n + correction for n in shape)  # keep n − correction > 0
    x = rand(np.random.default_rng(seed), shape, dtype)
    check(lambda t: getattr(F, op)(t, dims, keepdim=keepdim, correction=correction),
          lambda t: getattr(torch, op)(t, dims, keepdim=keepdim, correction=correction),
          x, seed=seed, scale=10)


@pytest.mark.parametrize("op", ["var", "std"])
@pytest.mark.parametrize("unbiased", [True, False])
def test_var_std_unbiased(op, unbiased):
    x = rand(np.random.default_rng(4), (3, 5), np.float64)
    check(lambda t: getattr(F, op)(t, 1, unbiased), lambda t: getattr(torch, op)(t, 1, unbiased), x)
    check(lambda t: getattr(t, op)(unbiased=unbiased),
          lambda t: getattr(t, op)(unbiased=unbiased), x)


# ---- matmul and linear ---------------------------------------------------------------------------
MATMUL_SHAPES = [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)), ((3, 4), (4, 2)),
                 ((5, 3, 4), (4, 2)), ((5, 3, 4), (5, 4, 2)), ((2, 1, 3, 4), (5, 4, 2)),
                 ((4,), (5, 4, 2)), ((5, 3, 4), (4,)), ((1, 3, 4), (2, 5, 4, 2))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sa, sb", MATMUL_SHAPES)
def test_matmul(sa, sb, dtype):
    rng = np.random.default_rng(5)
    a, b = rand(rng, sa, dtype), rand(rng, sb, dtype)
    check(F.matmul, torch.matmul, a, b)
    check(lambda x, y: x @ y, lambda x, y: x @ y, a, b)
    check(lambda x, y: x.matmul(y), lambda x, y: x.matmul(y), a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xshape", [(5,), (4, 5), (2, 3, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(xshape, bias, dtype):
    rng = np.random.default_rng(6)
    x, w, b = rand(rng, xshape, dtype), rand(rng, (3, 5), dtype), rand(rng, (3,), dtype)
    if bias:
        check(F.linear, TF.linear, x, w, b)
    else:
        check(F.linear, TF.linear, x, w)


# ---- shape ops and indexing ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), data=st.data(), seed=seeds)
def test_reshape_permute_transpose_squeeze_unsqueeze_flatten(dtype, shape, data, seed):
    x = rand(np.random.default_rng(seed), shape, dtype)
    n = len(shape)
    perm = tuple(data.draw(st.permutations(range(n))))
    d0, d1 = data.draw(st.integers(-n, n - 1)), data.draw(st.integers(-n, n - 1))
    u = data.draw(st.integers(-n - 1, n))
    s, e = sorted(data.draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2)))
    check(lambda t: F.reshape(t, (-1,)), lambda t: torch.reshape(t, (-1,)), x, seed=seed)
    check(lambda t: t.reshape(shape[::-1]), lambda t: t.reshape(shape[::-1]), x, seed=seed)
    check(lambda t: t.view(-1, shape[-1]), lambda t: t.view(-1, shape[-1]), x, seed=seed)
    check(lambda t: F.permute(t, perm), lambda t: t.permute(perm), x, seed=seed)
    check(lambda t: F.transpose(t, d0, d1), lambda t: torch.transpose(t, d0, d1), x, seed=seed)
    check(lambda t: F.unsqueeze(t, u), lambda t: torch.unsqueeze(t, u), x, seed=seed)
    check(lambda t: F.squeeze(F.unsqueeze(t, u)), lambda t: torch.squeeze(t.unsqueeze(u)), x,
          seed=seed)
    check(lambda t: F.squeeze(F.unsqueeze(t, u), u), lambda t: t.unsqueeze(u).squeeze(u), x,
          seed=seed)
    check(lambda t: F.flatten(t, s, e), lambda t: torch.flatten(t, s, e), x, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("src, target", [((3, 1), (3, 4)), ((1, 4), (2, 3, 4)), ((4,), (2, 4)),
                                         ((2, 1, 1), (2, 3, -1))])
def test_expand(src, target, dtype):
    x = rand(np.random.default_rng(7), src, dtype)
    check(lambda t: F.expand(t, target), lambda t: t.expand(*target), x)
    check(lambda t: t.expand(*target), lambda t: t.expand(*target), x)


INDICES = {
    "int": lambda: 1,
    "negative int": lambda: -1,
    "slice": lambda: slice(1, None, 2),
    "tuple of slices": lambda: (slice(None), slice(0, 2)),
    "ellipsis": lambda: (Ellipsis, 0),
    "None": lambda: (None, slice(1, 3)),
    "repeated ints": lambda: [0, 2, 0, 0, 3],
    "repeated int array": lambda: np.array([[1, 1], [3, 1]]),
    "two int arrays, repeated pairs": lambda: (np.array([0, 0, 2, 0]), np.array([1, 1, 0, 1])),
    "int array and slice": lambda: (slice(None), np.array([2, 2, 0])),
    "bool mask": lambda: np.array([True, False, True, True]),
    "int and array": lambda: (1, np.array([0, 0, 2])),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(INDICES))
def test_indexing(name, dtype):
    x = rand(np.random.default_rng(8), (4, 3, 2), dtype)
    index = INDICES[name]()

    def as_torch(i):
        if isinstance(i, tuple):
            return tuple(as_torch(j) for j in i)
        return torch.tensor(i) if isinstance(i, (np.ndarray, list)) else i

    check(lambda t: t[index], lambda t: t[as_torch(index)], x)
    check(lambda t: F.getitem(t, index), lambda t: t[as_torch(index)], x)


def test_indexing_with_integer_tensors_accumulates_repeats():
    x = tv.tensor(np.arange(5.0), requires_grad=True)
    x[tv.tensor([1, 1, 1, 4])].sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 3, 0, 0, 1])


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), data=st.data(), seed=seeds)
def test_cat_stack(dtype, shape, data, seed):
    rng = np.random.default_rng(seed)
    n = len(shape)
    dim = data.draw(st.integers(-n, n - 1))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    parts = []
    for k in sizes:
        s = list(shape)
        s[dim] = k
        parts.append(rand(rng, tuple(s), dtype))
    check(lambda *ts: F.cat(ts, dim), lambda *ts: torch.cat(ts, dim), *parts, seed=seed)
    check(lambda *ts: F.concatenate(ts, dim), lambda *ts: torch.concatenate(ts, dim), *parts,
          seed=seed)
    sdim = data.draw(st.integers(-n - 1, n))
    same = [rand(rng, shape, dtype) for _ in sizes]
    check(lambda *ts: F.stack(ts, sdim), lambda *ts: torch.stack(ts, sdim), *same, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=7), data=st.data(),
       seed=seeds)
def test_split_chunk(dtype, shape, data, seed):
    n = len(shape)
    dim = data.draw(st.integers(-n, n - 1))
    size = shape[dim]
    x = rand(np.random.default_rng(seed), shape, dtype)
    k = data.draw(st.integers(1, size + 1))
    check(lambda t: F.split(t, k, dim), lambda t: torch.split(t, k, dim), x, seed=seed)
    check(lambda t: t.split(k, dim), lambda t: t.split(k, dim), x, seed=seed)
    cuts = sorted(data.draw(st.lists(st.integers(0, size), max_size=3)))
    sections = [b - a for a, b in zip([0] + cuts, cuts + [size])]
    check(lambda t: F.split(t, sections, dim), lambda t: torch.split(t, sections, dim), x,
          seed=seed)
    chunks = data.draw(st.integers(1, size))
    check(lambda t: F.chunk(t, chunks, dim), lambda t: torch.chunk(t, chunks, dim), x, seed=seed)


def test_split_uses_only_the_pieces_that_reach_the_loss():
    x = tv.tensor(np.arange(6.0), requires_grad=True)
    a, b, c = F.split(x, 2)
    (b * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 0, 3, 3, 0, 0])


# (mode, input shape, pad): torch's non-constant modes pad the last 1, 2 or 3 dims of a
# batched or unbatched input; constant pads any dims.
PADS = [
    ("constant", (2, 3, 5), (1, 2)), ("constant", (2, 3, 4, 5), (0, 1, 2, 3)),
    ("constant", (3, 4), (2, 0, 1, 1)), ("constant", (2, 3, 4), (1, 1, 0, 2, 3, 1)),
    ("reflect", (2, 3, 5), (2, 4)), ("reflect", (3, 5), (1, 0)), ("reflect", (3, 5), (0, 3)),
    ("reflect", (2, 3, 4, 5), (1, 2, 3, 0)), ("reflect", (1, 2, 3, 4, 5), (1, 1, 2, 1, 2, 2)),
    ("replicate", (2, 3, 5), (3, 1)), ("replicate", (2, 3, 4, 5), (2, 0, 5, 1)),
    ("replicate", (1, 2, 3, 4, 5), (1, 0, 2, 1, 0, 3)),
    ("circular", (2, 3, 5), (2, 5)), ("circular", (2, 3, 4, 5), (1, 3, 4, 0)),
    ("circular", (1, 2, 3, 4, 5), (1, 2, 0, 4, 3, 1)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode, shape, pad", PADS)
def test_pad(mode, shape, pad, dtype):
    x = rand(np.random.default_rng(9), shape, dtype)
    check(lambda t: F.pad(t, pad, mode), lambda t: TF.pad(t, pad, mode), x)
    if mode == "constant":
        check(lambda t: F.pad(t, pad, value=-1.5), lambda t: TF.pad(t, pad, value=-1.5), x)


# ---- softmax, log_softmax, dropout --------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=5), data=st.data(), seed=seeds,
       magnitude=st.sampled_from([1.0, 1e2, 1e4]))
def test_softmax_log_softmax_are_stable(op, dtype, shape, data, seed, magnitude):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = rand(np.random.default_rng(seed), shape, dtype) * dtype(magnitude)  # e^1e4 overflows
    ours, _ = check(lambda t: getattr(F, op)(t, dim), lambda t: getattr(TF, op)(t, dim), x,
                    seed=seed, scale=100 if magnitude > 1 else 1)
    assert np.isfinite(ours[0].data).all()


def test_softmax_of_huge_equal_logits():
    x = np.array([[1e30, 1e30, -1e30], [-1e4, -1e4, -1e4]], np.float32)
    check(lambda t: F.softmax(t, 1), lambda t: TF.softmax(t, 1), x)
    check(lambda t: F.log_softmax(t, -1), lambda t: TF.log_softmax(t, -1), x)


@pytest.mark.parametrize("p", [0.1, 0.3, 0.75])
def test_dropout_scaling_statistics(p):
    """Not the mask (the random streams differ), but its law: a fraction p of zeros, the rest
    scaled by exactly 1/(1−p) like torch's, the mean kept, the gradient the same mask."""
    x = np.ones((200, 500), np.float32)
    t = tv.tensor(x, requires_grad=True)
    y = F.dropout(t, p, training=True)
    ref = TF.dropout(torch.tensor(x), p, training=True).numpy()
    zero = y.data == 0
    assert abs(zero.mean() - p) < 0.01
    assert abs((ref == 0).mean() - p) < 0.01
    np.testing.assert_array_equal(np.unique(y.data[~zero]), np.unique(ref[ref != 0]))
    assert abs(y.data.mean() - 1) < 0.02
    g = np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)
    y.backward(g)
    np.testing.assert_allclose(t.grad, g * y.data, rtol=1e-6)


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_dropout_edges_and_eval(p):
    x = rand(np.random.default_rng(10), (4, 6), np.float64)
    check(lambda t: F.dropout(t, p, training=False), lambda t: TF.dropout(t, p, training=False), x)
    if p in (0.0, 1.0):  # deterministic in training too
        check(lambda t: F.dropout(t, p), lambda t: TF.dropout(t, p), x)


# ---- batch norm ------------------------------------------------------------------------------
BN_SHAPES = [(8, 3), (4, 3, 5), (2, 3, 4, 5)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training, stats_as", [(True, "tensor"), (True, "ndarray"), (True, "none"),
                                                (False, "tensor"), (False, "ndarray")])
def test_batch_norm(shape, training, affine, stats_as, dtype):
    """Running statistics given as Tensors (as the layers keep them), as ndarrays, or not at
    all (training only: eval mode needs them, in torch too)."""
    rng = np.random.default_rng(11)
    C = shape[1]
    x = rng.normal(2.0, 3.0, shape).astype(dtype)
    w, b = rng.uniform(0.5, 2, C).astype(dtype), rng.normal(size=C).astype(dtype)
    rm, rv = rng.normal(size=C).astype(dtype), rng.uniform(0.5, 2, C).astype(dtype)
    ours_rm, ours_rv = rm.copy(), rv.copy()
    if stats_as == "tensor":
        ours_rm, ours_rv = tv.tensor(ours_rm), tv.tensor(ours_rv)
    elif stats_as == "none":
        ours_rm = ours_rv = None
    theirs_rm, theirs_rv = ((None, None) if stats_as == "none" else
                            (torch.tensor(rm), torch.tensor(rv)))
    args = (x, w, b) if affine else (x,)

    def ours(t, weight=None, bias=None):
        return F.batch_norm(t, ours_rm, ours_rv, weight, bias, training, 0.3, 1e-4)

    def theirs(t, weight=None, bias=None):
        return TF.batch_norm(t, theirs_rm, theirs_rv, weight, bias, training, 0.3, 1e-4)

    check(ours, theirs, *args, scale=10)
    if stats_as != "none":  # updated in place in training, untouched in eval, as torch's
        assert_close(ours_rm, theirs_rm, "running_mean")
        assert_close(ours_rv, theirs_rv, "running_var")
        if not training:
            np.testing.assert_array_equal(_np(ours_rm), rm)


# ---- losses ----------------------------------------------------------------------------------
REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 2, 3)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 2])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_index_targets(shape, weighted, ignore_index, label_smoothing, reduction,
                                     dtype):
    rng = np.random.default_rng(12)
    C = shape[1]
    x = rng.normal(0, 3, shape).astype(dtype)
    target = rng.integers(0, C, shape[:1] + shape[2:])
    target.flat[::4] = ignore_index  # some items are ignored (2 is also a real class)
    weight = rng.uniform(0.2, 3, C).astype(dtype) if weighted else None

    def call(F_, t_):
        def fn(z, y):
            return F_.cross_entropy(z, y, None if weight is None else t_(weight),
                                    ignore_index=ignore_index, reduction=reduction,
                                    label_smoothing=label_smoothing)
        return fn

    check(call(F, tv.tensor), call(TF, torch.tensor), x, target, scale=10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 2, 3)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probability_targets(shape, weighted, label_smoothing, reduction, dtype):
    rng = np.random.default_rng(13)
    C = shape[1]
    x = rng.normal(0, 3, shape).astype(dtype)
    q = rng.random(shape)
    q = (q / q.sum(axis=1, keepdims=True)).astype(dtype)
    weight = rng.uniform(0.2, 3, C).astype(dtype) if weighted else None

    def call(F_, t_):
        def fn(z, y):
            return F_.cross_entropy(z, y, None if weight is None else t_(weight),
                                    reduction=reduction, label_smoothing=label_smoothing)
        return fn

    # the target's gradient is not part of tinyvision's op: compare the input's only
    check(call(F, tv.tensor), call(TF, torch.tensor), x, q, grad=[True, False], scale=10)


def test_cross_entropy_on_extreme_logits_stays_finite():
    x = np.array([[1e4, -1e4, 0.0], [-500.0, 500.0, 499.0]], np.float32)
    ours, _ = check(lambda z, y: F.cross_entropy(z, y), lambda z, y: TF.cross_entropy(z, y),
                    x, np.array([1, 2]))
    assert np.isfinite(ours[0].data)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 2, 3)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 1])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(shape, weighted, ignore_index, reduction, dtype):
    rng = np.random.default_rng(14)
    C = shape[1]
    logp = np.log(rng.dirichlet(np.ones(C), size=shape[:1] + shape[2:]))
    logp = np.ascontiguousarray(np.moveaxis(logp, -1, 1), dtype)  # torch needs it contiguous
    target = rng.integers(0, C, shape[:1] + shape[2:])
    target.flat[::3] = ignore_index
    weight = rng.uniform(0.2, 3, C).astype(dtype) if weighted else None

    def call(F_, t_):
        def fn(z, y):
            return F_.nll_loss(z, y, None if weight is None else t_(weight),
                               ignore_index=ignore_index, reduction=reduction)
        return fn

    check(call(F, tv.tensor), call(TF, torch.tensor), logp, target, scale=10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weight", ["none", "per class", "full"])
@pytest.mark.parametrize("pos_weight", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits(weight, pos_weight, reduction, dtype):
    """Gradients w.r.t. both input and target; logits of ±100 must stay finite."""
    rng = np.random.default_rng(15)
    x = rng.normal(0, 4, (5, 3)).astype(dtype)
    x[0] = [100, -100, 0]
    x[1] = [-100, 100, 30]
    t = rng.random((5, 3)).astype(dtype)
    t[0], t[1] = [1, 0, 1], [1, 0, 0]  # hard targets on the wrong side of ±100: big but finite
    extra = {"none": None, "per class": rng.uniform(0.5, 2, 3),
             "full": rng.uniform(0.5, 2, (5, 3))}[weight]
    pw = rng.uniform(0.5, 3, 3).astype(dtype) if pos_weight else None

    def call(F_, t_):
        def fn(z, y):
            return F_.binary_cross_entropy_with_logits(
                z, y, None if extra is None else t_(extra.astype(dtype)), reduction=reduction,
                pos_weight=None if pw is None else t_(pw))
        return fn

    ours, _ = check(call(F, tv.tensor), call(TF, torch.tensor), x, t, scale=10)
    assert np.isfinite(ours[0].data).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss, kwargs", [
    ("mse_loss", {}), ("l1_loss", {}),
    ("smooth_l1_loss", {}), ("smooth_l1_loss", {"beta": 0.5}), ("smooth_l1_loss", {"beta": 0.0}),
    ("smooth_l1_loss", {"beta": 3.0}),
    ("huber_loss", {}), ("huber_loss", {"delta": 0.3}), ("huber_loss", {"delta": 2.5}),
])
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), seed=seeds)
def test_regression_losses(loss, kwargs, reduction, dtype, shape, seed):
    rng = np.random.default_rng(seed)
    x, y = rand(rng, shape, dtype, -3, 3), rand(rng, shape, dtype, -3, 3)
    check(lambda a, b: getattr(F, loss)(a, b, reduction=reduction, **kwargs),
          lambda a, b: getattr(TF, loss)(a, b, reduction=reduction, **kwargs), x, y, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.5, 1.0, 2.0, 3.0, math.inf])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shapes", [((5, 4), (5, 4)), ((4,), (4,)), ((5, 4), (4,)),
                                    ((2, 3, 4), (3, 4))])
def test_pairwise_distance(p, keepdim, shapes, dtype):
    rng = np.random.default_rng(20)
    a, b = rand(rng, shapes[0], dtype), rand(rng, shapes[1], dtype)
    check(lambda x, y: F.pairwise_distance(x, y, p, 1e-6, keepdim),
          lambda x, y: TF.pairwise_distance(x, y, p, 1e-6, keepdim), a, b, scale=10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, math.inf])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("margin, eps", [(1.0, 1e-6), (0.3, 0.1), (4.0, 1e-6)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 4), (5,)])
def test_triplet_margin_loss(p, swap, margin, eps, reduction, shape, dtype):
    rng = np.random.default_rng(16)
    a, pos, neg = (rand(rng, shape, dtype) for _ in range(3))
    check(lambda *t: F.triplet_margin_loss(*t, margin=margin, p=p, eps=eps, swap=swap,
                                           reduction=reduction),
          lambda *t: TF.triplet_margin_loss(*t, margin=margin, p=p, eps=eps, swap=swap,
                                            reduction=reduction), a, pos, neg, scale=10)


@pytest.mark.parametrize("ours, theirs, n_inputs, int_target", [
    (nn.CrossEntropyLoss(label_smoothing=0.1), torch.nn.CrossEntropyLoss(label_smoothing=0.1), 2,
     True),
    (nn.NLLLoss(reduction="sum"), torch.nn.NLLLoss(reduction="sum"), 2, True),
    (nn.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss(), 2, False),
    (nn.MSELoss(), torch.nn.MSELoss(), 2, False),
    (nn.L1Loss(reduction="none"), torch.nn.L1Loss(reduction="none"), 2, False),
    (nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5), 2, False),
    (nn.HuberLoss(delta=0.5), torch.nn.HuberLoss(delta=0.5), 2, False),
    (nn.TripletMarginLoss(margin=0.5, swap=True), torch.nn.TripletMarginLoss(margin=0.5, swap=True),
     3, False),
])
def test_loss_modules(ours, theirs, n_inputs, int_target):
    rng = np.random.default_rng(17)
    x = rand(rng, (4, 3), np.float64)
    if int_target:
        check(ours, theirs, x, rng.integers(0, 3, 4))
    else:
        check(ours, theirs, *[rand(rng, (4, 3), np.float64) for _ in range(n_inputs)])


# ---- nn layers with copied weights -----------------------------------------------------------
def _copy_params(ours, theirs):
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        p.data[...] = tp.detach().numpy()


def _compare_params(ours, theirs, what):
    for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_close(p.grad, tp.grad, f"{what}: grad of {name}", 10)
    for (name, b), (tname, tb) in zip(ours.named_buffers(), theirs.named_buffers()):
        assert name == tname
        assert_close(b, tb, f"{what}: buffer {name}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_layer(bias, dtype):
    ours = nn.Linear(5, 3, bias=bias).to(dtype)
    theirs = torch.nn.Linear(5, 3, bias=bias).to(torch.float64 if dtype == np.float64 else
                                                 torch.float32)
    _copy_params(ours, theirs)
    x = rand(np.random.default_rng(18), (4, 2, 5), dtype)
    check(ours, theirs, x)
    _compare_params(ours, theirs, "Linear")
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


@pytest.mark.parametrize("cls, shape", [("BatchNorm1d", (8, 3)), ("BatchNorm1d", (4, 3, 5)),
                                        ("BatchNorm2d", (2, 3, 4, 5))])
@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("track_running_stats", [True, False])
def test_batch_norm_layer(cls, shape, momentum, affine, track_running_stats):
    """Three training steps (outputs, input and parameter gradients, running statistics,
    num_batches_tracked), then eval: exactly torch's layer."""
    kwargs = dict(momentum=momentum, affine=affine, track_running_stats=track_running_stats)
    ours = getattr(nn, cls)(3, **kwargs).double()
    theirs = getattr(torch.nn, cls)(3, **kwargs).double()
    rng = np.random.default_rng(19)
    if affine:
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 2)
            theirs.bias.normal_()
        _copy_params(ours, theirs)
    for step in range(3):
        ours.zero_grad()
        theirs.zero_grad()
        x = rng.normal(step, 1 + step, shape)
        check(ours, theirs, x, scale=10)
        _compare_params(ours, theirs, f"{cls} step {step}")
    ours.eval()
    theirs.eval()
    check(ours, theirs, rng.normal(1, 2, shape), scale=10)
    _compare_params(ours, theirs, f"{cls} eval")


# ---- init: the formulas, checked on the distributions ----------------------------------------
def _init_pair(name, shape, **kwargs):
    ours = nn.Parameter(np.zeros(shape, np.float64))
    getattr(nn.init, name)(ours, **kwargs)
    theirs = torch.zeros(shape, dtype=torch.float64)
    getattr(torch.nn.init, name)(theirs, **kwargs)
    return ours.data, theirs.numpy()


INITS = [
    ("kaiming_uniform_", (400, 500), {"a": math.sqrt(5)}, "uniform", 1 / math.sqrt(500)),
    ("kaiming_uniform_", (300, 200, 3, 3), {"nonlinearity": "relu"}, "uniform",
     math.sqrt(3) * math.sqrt(2 / 1800)),
    ("kaiming_uniform_", (400, 500), {"mode": "fan_out", "nonlinearity": "leaky_relu", "a": 0.2},
     "uniform", math.sqrt(3) * math.sqrt(2 / 1.04) / math.sqrt(400)),
    ("kaiming_normal_", (400, 500), {"mode": "fan_out", "nonlinearity": "relu"}, "normal",
     math.sqrt(2 / 400)),
    ("kaiming_normal_", (64, 200, 5, 5), {}, "normal", math.sqrt(2 / 5000)),
    ("xavier_uniform_", (400, 500), {}, "uniform", math.sqrt(6 / 900)),
    ("xavier_uniform_", (400, 300, 3, 3), {"gain": 5 / 3}, "uniform",
     5 / 3 * math.sqrt(6 / (2700 + 3600))),
    ("xavier_normal_", (400, 500), {"gain": 2.0}, "normal", 2 * math.sqrt(2 / 900)),
    ("uniform_", (400, 500), {"a": -0.3, "b": 0.7}, "uniform", None),
    ("normal_", (400, 500), {"mean": 1.0, "std": 0.25}, "normal", 0.25),
]


@pytest.mark.parametrize("name, shape, kwargs, law, param", INITS)
def test_init_distributions_match_torch(name, shape, kwargs, law, param):
    """``param`` is the formula's bound (uniform) or std (normal), written out by hand."""
    ours, theirs = _init_pair(name, shape, **kwargs)
    assert ours.shape == shape
    se = 6 / math.sqrt(ours.size)  # six standard errors (relative), ~0.01 here
    assert abs(ours.std() - theirs.std()) < se * theirs.std()
    assert abs(ours.mean() - theirs.mean()) < se * theirs.std()
    if law == "uniform":
        lo, hi = (kwargs["a"], kwargs["b"]) if name == "uniform_" else (-param, param)
        assert lo <= ours.min() < lo + 1e-3 * (hi - lo) and hi - 1e-3 * (hi - lo) < ours.max() <= hi
        assert lo <= theirs.min() and theirs.max() <= hi  # the hand formula is torch's too
        assert abs(ours.std() - (hi - lo) / math.sqrt(12)) < 0.01 * (hi - lo)
    else:
        assert abs(ours.std() - param) < 0.01 * param
        assert abs(theirs.std() - param) < 0.01 * param
        kurtosis = ((ours - ours.mean()) ** 4).mean() / ours.var() ** 2
        assert abs(kurtosis - 3) < 0.1  # normal, not uniform (1.8)


@pytest.mark.parametrize("name", ["constant_", "zeros_", "ones_"])
def test_constant_inits(name):
    kwargs = {"val": 0.25} if name == "constant_" else {}
    ours, theirs = _init_pair(name, (3, 4), **kwargs)
    np.testing.assert_array_equal(ours, theirs)


def test_linear_default_init_is_torchs():
    """kaiming_uniform_(a=√5): U(−1/√in, 1/√in) for weight and bias."""
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (layer.weight.data, layer.bias.data):
        assert np.abs(p).max() <= bound
    assert abs(layer.weight.data.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert abs(np.abs(layer.weight.data).max() - bound) < 1e-3 * bound


@pytest.mark.parametrize("nonlinearity, param", [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
    ("conv_transpose1d", None), ("conv_transpose2d", None), ("conv_transpose3d", None),
    ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
    ("leaky_relu", 0.2), ("leaky_relu", 0), ("selu", None),
])
def test_calculate_gain(nonlinearity, param):
    assert nn.init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-12)
