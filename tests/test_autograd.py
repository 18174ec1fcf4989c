"""The autograd engine's semantics: how gradients flow, accumulate, stop, and are freed.

Each test builds a small graph whose gradient is known by hand (or checked against central
differences with ``tv.gradcheck``) and asserts one rule of the engine: accumulation into
leaves, summing over paths, un-broadcasting, no_grad and friends, detach, the graph being
freed after backward, retain_grad, multi-output Functions, custom Functions, backward with an
explicit gradient, the dtype rules of DESIGN.md, deep graphs, and in-place guards.
"""
import gc
import sys
import weakref

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinyvision as tv
import tinyvision.functional as F
from tinyvision.autograd import Function


def leaf(values, dtype=np.float64):
    return tv.tensor(np.asarray(values, dtype), requires_grad=True)


# ---- accumulation and paths -------------------------------------------------------------
def test_leaf_grad_accumulates_across_backward_calls():
    x = leaf([1.0, 2.0, 3.0])
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad, [5.0, 5.0, 5.0])
    x.grad = None  # what an optimizer's zero_grad does: the next backward starts afresh
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)


def test_tensor_used_twice_in_one_op_sums_its_gradients():
    x = leaf([1.0, -2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)
    y = leaf([1.0, 2.0])
    (y + y + y).sum().backward()
    np.testing.assert_allclose(y.grad, [3.0, 3.0])


def test_diamond_graph_sums_both_paths():
    """x → a → (b, c) → y: a's gradient is the sum of what b and c send back."""
    x = leaf([0.5, -1.0])
    a = tv.exp(x)
    y = (a * 2 + a * 3).sum()
    y.backward()
    np.testing.assert_allclose(x.grad, 5 * np.exp(x.data))


def test_shared_node_reached_by_a_short_and_a_long_path():
    """y = a + 2a: the root consumes a directly and through a longer branch; a's backward
    must wait for both (an engine that orders nodes wrongly runs it after the short path
    only and loses 2/3 of the gradient)."""
    x = leaf([1.0, 2.0])
    a = tv.exp(x)
    (a + a * 2).sum().backward()
    np.testing.assert_allclose(x.grad, 3 * np.exp(x.data))
    # The residual shape of ResNets: h ← h + f(h), three times.
    x = leaf([0.3, -0.7])
    h = x
    for _ in range(3):
        h = h + F.tanh(h)
    h.sum().backward()
    expected = np.ones(2)
    value = x.data.copy()
    for _ in range(3):  # chain rule by hand: dh'/dh = 1 + (1 − tanh² h)
        expected, value = expected * (2 - np.tanh(value) ** 2), value + np.tanh(value)
    np.testing.assert_allclose(x.grad, expected)


DAG_OPS = [
    ("add", 2, lambda a, b: a + b),
    ("mul", 2, lambda a, b: a * b),
    ("sub", 2, lambda a, b: a - b),
    ("tanh", 1, lambda a: F.tanh(a)),
    ("sigmoid·2", 1, lambda a: F.sigmoid(a) * 2),
    ("sum-broadcast", 1, lambda a: a.sum(dim=0, keepdim=True) + a),
]


@given(data=st.data())
def test_random_dags_match_central_differences(data):
    """Random graphs over two leaves, each node an op on earlier nodes (so nodes are shared
    by many consumers, at many depths); the loss sums some nodes. The engine's gradient must
    match gradcheck's central differences whatever the shape of the graph."""
    n_nodes = data.draw(st.integers(1, 12), label="nodes")
    plan = []
    for k in range(n_nodes):
        name, arity, _ = data.draw(st.sampled_from(DAG_OPS), label=f"node {k} op")
        args = data.draw(st.lists(st.integers(0, k + 1), min_size=arity, max_size=arity),
                         label=f"node {k} inputs")
        plan.append((name, args))
    summed = data.draw(st.sets(st.integers(0, n_nodes + 1), min_size=1), label="loss sums")
    ops = {name: fn for name, _, fn in DAG_OPS}

    def fn(x, y):
        nodes = [x, y]
        for name, args in plan:
            nodes.append(ops[name](*(nodes[i] for i in args)))
        return sum(nodes[i].sum() for i in sorted(summed) if i < len(nodes))

    rng = np.random.default_rng(data.draw(st.integers(0, 1000), label="seed"))
    assert tv.gradcheck(fn, [rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, (2, 3))])


def test_broadcasting_unbroadcasts_exactly():
    a = leaf(np.arange(3.0).reshape(3, 1))       # (3, 1)
    b = leaf([1.0, 2.0, 3.0, 4.0])               # (4,)
    c = leaf(2.0)                                # 0-d
    d = leaf(np.ones((2, 1, 1, 4)))              # (2, 1, 1, 4): a new leading axis, two 1s
    ((a * b + c) * d).sum().backward()           # -> (2, 1, 3, 4)
    shapes = (a.grad.shape, b.grad.shape, c.grad.shape, d.grad.shape)
    assert shapes == ((3, 1), (4,), (), (2, 1, 1, 4))
    np.testing.assert_allclose(a.grad, np.full((3, 1), 2 * b.data.sum()))
    np.testing.assert_allclose(b.grad, np.full(4, 2 * a.data.sum()))
    np.testing.assert_allclose(c.grad, 2 * 12)
    np.testing.assert_allclose(d.grad, np.broadcast_to((a.data * b.data + 2).sum(0), (2, 1, 1, 4)))


def test_backward_of_a_leaf_itself_and_grads_own_their_memory():
    x = leaf([1.0, 2.0])
    g = np.array([3.0, 4.0])
    x.backward(g)
    (x + 0).backward(g)          # add's backward hands gy itself to x
    g[...] = 100.0               # the caller's array is not x.grad
    np.testing.assert_allclose(x.grad, [6.0, 8.0])


# ---- switching recording off -------------------------------------------------------------
def test_no_grad_context_records_nothing():
    x = leaf([1.0, 2.0])
    with tv.no_grad():
        assert not tv.is_grad_enabled()
        y = x * 2 + 1
        z = F.relu(x).sum()
    assert tv.is_grad_enabled()
    for t in (y, z):
        assert not t.requires_grad and t.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        z.backward()
    assert x.grad is None


def test_no_grad_decorator_and_restores_after_an_exception():
    @tv.no_grad()
    def step(x):
        assert not tv.is_grad_enabled()
        return x * 2

    x = leaf([1.0])
    assert not step(x).requires_grad
    assert tv.is_grad_enabled()
    with pytest.raises(ZeroDivisionError):
        with tv.no_grad():
            1 / 0
    assert tv.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = leaf([1.0, 2.0])
    with tv.no_grad():
        with tv.enable_grad():
            assert tv.is_grad_enabled()
            y = x * x
        assert not tv.is_grad_enabled()
        z = x * x
    assert y.requires_grad and not z.requires_grad
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)

    @tv.enable_grad()
    def grad_inside(x):
        return x * 3

    with tv.no_grad():
        assert grad_inside(x).requires_grad


def test_set_grad_enabled_as_context_and_as_call():
    x = leaf([1.0])
    with tv.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with tv.set_grad_enabled(True):
            assert (x * 2).requires_grad
    assert tv.is_grad_enabled()
    try:
        tv.set_grad_enabled(False)        # a plain call switches at once, as in PyTorch
        assert not tv.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        tv.set_grad_enabled(True)
    assert (x * 2).requires_grad


def test_detach_shares_data_and_stops_gradient():
    x = leaf([1.0, 2.0, 3.0])
    d = x.detach()
    assert d.data is x.data and not d.requires_grad and d.grad_fn is None
    (x * d).sum().backward()       # d is a constant: d(x·c)/dx = c
    np.testing.assert_allclose(x.grad, x.data)
    h = (x * 2).detach()
    assert h.is_leaf and not h.requires_grad


# ---- requires_grad propagation --------------------------------------------------------------
def test_requires_grad_propagates_only_from_inputs_that_need_it():
    a = tv.tensor(np.ones(3))                     # requires_grad False
    b = leaf(np.ones(3))
    assert (a * 2 + 1).grad_fn is None and not (a * 2 + 1).requires_grad
    y = a * b
    assert y.requires_grad and y.grad_fn is not None and not y.is_leaf
    y.sum().backward()
    assert a.grad is None
    np.testing.assert_allclose(b.grad, a.data)


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating-point"):
        tv.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating-point"):
        tv.tensor([1, 2, 3]).requires_grad_()
    x = leaf([[1.0, 5.0], [7.0, 2.0]])
    values, indices = x.max(dim=1)                # integer outputs never require grad
    assert values.requires_grad and not indices.requires_grad and indices.grad_fn is None
    assert not (x > 1).requires_grad
    idx = tv.tensor([1, 0, 1])
    y = x[idx]                                    # an int tensor as index: fine
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [[1, 1], [2, 2]])


def test_backward_on_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tv.tensor(np.ones(3)).sum().backward()


# ---- the graph is freed after backward ----------------------------------------------------
def _saved_arrays(root):
    """Weak references to every array saved by every node of the graph under ``root``."""
    refs, seen, stack = [], set(), [root.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        refs += [weakref.ref(a) for a in getattr(node, "saved_tensors", ())
                 if isinstance(a, np.ndarray)]
        stack += [t.grad_fn for t in getattr(node, "inputs", ()) if t is not None]
    return refs


def _build(x):
    h = tv.exp(x * 2)             # interior arrays: x·2, e^{2x}
    return (F.sigmoid(h) * h).sum(), weakref.ref(h)


def test_second_backward_raises_and_saved_arrays_are_released():
    x = leaf(np.linspace(-1, 1, 50))
    loss, h_ref = _build(x)
    saved = _saved_arrays(loss)
    assert len(saved) >= 3
    assert all(r() is not None for r in saved)
    loss.backward()
    gc.collect()
    # Only the leaf's own data may survive; every interior array and Tensor is gone.
    alive = [r() for r in saved if r() is not None and r() is not x.data]
    assert alive == [], [a.shape for a in alive]
    assert h_ref() is None
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()


def test_retain_graph_keeps_the_graph_for_a_second_backward():
    x = leaf(np.linspace(-1, 1, 5))
    loss, h_ref = _build(x)
    saved = _saved_arrays(loss)
    loss.backward(retain_graph=True)
    gc.collect()
    assert h_ref() is not None and all(r() is not None for r in saved)
    first = x.grad.copy()
    loss.backward()               # allowed once more; this one frees the graph
    np.testing.assert_allclose(x.grad, 2 * first)
    with pytest.raises(RuntimeError, match="already freed"):
        loss.backward()


def test_backward_through_a_freed_subgraph_raises():
    x = leaf([1.0, 2.0])
    h = tv.exp(x)
    h.sum().backward()            # frees exp's node
    with pytest.raises(RuntimeError, match="already freed"):
        (h * 2).sum().backward()


def test_graph_without_backward_is_freed_when_dropped():
    x = leaf(np.ones(100))
    loss, h_ref = _build(x)
    saved = _saved_arrays(loss)
    del loss
    gc.collect()
    assert h_ref() is None and all(r() is None or r() is x.data for r in saved)


# ---- retain_grad --------------------------------------------------------------------------
def test_retain_grad_on_an_interior_tensor():
    x = leaf([1.0, -2.0, 3.0])
    h = x * 2
    h.retain_grad()
    other = x + 1                 # an interior tensor that did not ask
    y = (h * h).sum() + (h * 3).sum() + other.sum()   # h used on two paths: grads sum
    y.backward()
    np.testing.assert_allclose(h.grad, 2 * h.data + 3)
    assert other.grad is None
    np.testing.assert_allclose(x.grad, 2 * (2 * h.data + 3) + 1)


def test_retain_grad_on_the_root_and_backward_inside_no_grad():
    x = leaf([1.0, 2.0])
    y = x * 3
    y.retain_grad()
    with tv.no_grad():            # backward itself may run with recording off, as in PyTorch
        y.backward(np.array([1.0, -1.0]))
    np.testing.assert_allclose(y.grad, [1.0, -1.0])
    np.testing.assert_allclose(x.grad, [3.0, -3.0])


def test_retain_grad_on_one_output_of_a_multi_output_op():
    x = leaf(np.arange(6.0))
    a, b = x.split(3)
    b.retain_grad()
    (a.sum() + (b * b).sum()).backward()
    np.testing.assert_allclose(b.grad, 2 * b.data)
    assert a.grad is None


# ---- multi-output Functions ----------------------------------------------------------------
def test_split_with_only_some_outputs_used():
    x = leaf(np.arange(6.0).reshape(3, 2))
    a, b, c = x.split(1, dim=0)
    (a * 2).sum().backward()      # b and c unused: their gradients are zeros
    np.testing.assert_allclose(x.grad, [[2, 2], [0, 0], [0, 0]])
    x.grad = None
    a, b, c = x.split(1, dim=0)
    (c * b).sum().backward()
    np.testing.assert_allclose(x.grad, [[0, 0], [4, 5], [2, 3]])   # d(c·b)/db = c, /dc = b


def test_backward_from_one_output_of_a_multi_output_op():
    x = leaf(np.arange(4.0))
    a, b = x.split(2)
    b.backward(np.array([1.0, 2.0]))
    np.testing.assert_allclose(x.grad, [0, 0, 1, 2])


class TwoOutputsFn(Function):
    """(2x, x²): backward checks that an unused output's gradient arrives as zeros."""

    received = []

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 2 * x, x * x

    @staticmethod
    def backward(ctx, g_double, g_square):
        TwoOutputsFn.received.append((g_double, g_square))
        (x,) = ctx.saved_tensors
        return 2 * g_double + 2 * x * g_square


def test_unused_outputs_get_materialised_zero_gradients():
    x = leaf([1.0, 2.0])
    TwoOutputsFn.received = []
    double, square = TwoOutputsFn.apply(x)
    square.sum().backward()
    (g_double, g_square), = TwoOutputsFn.received
    assert isinstance(g_double, np.ndarray) and g_double.shape == (2,) and not g_double.any()
    np.testing.assert_allclose(g_square, [1.0, 1.0])
    np.testing.assert_allclose(x.grad, 2 * x.data)


# ---- a user-written Function ---------------------------------------------------------------
class ScaledMulFn(Function):
    """y = scale · x · w, with the scale a keyword (not an input)."""

    needs = []

    @staticmethod
    def forward(ctx, x, w, scale=1.0):
        ctx.save_for_backward(x, w)
        ctx.scale = scale
        return scale * x * w

    @staticmethod
    def backward(ctx, gy):
        ScaledMulFn.needs.append(ctx.needs_input_grad)
        x, w = ctx.saved_tensors
        gx = ctx.scale * w * gy if ctx.needs_input_grad[0] else None
        gw = ctx.scale * x * gy if ctx.needs_input_grad[1] else None
        return gx, gw


def test_custom_function_save_for_backward_and_needs_input_grad():
    x, w = leaf([1.0, 2.0]), tv.tensor(np.array([3.0, -1.0]))
    ScaledMulFn.needs = []
    y = ScaledMulFn.apply(x, w, scale=2.0)
    np.testing.assert_allclose(y.data, [6.0, -4.0])
    assert y.grad_fn.saved_tensors[0] is x.data  # saved as given: no copy
    y.sum().backward()
    assert ScaledMulFn.needs == [(True, False)]
    np.testing.assert_allclose(x.grad, [6.0, -2.0])
    assert w.grad is None
    assert tv.gradcheck(lambda a, b: ScaledMulFn.apply(a, b, scale=-0.5),
                        [np.array([1.0, 2.0]), np.array([0.5, 1.5])])


def test_custom_function_under_no_grad_and_with_plain_arrays():
    x = leaf([1.0])
    with tv.no_grad():
        y = ScaledMulFn.apply(x, x)
    assert y.grad_fn is None and not y.requires_grad
    z = ScaledMulFn.apply(np.array([2.0]), np.array([3.0]))   # ndarrays in, a Tensor out
    assert isinstance(z, tv.Tensor) and not z.requires_grad and z.item() == 6.0


class SortFn(Function):
    """Sorted values and the permutation that sorts, as float: the permutation is marked
    non-differentiable, so it never requires grad even though it is a float array."""

    @staticmethod
    def forward(ctx, x):
        order = np.argsort(x, kind="stable")
        ctx.save_for_backward(order)
        perm = order.astype(x.dtype)
        ctx.mark_non_differentiable(perm)
        return x[order], perm

    @staticmethod
    def backward(ctx, g_values, g_perm):
        (order,) = ctx.saved_tensors
        gx = np.empty_like(g_values)
        gx[order] = g_values
        return gx


def test_custom_function_mark_non_differentiable():
    x = leaf([3.0, 1.0, 2.0])
    values, perm = SortFn.apply(x)
    assert values.requires_grad and not perm.requires_grad and perm.grad_fn is None
    np.testing.assert_allclose(perm.data, [1, 2, 0])
    (values * tv.tensor(np.array([1.0, 10.0, 100.0]))).sum().backward()
    np.testing.assert_allclose(x.grad, [100.0, 1.0, 10.0])


class WrongCountFn(Function):
    @staticmethod
    def forward(ctx, x, y):
        return x + y

    @staticmethod
    def backward(ctx, gy):
        return gy  # one gradient for two inputs


def test_backward_returning_the_wrong_number_of_gradients_raises():
    y = WrongCountFn.apply(leaf([1.0]), leaf([2.0]))
    with pytest.raises(RuntimeError, match="returned 1 gradients for 2 inputs"):
        y.sum().backward()


# ---- backward(gradient) ------------------------------------------------------------------
def test_backward_with_an_explicit_gradient():
    x = leaf(np.arange(6.0).reshape(2, 3))
    y = x * x
    g = np.arange(6.0).reshape(2, 3) - 2
    y.backward(g, retain_graph=True)
    np.testing.assert_allclose(x.grad, 2 * x.data * g)
    x.grad = None
    y.backward(tv.tensor(g))       # a Tensor works too
    np.testing.assert_allclose(x.grad, 2 * x.data * g)


def test_backward_without_gradient_needs_one_element():
    x = leaf(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=r"gradient can be omitted only .* shape \(2, 3\)"):
        (x * 2).backward()
    (x[:1, :1] * 2).backward()     # shape (1, 1): one element, allowed
    np.testing.assert_allclose(x.grad, [[2, 0, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match="shape"):
        (x * 2).backward(np.ones(3))


# ---- dtype rules (DESIGN.md) ---------------------------------------------------------------
@pytest.mark.parametrize("data, dtype", [
    (np.zeros(2, np.float64), np.float64),
    (np.zeros(2, np.float16), np.float16),
    (np.zeros(2, np.int32), np.int32),
    (np.zeros(2, np.uint8), np.uint8),
    (np.float64(1.5), np.float64),   # a NumPy scalar keeps its dtype, as an ndarray
    (1.5, np.float32),
    ([1.0, 2], np.float32),
    (3, np.int64),
    ([[1, 2]], np.int64),
    (True, np.bool_),
])
def test_tensor_dtype_from_data(data, dtype):
    assert tv.tensor(data).dtype == dtype
    assert tv.Tensor(data).dtype == dtype


@pytest.mark.parametrize("dtype", [np.float64, "float64", np.dtype("float64")])
def test_dtype_argument_takes_numpy_types_and_names(dtype):
    assert tv.tensor([1, 2], dtype=dtype).dtype == np.float64
    assert tv.Tensor(np.arange(3), dtype=dtype).dtype == np.float64  # a cast, no copy refused
    with pytest.raises(TypeError, match="dtype"):
        tv.tensor([1.0], dtype="not-a-dtype")


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("op", [
    lambda t: t + 1, lambda t: 1 - t, lambda t: t * 2.5, lambda t: 2.5 / t, lambda t: t ** 2,
    lambda t: 2.0 ** t, lambda t: t + np.float64(1), lambda t: t * np.int64(3),
    lambda t: tv.maximum(t, 0.5), lambda t: tv.minimum(t, 0.5), lambda t: t.clamp(0.5, 2),
    lambda t: tv.where(t > 1, t, 0.0), lambda t: t.sum(), lambda t: t.mean(),
], ids=["t+1", "1-t", "t*2.5", "2.5/t", "t**2", "2.0**t", "t+np.float64", "t*np.int64",
        "maximum", "minimum", "clamp", "where", "sum", "mean"])
def test_python_scalar_operands_take_the_tensor_dtype(op, dtype):
    t = tv.tensor(np.array([1.0, 2.0], dtype), requires_grad=True)
    y = op(t)
    assert y.dtype == dtype
    y.sum().backward()
    assert t.grad.dtype == dtype


@pytest.mark.parametrize("op, keeps", [(lambda t: t + 1, True), (lambda t: 2 * t, True),
                                       (lambda t: -t, True), (lambda t: t.sum(), False)],
                         ids=["t+1", "2*t", "-t", "sum"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_tensors_keep_their_dtype_with_int_scalars(op, keeps, dtype):
    """As PyTorch: an int scalar takes the tensor's int dtype; an integer sum is int64."""
    y = op(tv.tensor(np.array([1, 2], dtype)))
    assert y.dtype == (dtype if keeps else np.int64) and not y.requires_grad


def test_float64_stays_float64_through_a_network_step():
    rng = np.random.default_rng(0)
    x = tv.tensor(rng.standard_normal((4, 3)))
    w = leaf(rng.standard_normal((2, 3)))
    b = leaf(np.zeros(2))
    logits = F.linear(F.relu(x), w, b)
    loss = F.cross_entropy(logits, tv.tensor([0, 1, 1, 0]))
    assert logits.dtype == loss.dtype == np.float64 and loss.shape == ()
    loss.backward()
    assert w.grad.dtype == b.grad.dtype == np.float64


def test_casts_are_differentiable_and_give_the_gradient_the_input_dtype():
    x = leaf([1.0, 2.0])                      # float64
    y = x.float()
    assert y.dtype == np.float32 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad, 2 * x.data)
    z = tv.tensor(np.ones(2, np.float32), requires_grad=True)
    w = z.double()
    assert w.dtype == np.float64
    (w * 3).sum().backward()
    assert z.grad.dtype == np.float32 and np.allclose(z.grad, 3)


# ---- deep graphs -------------------------------------------------------------------------
def test_deep_graph_does_not_hit_the_recursion_limit():
    depth = 5000                  # several times Python's default recursion limit (1000)
    assert depth > sys.getrecursionlimit()
    x = leaf([0.5])
    y = x
    for i in range(depth):
        y = y * 1.0001 if i % 2 else y + 0.001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0001 ** (depth // 2)])
    # Dropping a deep graph that never ran backward must not overflow the stack either.
    z = x
    for _ in range(depth):
        z = z + 1
    del z
    gc.collect()


# ---- in-place operations ------------------------------------------------------------------
INPLACE = [
    ("setitem", lambda t: t.__setitem__(0, 5.0)),
    ("copy_", lambda t: t.copy_(np.zeros(3))),
    ("fill_", lambda t: t.fill_(1.0)),
    ("zero_", lambda t: t.zero_()),
    ("add_", lambda t: t.add_(1.0)),
    ("mul_", lambda t: t.mul_(2.0)),
    ("uniform_", lambda t: t.uniform_()),
    ("normal_", lambda t: t.normal_()),
]


@pytest.mark.parametrize("name, op", INPLACE, ids=[i[0] for i in INPLACE])
def test_inplace_on_a_tensor_that_requires_grad_raises(name, op):
    x = leaf([1.0, 2.0, 3.0])
    before = x.data.copy()
    with pytest.raises(RuntimeError, match="in-place"):
        op(x)
    with pytest.raises(RuntimeError, match="in-place"):
        op(x * 2)                      # an interior tensor: its graph would be corrupted
    np.testing.assert_array_equal(x.data, before)
    with tv.no_grad():                 # as an optimizer step does
        op(x)
    plain = tv.tensor(np.ones(3))
    op(plain)                          # no grad involved: allowed
