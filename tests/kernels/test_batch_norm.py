"""batch_norm kernels: the reference against the formulas (its backward against directional
finite differences), every CPU implementation against the reference, numerically hard
statistics, thread-count independence, F.batch_norm through each implementation, and the
argument checks; the CUDA kernels against the reference on Numba's CUDA simulator, and
compiled to PTX for a real GPU where the CUDA toolkit is installed.
"""
import re
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinyvision as tv
import tinyvision.functional as F
from tinyvision import kernels
from tinyvision.kernels import _threads
from tinyvision.kernels.batch_norm import reference
from tinyvision.testing import SIMULATOR_UNAVAILABLE, run_on_cuda_simulator

FAST = ["cython", "numba"]


def implementation(name, x):
    with kernels.use(name):
        return kernels.get("batch_norm", x)


def invstd_of(var, dtype, eps=1e-5):
    return (1 / np.sqrt(var + eps)).astype(dtype)


@st.composite
def cases(draw):
    """x (N, C, *) with an offset mean, a gy, and γ, β or None."""
    N, C = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    spatial = draw(st.sampled_from([(), (1,), (5,), (3, 4), (1, 1), (7, 9)]))
    if N == 1 and np.prod(spatial, dtype=int) == 1:
        spatial = (2, 3)                       # training needs more than one value per channel
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (N, C) + spatial
    offset = draw(st.sampled_from([0.0, 3.0, -50.0]))
    x = (offset + rng.uniform(0.5, 3, C)[:, None] * rng.standard_normal(
        (N, C, int(np.prod(spatial, dtype=int))))).reshape(shape).astype(dtype)
    gy = rng.standard_normal(shape).astype(dtype)
    weight = rng.normal(1, 0.5, C).astype(dtype) if draw(st.booleans()) else None
    bias = rng.normal(0, 1, C).astype(dtype) if draw(st.booleans()) else None
    return x, gy, weight, bias


# ---- the reference ---------------------------------------------------------------------------
def test_reference_follows_the_formulas():
    rng = np.random.default_rng(0)
    x = rng.normal(2, 3, (3, 2, 4, 5))
    w, b = np.array([0.5, 2.0]), np.array([1.0, -1.0])
    mean, var = reference.batch_norm_stats(x)
    for c in range(2):
        values = x[:, c].ravel()
        assert np.isclose(mean[c], values.mean()) and np.isclose(var[c], values.var())
    invstd = invstd_of(var, x.dtype)
    y = reference.batch_norm_forward(x, mean, invstd, w, b)
    expected = (x - mean[None, :, None, None]) / np.sqrt(var + 1e-5)[None, :, None, None]
    np.testing.assert_allclose(y, expected * w[None, :, None, None] + b[None, :, None, None])
    np.testing.assert_allclose(reference.batch_norm_forward(x, mean, invstd, None, None),
                               expected)


@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 5), (1, 2, 3, 4)])
@pytest.mark.parametrize("training", [True, False])
def test_reference_backward_is_the_derivative(shape, training):
    """⟨gy, f(x + h·d) − f(x − h·d)⟩ / 2h against ⟨gx, d⟩, and the same for γ and β, where
    f computes its statistics from x in training and takes them fixed in eval."""
    rng = np.random.default_rng(1)
    x, gy = rng.normal(1, 2, shape), rng.standard_normal(shape)
    w, b = rng.normal(1, 0.3, shape[1]), rng.standard_normal(shape[1])
    fixed = reference.batch_norm_stats(rng.standard_normal(shape))

    def f(x, w, b):
        mean, var = reference.batch_norm_stats(x) if training else fixed
        return reference.batch_norm_forward(x, mean, invstd_of(var, x.dtype), w, b)

    mean, var = reference.batch_norm_stats(x) if training else fixed
    gx, gw, gb = reference.batch_norm_backward(gy, x, mean, invstd_of(var, x.dtype), w,
                                               training)
    h = 1e-6
    for i, grad in enumerate((gx, gw, gb)):
        args = [x, w, b]
        d = rng.standard_normal(args[i].shape)
        plus, minus = list(args), list(args)
        plus[i], minus[i] = args[i] + h * d, args[i] - h * d
        numeric = np.vdot(gy, f(*plus) - f(*minus)) / (2 * h)
        assert np.isclose(np.vdot(grad, d), numeric, rtol=1e-6, atol=1e-8), i


# ---- every implementation against the reference ------------------------------------------------
def assert_matches(impl, x, gy, weight, bias, training):
    tol = dict(rtol=2e-5, atol=2e-5) if x.dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)
    mean, var = impl.batch_norm_stats(x)
    expected_mean, expected_var = reference.batch_norm_stats(x)
    assert mean.dtype == var.dtype == np.float64 and mean.shape == (x.shape[1],)
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(var, expected_var, rtol=1e-10, atol=1e-12)
    mean, invstd = mean.astype(x.dtype), invstd_of(var, x.dtype)
    y = impl.batch_norm_forward(x, mean, invstd, weight, bias)
    assert y.dtype == x.dtype and y.shape == x.shape and y.flags.c_contiguous
    np.testing.assert_allclose(y, reference.batch_norm_forward(x, mean, invstd, weight, bias),
                               **tol)
    got = impl.batch_norm_backward(gy, x, mean, invstd, weight, training)
    want = reference.batch_norm_backward(gy, x, mean, invstd, weight, training)
    for name, a, b in zip(("gx", "gweight", "gbias"), got, want):
        assert a.dtype == x.dtype and a.shape == b.shape, name
        np.testing.assert_allclose(a, b, **tol, err_msg=name)


@pytest.mark.parametrize("name", FAST)
@pytest.mark.parametrize("training", [True, False])
@settings(deadline=None)
@given(case=cases())
def test_matches_reference(name, training, case):
    x, gy, weight, bias = case
    assert_matches(implementation(name, x), x, gy, weight, bias, training)


@pytest.mark.parametrize("name", ["reference"] + FAST)
def test_only_the_gradients_asked_for(name):
    rng = np.random.default_rng(2)
    x, gy = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    impl, mean, invstd = implementation(name, x), np.zeros(3), np.ones(3)
    full = impl.batch_norm_backward(gy, x, mean, invstd, None, True)
    gx, gw, gb = impl.batch_norm_backward(gy, x, mean, invstd, None, True, grad_params=False)
    assert gw is None and gb is None
    np.testing.assert_array_equal(gx, full[0])
    gx, gw, gb = impl.batch_norm_backward(gy, x, mean, invstd, None, False, grad_input=False)
    assert gx is None
    np.testing.assert_array_equal(gw, full[1])
    np.testing.assert_array_equal(gb, full[2])


@pytest.mark.parametrize("name", FAST)
def test_non_contiguous_and_empty_inputs(name):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 4, 3)).transpose(1, 0, 2)     # (4, 5, 3), not contiguous
    gy = rng.standard_normal((3, 5, 4)).transpose(2, 1, 0)
    assert not x.flags.c_contiguous
    assert_matches(implementation(name, x), x, gy, None, np.ones(5), True)
    empty = np.zeros((0, 5, 3))
    impl = implementation(name, empty)
    assert impl.batch_norm_forward(empty, np.zeros(5), np.ones(5), None, None).shape == (0, 5, 3)
    gx, gw, gb = impl.batch_norm_backward(empty, empty, np.zeros(5), np.ones(5), None, False)
    assert gx.shape == (0, 5, 3) and not gw.any() and not gb.any()


@pytest.mark.parametrize("name", ["reference"] + FAST)
def test_statistics_are_exact_far_from_zero(name):
    """float32 values around 10⁴ with spread 10⁻¹: Σx² − m·μ² would lose every digit of σ²
    in float32 (and most in float64); sums of squared deviations in float64 keep them."""
    rng = np.random.default_rng(4)
    x = (1e4 + 0.1 * rng.standard_normal((16, 3, 8, 8))).astype(np.float32)
    exact = x.astype(np.float64).reshape(16, 3, -1).transpose(1, 0, 2).reshape(3, -1)
    mean, var = implementation(name, x).batch_norm_stats(x)
    np.testing.assert_allclose(mean, exact.mean(axis=1), rtol=1e-14)
    np.testing.assert_allclose(var, exact.var(axis=1), rtol=1e-9)


@pytest.mark.parametrize("name", FAST)
def test_same_bits_on_one_thread_and_three(name, monkeypatch):
    """Threads own whole rows, and the per-row sums are added up afterwards in one order:
    the results never depend on the thread count."""
    rng = np.random.default_rng(5)
    x = rng.normal(1, 2, (6, 5, 50, 50)).astype(np.float32)          # above MIN_PARALLEL_WORK
    gy = rng.standard_normal(x.shape).astype(np.float32)
    impl = implementation(name, x)
    results = []
    for threads in ("1", "3"):
        monkeypatch.setenv("OMP_NUM_THREADS", threads)
        assert _threads.num_threads() == int(threads)
        mean, var = impl.batch_norm_stats(x)
        mean, invstd = mean.astype(x.dtype), invstd_of(var, x.dtype)
        results.append((mean, var, impl.batch_norm_forward(x, mean, invstd, None, None),
                        *impl.batch_norm_backward(gy, x, mean, invstd, None, True)))
    for one, three in zip(*results):
        np.testing.assert_array_equal(one, three)


# ---- F.batch_norm through every implementation ----------------------------------------------
@pytest.mark.parametrize("name", ["reference"] + FAST)
@pytest.mark.parametrize("training", [True, False])
def test_functional_batch_norm_through_each_implementation(name, training):
    """Same values, gradients and running statistics as the NumPy formulas of the docstring."""
    rng = np.random.default_rng(6)
    data = rng.normal(3, 2, (4, 3, 5, 5))
    w, b = tv.tensor(rng.normal(1, 0.2, 3), requires_grad=True), tv.tensor(np.zeros(3),
                                                                         requires_grad=True)
    x = tv.tensor(data, requires_grad=True)
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    rm0, rv0 = rm.copy(), rv.copy()
    with kernels.use(name):
        y = F.batch_norm(x, rm, rv, w, b, training=training, momentum=0.2, eps=1e-3)
        (y * y).sum().backward()
    assert kernels.last_used("batch_norm") == name
    axes = (0, 2, 3)
    mean, var = (data.mean(axes), data.var(axes)) if training else (rm0, rv0)
    xhat = (data - mean[:, None, None]) / np.sqrt(var + 1e-3)[:, None, None]
    np.testing.assert_allclose(y.data, xhat * w.data[:, None, None], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(w.grad, (2 * y.data * xhat).sum(axes), rtol=1e-10)
    np.testing.assert_allclose(b.grad, (2 * y.data).sum(axes), rtol=1e-10, atol=1e-10)
    if training:
        m = data.size // 3
        np.testing.assert_allclose(rm, 0.8 * rm0 + 0.2 * mean)
        np.testing.assert_allclose(rv, 0.8 * rv0 + 0.2 * var * m / (m - 1))
    else:
        np.testing.assert_array_equal(rm, rm0)
        g = 2 * y.data * w.data[:, None, None]
        np.testing.assert_allclose(x.grad, g / np.sqrt(var + 1e-3)[:, None, None], rtol=1e-10)


# ---- argument checks -------------------------------------------------------------------------
X = np.zeros((2, 3, 4), np.float32)
V = np.ones(3, np.float32)
BAD = {  # name: (call on an implementation, error, patterns its message must contain)
    "1-D x": (lambda k: k.batch_norm_stats(V), ValueError,
              ["batch_norm_stats", r"\(N, C, \*\)", r"\(3,\)"]),
    "int x": (lambda k: k.batch_norm_forward(X.astype(np.int32), V, V, None, None), TypeError,
              ["batch_norm_forward", "float32 or float64", "int32"]),
    "no values": (lambda k: k.batch_norm_stats(X[:0]), ValueError,
                  ["batch_norm_stats", "at least one value per channel", r"\(0, 3, 4\)"]),
    "weight shape": (lambda k: k.batch_norm_forward(X, V, V, V[:2], None), ValueError,
                     ["batch_norm_forward", "weight", r"\(3,\)", "3 channels", r"\(2,\)"]),
    "gy shape": (lambda k: k.batch_norm_backward(X[:1], X, V, V, None, True), ValueError,
                 ["batch_norm_backward", "gy must match x", r"\(2, 3, 4\)", r"\(1, 3, 4\)"]),
    "gy dtype": (lambda k: k.batch_norm_backward(X.astype(np.float64), X, V, V, None, True),
                 ValueError, ["batch_norm_backward", "gy", "float32", "float64"]),
}


@pytest.mark.parametrize("name", ["reference"] + FAST)
@pytest.mark.parametrize("case", BAD)
def test_bad_arguments_raise_clear_errors(name, case):
    call, error, patterns = BAD[case]
    with pytest.raises(error) as info:
        call(implementation(name, X))
    for pattern in patterns:
        assert re.search(pattern, str(info.value)), (pattern, str(info.value))


# ---- CUDA: on Numba's simulator (a fresh interpreter, tiny shapes), and compiled to PTX ------
CUDA_CHECKS = textwrap.dedent("""
    import numpy as np

    import tinyvision as tv
    import tinyvision.functional as F
    from tinyvision import kernels
    from tinyvision.kernels.batch_norm import reference

    rng = np.random.default_rng(0)
    with kernels.use("cuda"):
        for shape in [(3, 2), (2, 3, 2, 3)]:
            for dtype in (np.float32, np.float64):
                tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
                x = (5 + rng.standard_normal(shape)).astype(dtype)
                gy = rng.standard_normal(shape).astype(dtype)
                w = rng.normal(1, 0.3, shape[1]).astype(dtype)
                impl = kernels.get("batch_norm", x)
                mean, var = impl.batch_norm_stats(x)
                np.testing.assert_allclose(np.stack([mean, var]),
                                           np.stack(reference.batch_norm_stats(x)), rtol=1e-12)
                mean, invstd = mean.astype(dtype), (1 / np.sqrt(var + 1e-5)).astype(dtype)
                for weight, bias in [(w, -w), (None, None)]:
                    y = impl.batch_norm_forward(x, mean, invstd, weight, bias)
                    assert y.dtype == dtype and y.shape == shape
                    np.testing.assert_allclose(
                        y, reference.batch_norm_forward(x, mean, invstd, weight, bias), **tol)
                    for training in (True, False):
                        got = impl.batch_norm_backward(gy, x, mean, invstd, weight, training)
                        want = reference.batch_norm_backward(gy, x, mean, invstd, weight, training)
                        for a, b in zip(got, want):
                            assert a.dtype == dtype
                            np.testing.assert_allclose(a, b, **tol)
        x = tv.tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)
        F.batch_norm(x, None, None, training=True).sum().backward()   # Σ x̂ = 0: gx = 0
        np.testing.assert_allclose(x.grad, 0, atol=1e-12)
    assert kernels.last_used("batch_norm") == "cuda"
    print("batch_norm cuda kernels match the reference")
""")


def test_cuda_kernels_match_the_reference_on_the_simulator():
    result = run_on_cuda_simulator(CUDA_CHECKS)
    if result.returncode == SIMULATOR_UNAVAILABLE:
        pytest.skip(result.stdout.strip())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "batch_norm cuda kernels match the reference" in result.stdout


def test_cuda_kernels_compile_for_a_real_gpu_with_float32_elementwise_kernels():
    """The sums accumulate in float64 on purpose (see cuda.py); y and gx stay in float32."""
    from numba import cuda, types
    from numba.cuda.cudadrv.error import NvvmSupportError

    from tinyvision.kernels.batch_norm import cuda as bn

    for dtype in (types.float32, types.float64):
        rows, cube = types.Array(dtype, 2, "C"), types.Array(dtype, 3, "C")
        vector, sums = types.Array(dtype, 1, "C"), types.Array(types.float64, 1, "C")
        for kernel, signature, elementwise in [
                (bn._stats_kernel, (cube, sums, sums), False),
                (bn._grad_sums_kernel, (cube, cube, sums, sums, sums), False),
                (bn._forward_kernel, (rows, rows, vector, vector, vector), True),
                (bn._grad_input_kernel, (rows, rows) + (vector,) * 4 + (rows, types.boolean),
                 True)]:
            try:
                ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=(8, 0))
            except NvvmSupportError as error:
                pytest.skip(f"no CUDA toolkit NVVM to compile PTX with: {error}")
            assert ".entry" in ptx
            if elementwise and dtype == types.float32:
                assert ".f64" not in ptx, kernel.py_func.__name__
