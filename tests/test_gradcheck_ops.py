"""Property-based gradient checks: every differentiable op against central differences.

Hypothesis draws shapes, dims, sizes and values; ``tv.gradcheck`` compares each op's backward
with (f(x + ε) − f(x − ε)) / 2ε in float64. Values are drawn away from the points where an op
has a kink (|x| at 0, clamp at its bounds, max at a tie, a hinge at 0), since no derivative
exists there to check: ``GRID`` puts values on a 0.2-spaced grid, and ``GRID_ODD`` on the
grid shifted by 0.1, so two draws are never closer than 0.1 to each other or to a grid point;
``distinct`` draws arrays whose values are pairwise at least 0.06 apart (no ties).

Layout: a table of unary ops, a table of broadcasting binary ops, then a table of cases that
draw their own arguments (``CASES``), each run through one parametrised test; then tests of
gradcheck itself.
"""
import operator

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st
from hypothesis.extra import numpy as hnp

import tinyvision as tv
import tinyvision.functional as F
from tinyvision.autograd import Function

# ---- value strategies (elements) ---------------------------------------------------------
SMOOTH = st.floats(-2, 2, allow_subnormal=False)
POSITIVE = st.floats(0.2, 3)
NONZERO = st.floats(0.3, 2) | st.floats(-2, -0.3)
GRID = st.integers(-10, 10).map(lambda k: k / 5)              # ..., -0.2, 0, 0.2, ...
GRID_ODD = st.integers(-10, 9).map(lambda k: k / 5 + 0.1)     # ..., -0.1, 0.1, 0.3, ...: never 0
GRID_NONZERO = st.tuples(st.integers(1, 10), st.sampled_from([-1, 1])).map(  # ±0.2, ±0.4, ...
    lambda t: t[0] * t[1] / 5)


def arrays(shape, elements=SMOOTH):
    return hnp.arrays(np.float64, shape, elements=elements)


@st.composite
def distinct(draw, shape):
    """Values no two of which are within 0.06 (no ties for max/min, no zero variance): a
    shuffled ramp of drawn step, plus a small drawn jitter."""
    n = int(np.prod(shape, dtype=int))
    order = np.array(draw(st.permutations(range(n))), dtype=np.float64)
    step = draw(st.floats(0.1, 0.5))
    jitter = draw(arrays((n,), st.floats(0, 0.04)))
    return ((order - (n - 1) / 2) * step + jitter).reshape(shape)


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=3):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def check(fn, inputs, **kwargs):
    """gradcheck ``fn``, and check on the way that every output is a float64 ndarray-backed
    Tensor (float64 in, float64 out; no NumPy scalars leaking into ``.data``)."""

    def checked(*args):
        out = fn(*args)
        for o in out if isinstance(out, tuple) else (out,):
            assert isinstance(o, tv.Tensor) and isinstance(o.data, np.ndarray), type(o)
            assert o.dtype.kind != "f" or o.dtype == np.float64, o.dtype
        return out

    assert tv.gradcheck(checked, inputs, **kwargs)


def draw_dim(draw, ndim):
    """A reduction's dim: None, one int, or a tuple of distinct ints, each maybe negative."""
    if ndim == 0:
        return draw(st.sampled_from([None, 0, -1]))
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    dims = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    dims = [d - ndim if draw(st.booleans()) else d for d in dims]
    return dims[0] if kind == "int" else tuple(dims)


def reduced_count(shape, dim):
    if dim is None or not shape:
        return int(np.prod(shape))
    dims = (dim,) if isinstance(dim, int) else dim
    return int(np.prod([shape[d] for d in dims]))


# ---- unary ops: (name, fn, elements) -----------------------------------------------------
UNARY = [
    ("neg", operator.neg, SMOOTH),
    ("exp", tv.exp, SMOOTH),
    ("log", tv.log, POSITIVE),
    ("sqrt", tv.sqrt, POSITIVE),
    ("abs", tv.abs, GRID_ODD),
    ("abs builtin", abs, GRID_ODD),
    ("relu", F.relu, GRID_ODD),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), GRID_ODD),
    ("sigmoid", F.sigmoid, st.floats(-6, 6)),
    ("tanh", F.tanh, st.floats(-3, 3)),
    ("pow int", lambda x: x ** 3, SMOOTH),
    ("pow negative", lambda x: x ** -2, NONZERO),
    ("pow fractional", lambda x: F.pow(x, 1.5), POSITIVE),
    ("pow sqrt", lambda x: x ** 0.5, POSITIVE),
    ("rpow", lambda x: 2.0 ** x, SMOOTH),
    ("scalar + x", lambda x: 2.5 + x, SMOOTH),
    ("x - scalar", lambda x: x - 1.5, SMOOTH),
    ("scalar - x", lambda x: 1.5 - x, SMOOTH),
    ("scalar * x", lambda x: 3 * x, SMOOTH),
    ("x / scalar", lambda x: x / 4, SMOOTH),
    ("scalar / x", lambda x: 2 / x, NONZERO),
    ("ndarray - x", lambda x: np.full(x.shape, 0.5, x.dtype) - x, SMOOTH),
    ("ndarray * x", lambda x: np.full(x.shape, -1.5, x.dtype) * x, SMOOTH),
    ("clone", lambda x: x.clone(), SMOOTH),
    ("maximum with scalar", lambda x: tv.maximum(x, 0.0), GRID_ODD),
    ("minimum with scalar", lambda x: tv.minimum(x, 0.0), GRID_ODD),
]


@pytest.mark.parametrize("name, fn, elements", UNARY, ids=[u[0] for u in UNARY])
@given(data=st.data())
def test_unary(name, fn, elements, data):
    x = data.draw(arrays(data.draw(shapes()), elements), label="x")
    check(fn, [x])


# ---- broadcasting binary ops: (name, fn, elements of a, elements of b) --------------------
BINARY = [
    ("add", operator.add, SMOOTH, SMOOTH),
    ("sub", operator.sub, SMOOTH, SMOOTH),
    ("mul", operator.mul, SMOOTH, SMOOTH),
    ("div", operator.truediv, SMOOTH, NONZERO),
    ("pow", operator.pow, POSITIVE, SMOOTH),
    ("add alpha", lambda a, b: F.add(a, b, alpha=-2.0), SMOOTH, SMOOTH),
    ("sub alpha", lambda a, b: F.sub(a, b, alpha=0.5), SMOOTH, SMOOTH),
    ("maximum", tv.maximum, GRID, GRID_ODD),
    ("minimum", tv.minimum, GRID, GRID_ODD),
]


@pytest.mark.parametrize("name, fn, elements_a, elements_b", BINARY, ids=[b[0] for b in BINARY])
@given(data=st.data())
def test_binary_broadcasting(name, fn, elements_a, elements_b, data):
    sa, sb = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3,
                                                         max_side=3)).input_shapes
    a = data.draw(arrays(sa, elements_a), label="a")
    b = data.draw(arrays(sb, elements_b), label="b")
    # Both, or only one, require grad: the other side's backward must then be skipped.
    grads = data.draw(st.sampled_from([(True, True), (True, False), (False, True)]), label="grads")
    inputs = [x if g else tv.tensor(x) for x, g in zip((a, b), grads)]
    check(fn, inputs)


# ---- ops that draw their own arguments ---------------------------------------------------
CASES = {}


def case(name):
    def register(draw_case):
        CASES[name] = draw_case
        return draw_case
    return register


@case("pow tensor ** scalar")
def _(draw):
    p = draw(st.sampled_from([2, 3, -1, 0.5, 1.5, -2.5, 0]), label="exponent")
    elements = POSITIVE if not float(p).is_integer() else (NONZERO if p < 0 else SMOOTH)
    return (lambda x: x ** p), [draw(arrays(draw(shapes()), elements), label="x")]


@case("clamp")
def _(draw):
    # Bounds sit between grid points, so no value is within 0.1 of a bound.
    lo = draw(st.sampled_from([None, -1.1, -0.3, 0.1]), label="min")
    hi = draw(st.sampled_from([None, -0.1, 0.5, 1.3]), label="max")
    assume(lo is not None or hi is not None)
    assume(lo is None or hi is None or lo < hi)
    x = draw(arrays(draw(shapes()), GRID), label="x")
    form = draw(st.sampled_from(["scalar", "Tensor", "ndarray"]), label="bounds as")
    if form != "scalar":  # constant bounds given as a 0-d Tensor or as an array of x's shape
        as_bound = (lambda b: tv.tensor(np.float64(b))) if form == "Tensor" else (
            lambda b: np.full(x.shape, b))
        lo, hi = (None if b is None else as_bound(b) for b in (lo, hi))
    return (lambda x: x.clamp(lo, hi)), [x]


@case("where")
def _(draw):
    sc, sa, sb = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3,
                                                        max_side=3)).input_shapes
    cond = draw(hnp.arrays(np.bool_, sc), label="condition")
    a, b = draw(arrays(sa), label="a"), draw(arrays(sb), label="b")
    as_tensor = draw(st.booleans(), label="condition as Tensor")
    c = tv.tensor(cond) if as_tensor else cond
    return (lambda a, b: tv.where(c, a, b)), [a, b]


@case("matmul")
def _(draw):
    n, k, m = draw(st.tuples(*[st.integers(1, 3)] * 3), label="n, k, m")
    ba, bb = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2,
                                                    max_side=3)).input_shapes
    a_vec, b_vec = draw(st.booleans(), label="a is 1-D"), draw(st.booleans(), label="b is 1-D")
    sa = (k,) if a_vec else ba + (n, k)
    sb = (k,) if b_vec else bb + (k, m)
    op = draw(st.sampled_from(["@", "matmul"]), label="op")
    fn = operator.matmul if op == "@" else tv.matmul
    return fn, [draw(arrays(sa), label="a"), draw(arrays(sb), label="b")]


@case("linear")
def _(draw):
    lead = draw(shapes(0, 2), label="leading dims")
    i, o = draw(st.integers(1, 3), label="in"), draw(st.integers(1, 3), label="out")
    inputs = [draw(arrays(lead + (i,)), label="x"), draw(arrays((o, i)), label="weight")]
    if draw(st.booleans(), label="bias"):
        inputs.append(draw(arrays((o,)), label="bias"))
    return F.linear, inputs


# Reductions: dim None / int / tuple / negative, keepdim drawn. Values ``distinct``, so max/min
# have no ties and var/std no zero variance.
@case("sum / mean")
def _(draw):
    x = draw(arrays(draw(shapes()), SMOOTH), label="x")
    dim, keepdim = draw_dim(draw, x.ndim), draw(st.booleans(), label="keepdim")
    op = draw(st.sampled_from(["sum", "mean"]), label="op")
    return (lambda x: getattr(x, op)(dim=dim, keepdim=keepdim)), [x]


@case("amax / amin")
def _(draw):
    x = draw(distinct(draw(shapes())), label="x")
    dim, keepdim = draw_dim(draw, x.ndim), draw(st.booleans(), label="keepdim")
    op = draw(st.sampled_from(["amax", "amin"]), label="op")
    return (lambda x: getattr(x, op)(dim=dim, keepdim=keepdim)), [x]


@case("max / min")
def _(draw):
    x = draw(distinct(draw(shapes())), label="x")
    op = draw(st.sampled_from(["max", "min"]), label="op")
    if draw(st.booleans(), label="with dim"):
        dim = draw(st.integers(-max(x.ndim, 1), max(x.ndim, 1) - 1), label="dim")
        keepdim = draw(st.booleans(), label="keepdim")
        return (lambda x: getattr(x, op)(dim=dim, keepdim=keepdim)), [x]  # (values, indices)
    return (lambda x: getattr(x, op)()), [x]


@case("var / std")
def _(draw):
    x = draw(distinct(draw(shapes())), label="x")
    dim, keepdim = draw_dim(draw, x.ndim), draw(st.booleans(), label="keepdim")
    op = draw(st.sampled_from(["var", "std"]), label="op")
    unbiased = draw(st.booleans(), label="unbiased")
    n = reduced_count(x.shape, dim)
    assume(n >= 2 if (op == "std" or unbiased) else n >= 1)
    return (lambda x: getattr(x, op)(dim=dim, unbiased=unbiased, keepdim=keepdim)), [x]


# Shape ops.
@case("reshape / view")
def _(draw):
    x = draw(arrays(draw(shapes())), label="x")
    target = list(draw(st.permutations(x.shape), label="permuted sizes"))
    for _ in range(draw(st.integers(0, 2), label="added 1s")):
        target.insert(draw(st.integers(0, len(target))), 1)
    if target and draw(st.booleans(), label="one -1"):
        target[draw(st.integers(0, len(target) - 1))] = -1
    op = draw(st.sampled_from(["reshape", "view"]), label="op")
    return (lambda x: getattr(x, op)(tuple(target))), [x]


@case("flatten")
def _(draw):
    x = draw(arrays(draw(shapes(1, 4))), label="x")
    s = draw(st.integers(-x.ndim, x.ndim - 1), label="start_dim")
    e = draw(st.integers(s % x.ndim, x.ndim - 1), label="end_dim")
    e = e - x.ndim if draw(st.booleans(), label="negative end") else e
    return (lambda x: x.flatten(s, e)), [x]


@case("transpose / permute / .T")
def _(draw):
    x = draw(arrays(draw(shapes(1, 4))), label="x")
    op = draw(st.sampled_from(["transpose", "permute", "T"]), label="op")
    if op == "transpose":
        d0, d1 = draw(st.tuples(*[st.integers(-x.ndim, x.ndim - 1)] * 2), label="dims")
        return (lambda x: x.transpose(d0, d1)), [x]
    if op == "permute":
        dims = draw(st.permutations(range(x.ndim)), label="dims")
        return (lambda x: x.permute(*dims)), [x]
    return (lambda x: x.T), [x]


@case("squeeze / unsqueeze")
def _(draw):
    x = draw(arrays(draw(shapes(0, 4, max_side=2))), label="x")  # sizes 1 and 2: some squeeze
    if draw(st.booleans(), label="squeeze"):
        dim = None if x.ndim == 0 or draw(st.booleans()) else draw(
            st.integers(-x.ndim, x.ndim - 1), label="dim")
        return (lambda x: x.squeeze(dim)), [x]
    dim = draw(st.integers(-x.ndim - 1, x.ndim), label="dim")
    return (lambda x: x.unsqueeze(dim)), [x]


@case("expand")
def _(draw):
    x = draw(arrays(draw(shapes(0, 3, max_side=2))), label="x")
    lead = draw(shapes(0, 2), label="new leading sizes")
    sizes = [draw(st.integers(1, 3)) if n == 1 else draw(st.sampled_from([n, -1])) for n in x.shape]
    return (lambda x: x.expand(*lead, *sizes)), [x]


# Indexing.
def draw_slice_item(draw, n):
    kind = draw(st.sampled_from(["int", "slice", "full"]))
    if kind == "int":
        return draw(st.integers(-n, n - 1))
    if kind == "full":
        return slice(None)
    bound = st.none() | st.integers(-n - 1, n + 1)
    return slice(draw(bound), draw(bound), draw(st.sampled_from([None, 1, 2, -1, -2])))


def draw_repeated_indices(draw, n):
    """Integer indices in [-n, n) in which one index occurs at least twice."""
    idx = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=4))
    return np.array(draw(st.permutations(idx + [idx[0]])))


@case("getitem basic")
def _(draw):
    x = draw(arrays(draw(shapes(1, 3))), label="x")
    k = draw(st.integers(1, x.ndim))
    items = [draw_slice_item(draw, n) for n in x.shape[:k]]
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), None)  # a new axis
    if draw(st.booleans()):  # index the last dims instead, through an Ellipsis
        items = [Ellipsis] + [draw_slice_item(draw, n) for n in x.shape[x.ndim - k:]]
    index = tuple(items) if len(items) > 1 or draw(st.booleans()) else items[0]
    draw(st.just(index), label="index")
    return (lambda x: x[index]), [x]


@case("getitem integer arrays (repeated)")
def _(draw):
    x = draw(arrays(draw(shapes(1, 3))), label="x")
    form = draw(st.sampled_from(["array", "list", "tensor", "2-D array", "dim 1", "two arrays"]),
                label="form")
    if form == "dim 1":
        assume(x.ndim >= 2)
        index = (slice(None), draw_repeated_indices(draw, x.shape[1]))
    elif form == "two arrays":
        assume(x.ndim >= 2)
        i0 = draw_repeated_indices(draw, x.shape[0])
        index = (i0, np.resize(draw_repeated_indices(draw, x.shape[1]), i0.shape))
    elif form == "2-D array":
        index = draw_repeated_indices(draw, x.shape[0]).repeat(2).reshape(-1, 2)
    else:
        index = draw_repeated_indices(draw, x.shape[0])
        index = {"array": index, "list": index.tolist(), "tensor": tv.tensor(index)}[form]
    draw(st.just(index), label="index")
    return (lambda x: x[index]), [x]


@case("getitem boolean mask / mixed")
def _(draw):
    x = draw(arrays(draw(shapes(1, 3))), label="x")
    form = draw(st.sampled_from(["full mask", "mask tensor", "dim-0 mask", "mask + slice",
                                 "slice + int array", "int array + reversed slice"]), label="form")
    if form in ("full mask", "mask tensor"):
        mask = draw(hnp.arrays(np.bool_, x.shape), label="mask")
        index = tv.tensor(mask) if form == "mask tensor" else mask
    elif form in ("dim-0 mask", "mask + slice"):
        assume(x.ndim >= 2 or form == "dim-0 mask")
        mask = draw(hnp.arrays(np.bool_, x.shape[:1]), label="mask")
        index = mask if form == "dim-0 mask" else (mask, slice(1, None))
    elif form == "slice + int array":
        assume(x.ndim >= 2)
        index = (slice(None, None, 2), draw_repeated_indices(draw, x.shape[1]))
    else:
        assume(x.ndim >= 2)
        index = (draw_repeated_indices(draw, x.shape[0]), Ellipsis, slice(None, None, -1))
    return (lambda x: x[index]), [x]


# Joining and splitting.
@case("cat")
def _(draw):
    base = draw(shapes(1, 3), label="base shape")
    dim = draw(st.integers(-len(base), len(base) - 1), label="dim")
    sizes = draw(st.permutations([draw(st.integers(1, 3))] + draw(st.lists(st.integers(0, 3),
                                                                          max_size=2))),
                 label="sizes along dim")  # empty pieces too, but not only empty ones
    d = dim % len(base)
    xs = [draw(arrays(base[:d] + (s,) + base[d + 1:])) for s in sizes]
    return (lambda *xs: tv.cat(xs, dim)), xs


@case("stack")
def _(draw):
    shape = draw(shapes(0, 3), label="shape")
    dim = draw(st.integers(-len(shape) - 1, len(shape)), label="dim")
    xs = [draw(arrays(shape)) for _ in range(draw(st.integers(1, 3), label="count"))]
    return (lambda *xs: tv.stack(xs, dim)), xs


@case("split / chunk")
def _(draw):
    x = draw(arrays(draw(shapes(1, 3, max_side=4))), label="x")
    dim = draw(st.integers(-x.ndim, x.ndim - 1), label="dim")
    n = x.shape[dim]
    how = draw(st.sampled_from(["size", "sections", "chunk"]), label="how")
    if how == "size":
        arg = draw(st.integers(1, n + 1), label="split_size")
    elif how == "sections":
        cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3), label="cuts"))
        arg = list(np.diff([0] + cuts + [n]))
    else:
        arg = draw(st.integers(1, 4), label="chunks")
    # Return only some pieces: the unused ones get zero gradients (materialised).
    keep = draw(st.sets(st.integers(0, 4), min_size=1), label="pieces returned")

    def fn(x):
        pieces = x.chunk(arg, dim) if how == "chunk" else x.split(arg, dim)
        used = tuple(p for i, p in enumerate(pieces) if i in keep)
        return used or pieces

    return fn, [x]


@case("pad")
def _(draw):
    x = draw(arrays(draw(shapes(1, 4))), label="x")
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]), label="mode")
    k = draw(st.integers(1, min(x.ndim, 3)), label="padded dims")
    pad = []
    for n in reversed(x.shape[x.ndim - k:]):  # last dim first, as torch.nn.functional.pad
        most = {"reflect": n - 1, "circular": n}.get(mode, 3)
        pad += draw(st.tuples(st.integers(0, most), st.integers(0, most)))
    draw(st.just(pad), label="pad")
    value = draw(st.floats(-1, 1), label="value")
    return (lambda x: F.pad(x, pad, mode=mode, value=value)), [x]


# Activations and regularisation.
@case("softmax / log_softmax")
def _(draw):
    x = draw(arrays(draw(shapes(1, 3)), st.floats(-4, 4)), label="x")
    dim = draw(st.integers(-x.ndim, x.ndim - 1), label="dim")
    fn = draw(st.sampled_from([F.softmax, F.log_softmax]), label="fn")
    return (lambda x: fn(x, dim)), [x]


@case("leaky_relu slope")
def _(draw):
    slope = draw(st.floats(-1, 2), label="negative_slope")
    return (lambda x: F.leaky_relu(x, slope)), [draw(arrays(draw(shapes()), GRID_ODD), label="x")]


@case("dropout")
def _(draw):
    p = draw(st.sampled_from([0.0, 0.2, 0.5, 0.9]), label="p")
    training = draw(st.booleans(), label="training")
    seed = draw(st.integers(0, 2 ** 16), label="seed")

    def fn(x):
        tv.manual_seed(seed)  # every call draws the same mask
        return F.dropout(x, p, training)

    return fn, [draw(arrays(draw(shapes(1, 3))), label="x")]


@case("batch_norm")
def _(draw):
    shape = draw(st.tuples(st.integers(1, 3), st.integers(1, 3)), label="N, C")
    shape += draw(shapes(0, 2, max_side=2), label="spatial")
    C = shape[1]
    training = draw(st.booleans(), label="training")
    m = int(np.prod(shape)) // C
    assume(m > 1 or not training)
    x = draw(distinct(shape), label="x")
    axes = (0,) + tuple(range(2, x.ndim))
    assume(not training or np.all(x.var(axis=axes) > 0.01))  # 1/√(σ² + ε) stays moderate
    running_mean = draw(arrays((C,)), label="running_mean")
    running_var = draw(arrays((C,), POSITIVE), label="running_var")
    inputs = [x]
    has_weight, has_bias = draw(st.booleans(), label="weight"), draw(st.booleans(), label="bias")
    if has_weight:
        inputs.append(draw(arrays((C,)), label="weight"))
    if has_bias:
        inputs.append(draw(arrays((C,)), label="bias"))

    def fn(x, *wb):
        w = wb[0] if has_weight else None
        b = wb[-1] if has_bias else None
        # Fresh running statistics each call: the in-place update must not change f.
        return F.batch_norm(x, running_mean.copy(), running_var.copy(), w, b,
                            training=training, momentum=0.1, eps=1e-5)

    return fn, inputs


# Losses.
@case("cross_entropy class indices")
def _(draw):
    N, C = draw(st.integers(1, 3), label="N"), draw(st.integers(1, 4), label="C")
    spatial = draw(st.sampled_from([(), (1, 2), (2, 2)]), label="spatial")
    z = draw(arrays((N, C) + spatial, st.floats(-3, 3)), label="logits")
    ignore_index = draw(st.sampled_from([-100, -1, C]), label="ignore_index")
    target = draw(hnp.arrays(np.int64, (N,) + spatial, elements=st.integers(0, C - 1)))
    ignored = draw(hnp.arrays(np.bool_, target.shape), label="ignored")
    ignored.flat[0] = False  # one item counts, so the mean is defined
    target = np.where(ignored, ignore_index, target)
    draw(st.just(target), label="target")
    weight = draw(st.none() | arrays((C,), POSITIVE), label="weight")
    reduction = draw(st.sampled_from(["none", "sum", "mean"]), label="reduction")
    smoothing = draw(st.sampled_from([0.0, 0.1, 0.5]), label="label_smoothing")
    return (lambda z: F.cross_entropy(z, target, weight=weight, ignore_index=ignore_index,
                                      reduction=reduction, label_smoothing=smoothing)), [z]


@case("cross_entropy probabilities")
def _(draw):
    N, C = draw(st.integers(1, 3), label="N"), draw(st.integers(1, 4), label="C")
    spatial = draw(st.sampled_from([(), (2, 1)]), label="spatial")
    z = draw(arrays((N, C) + spatial, st.floats(-3, 3)), label="logits")
    t = draw(arrays(z.shape, st.floats(0, 1)), label="unnormalised target")
    t = t / np.maximum(t.sum(axis=1, keepdims=True), 1e-3)
    weight = draw(st.none() | arrays((C,), POSITIVE), label="weight")
    reduction = draw(st.sampled_from(["none", "sum", "mean"]), label="reduction")
    smoothing = draw(st.sampled_from([0.0, 0.2]), label="label_smoothing")
    return (lambda z: F.cross_entropy(z, tv.tensor(t), weight=weight, reduction=reduction,
                                      label_smoothing=smoothing)), [z]


@case("nll_loss")
def _(draw):
    N, C = draw(st.integers(1, 3), label="N"), draw(st.integers(1, 4), label="C")
    spatial = draw(st.sampled_from([(), (2,), (1, 2)]), label="spatial")
    logp = draw(arrays((N, C) + spatial), label="log-probabilities")
    target = draw(hnp.arrays(np.int64, (N,) + spatial,
                             elements=st.integers(0, C - 1)), label="target")
    if target.size > 1 and draw(st.booleans(), label="ignore the last item"):
        target.flat[-1] = -100
    weight = draw(st.none() | arrays((C,), POSITIVE), label="weight")
    reduction = draw(st.sampled_from(["none", "sum", "mean"]), label="reduction")
    return (lambda x: F.nll_loss(x, tv.tensor(target), weight=weight, reduction=reduction)), [logp]


@case("binary_cross_entropy_with_logits")
def _(draw):
    shape = draw(shapes(1, 3), label="shape")
    x = draw(arrays(shape, st.floats(-4, 4)), label="logits")
    t = draw(arrays(shape, st.floats(0, 1)), label="target")
    weight = draw(st.none() | arrays(shape[draw(st.integers(0, len(shape))):], POSITIVE),
                  label="weight")
    pos_weight = draw(st.none() | arrays(shape[-1:], POSITIVE), label="pos_weight")
    reduction = draw(st.sampled_from(["none", "sum", "mean"]), label="reduction")
    target_grad = draw(st.booleans(), label="gradient w.r.t. the target too")
    fn = lambda x, t: F.binary_cross_entropy_with_logits(  # noqa: E731
        x, t, weight=weight, reduction=reduction, pos_weight=pos_weight)
    return fn, [x, t if target_grad else tv.tensor(t)]


def draw_difference_pair(draw, shape, abs_d):
    """(input, target) with input − target = ±abs_d elementwise (abs_d drawn by the caller)."""
    x = draw(arrays(shape), label="input")
    d = draw(arrays(shape, abs_d), label="|input − target|")
    sign = np.where(draw(hnp.arrays(np.bool_, shape), label="signs"), 1.0, -1.0)
    return [x, np.asarray(x - sign * d)]


@case("mse_loss / l1_loss")
def _(draw):
    fn = draw(st.sampled_from([F.mse_loss, F.l1_loss]), label="loss")
    reduction = draw(st.sampled_from(["none", "sum", "mean"]), label="reduction")
    inputs = draw_difference_pair(draw, draw(shapes()), st.floats(0.1, 2))  # |d| ≥ 0.1: l1's kink
    return (lambda x, t: fn(x, t, reduction=reduction)), inputs


@case("smooth_l1_loss / huber_loss")
def _(draw):
    name = draw(st.sampled_from(["smooth_l1_loss", "huber_loss"]), label="loss")
    k = draw(st.sampled_from([0.0, 0.05, 0.5, 1.0, 2.0] if name == "smooth_l1_loss"
                             else [0.05, 0.5, 1.0, 2.0]), label="beta / delta")
    reduction = draw(st.sampled_from(["none", "sum", "mean"]), label="reduction")
    # |d| as a multiple of beta, close to beta on both sides but not on it (beta = 0: l1, away
    # from 0).
    ratio = st.floats(0.0, 0.99) | st.floats(1.01, 3.0)
    abs_d = st.floats(0.1, 2) if k == 0 else ratio.map(lambda r: r * k)
    inputs = draw_difference_pair(draw, draw(shapes()), abs_d)
    if name == "smooth_l1_loss":
        return (lambda x, t: F.smooth_l1_loss(x, t, reduction=reduction, beta=k)), inputs
    return (lambda x, t: F.huber_loss(x, t, reduction=reduction, delta=k)), inputs


def _distance(a, b, p, eps=1e-6):
    return (np.abs(a - b + eps) ** p).sum(-1) ** (1 / p)


@case("triplet_margin_loss")
def _(draw):
    shape = draw(st.sampled_from([(3,), (1, 2), (2, 3), (3, 2)]), label="shape")
    # positive = anchor + u, negative = anchor + w with u on GRID_ODD and w on GRID \ {0}:
    # no two of them are within 0.1 of each other in any element (|·|'s kink for p = 1).
    a = draw(arrays(shape), label="anchor")
    pos = a + draw(arrays(shape, GRID_ODD), label="positive − anchor")
    neg = a + draw(arrays(shape, GRID_NONZERO), label="negative − anchor")
    p = draw(st.sampled_from([1, 2]), label="p")
    swap = draw(st.booleans(), label="swap")
    margin = draw(st.sampled_from([0.0, 0.5, 1.0]), label="margin")
    reduction = draw(st.sampled_from(["none", "sum", "mean"]), label="reduction")
    # Away from the other kinks: the hinge at 0 and swap's min at a tie.
    d_ap, d_an, d_pn = _distance(a, pos, p), _distance(a, neg, p), _distance(pos, neg, p)
    assume(np.all(np.abs(d_an - d_pn) > 1e-3) or not swap)
    d_neg = np.minimum(d_an, d_pn) if swap else d_an
    assume(np.all(np.abs(d_ap - d_neg + margin) > 1e-3))
    return (lambda a, pos, neg: F.triplet_margin_loss(a, pos, neg, margin=margin, p=p, swap=swap,
                                                      reduction=reduction)), [a, pos, neg]


@pytest.mark.parametrize("name", list(CASES))
@given(data=st.data())
def test_op(name, data):
    fn, inputs = CASES[name](data.draw)
    check(fn, inputs)


# ---- float32 stays float32 through forward and backward -----------------------------------
class ProbeFn(Function):
    """Identity that records the dtype of the gradient reaching it."""

    seen = []

    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, gy):
        ProbeFn.seen.append(gy.dtype)
        return gy


FLOAT32_CASES = ([(name, fn, lambda draw, e=e: [draw(arrays(draw(shapes()), e))])
                  for name, fn, e in UNARY]
                 + [(name, fn, lambda draw, e=e, f=f: [draw(arrays((2, 3), e)),
                                                       draw(arrays((3,), f))])
                    for name, fn, e, f in BINARY]
                 + [(name, None, draw_case) for name, draw_case in CASES.items()])


@pytest.mark.parametrize("name, fn, draw_case", FLOAT32_CASES, ids=[c[0] for c in FLOAT32_CASES])
@given(data=st.data())
def test_float32_in_float32_out(name, fn, draw_case, data):
    """A float32 graph gives float32 outputs and float32 gradients all the way back (a silent
    float64 upcast in a backward doubles memory and time)."""
    drawn = draw_case(data.draw)
    if fn is None:
        fn, drawn = drawn
    leaves = []

    def to_float32(x):
        if isinstance(x, np.ndarray):  # an input gradcheck would check: a leaf, then the probe
            leaves.append(tv.tensor(x.astype(np.float32), requires_grad=True))
            return ProbeFn.apply(leaves[-1])
        return tv.tensor(x.data.astype(np.float32)) if isinstance(x, tv.Tensor) else x

    args = [to_float32(x) for x in drawn]
    ProbeFn.seen = []
    out = fn(*args)
    outs = [o for o in (out if isinstance(out, tuple) else (out,)) if o.dtype.kind == "f"]
    assert all(o.dtype == np.float32 for o in outs), [o.dtype for o in outs]
    loss = sum((o * 1.0).sum() for o in outs if o.requires_grad)
    if isinstance(loss, tv.Tensor):
        loss.backward()
    assert all(dt == np.float32 for dt in ProbeFn.seen), ProbeFn.seen
    assert all(x.grad is None or x.grad.dtype == np.float32 for x in leaves)


# ---- max/min with a dim give (values, indices) --------------------------------------------
@given(x=distinct((3, 4)), dim=st.integers(-2, 1), keepdim=st.booleans())
def test_max_min_dim_values_and_indices(x, dim, keepdim):
    t = tv.tensor(x, requires_grad=True)
    for op, arg in (("max", np.argmax), ("min", np.argmin)):
        values, indices = getattr(t, op)(dim=dim, keepdim=keepdim)
        expected = np.expand_dims(arg(x, axis=dim), dim) if keepdim else arg(x, axis=dim)
        np.testing.assert_array_equal(indices.data, expected)
        assert indices.dtype == np.int64 and not indices.requires_grad
        assert values.requires_grad
        np.testing.assert_array_equal(values.data, np.take_along_axis(
            x, expected if keepdim else np.expand_dims(expected, dim), dim).reshape(values.shape))


# ---- gradcheck itself -------------------------------------------------------------------
class SquareWrongAtFn(Function):
    """x², whose backward is right except at one element of one input."""

    wrong_at = (1, 2)

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * x + y

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        gx = 2 * x * gy
        gx[SquareWrongAtFn.wrong_at] *= 1.5   # the bug
        return gx, gy


class MissingFactorFn(Function):
    """x² with the factor 2 forgotten in the backward (the classic slip)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return x * gy


def test_gradcheck_names_the_input_and_the_element():
    rng = np.random.default_rng(1)
    x, y = rng.uniform(1, 2, (3, 4)), rng.uniform(1, 2, (3, 4))
    with pytest.raises(tv.GradcheckError, match=r"input 0, element \(1, 2\): analytic .* numeric"):
        tv.gradcheck(SquareWrongAtFn.apply, [x, y])
    # The same op with the arguments swapped: now the wrong gradient belongs to input 1.
    with pytest.raises(tv.GradcheckError, match=r"input 1, element \(1, 2\)"):
        tv.gradcheck(lambda y, x: SquareWrongAtFn.apply(x, y), [y, x])


def test_gradcheck_passes_a_right_backward_and_checks_only_grad_inputs():
    rng = np.random.default_rng(2)
    x = rng.uniform(1, 2, (3, 4))
    assert tv.gradcheck(lambda x: x * x, [x])
    # Only x requires grad here: it alone is checked, and its wrong element is still found.
    with pytest.raises(tv.GradcheckError, match="input 0"):
        tv.gradcheck(SquareWrongAtFn.apply, [x, tv.tensor(x.copy())])


def test_gradcheck_directional_on_a_big_input():
    """Above 1,000 elements gradcheck checks random directions: a few forward passes instead of
    two per element; it still catches a wrong backward."""
    x = np.random.default_rng(3).uniform(1, 2, (60, 50))   # 3,000 elements
    calls = []

    def counted(fn):
        def wrapper(*args):
            calls.append(1)
            return fn(*args)
        return wrapper

    assert tv.gradcheck(counted(lambda x: (x * x).sum(dim=1)), [x])
    assert len(calls) <= 1 + 2 * 3   # one analytic pass, two per direction
    with pytest.raises(tv.GradcheckError, match="input 0, random direction"):
        tv.gradcheck(MissingFactorFn.apply, [x])
    with pytest.raises(tv.GradcheckError, match="input 0, random direction"):
        tv.gradcheck(MissingFactorFn.apply, [x[:4, :4].copy()], directional=True)


def test_gradcheck_refuses_float32_and_inputs_without_grad():
    with pytest.raises(ValueError, match="float64"):
        tv.gradcheck(lambda x: x * x, [tv.tensor(np.ones(3, np.float32), requires_grad=True)])
    with pytest.raises(ValueError, match="no input requires grad"):
        tv.gradcheck(lambda x: x * x, [tv.tensor(np.ones(3))])
