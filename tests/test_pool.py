"""Pooling (max_pool2d, avg_pool2d, adaptive_max_pool2d, adaptive_avg_pool2d): the reference
kernel against the contract written out, every implementation against the reference, float64
gradchecks through every CPU implementation, PyTorch conformance, nn layers, bad input.

Hypothesis draws the geometry (kernel sizes, strides, paddings, dilations, ceil_mode,
count_include_pad, divisor_override, odd sizes) and values with ties (a few distinct
levels), -inf and NaN.  The CUDA kernels run on Numba's simulator in a subprocess.
"""
import math
import subprocess
import textwrap

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import tinyvision as tv
import tinyvision.functional as F
import tinyvision.nn as nn
from tinyvision import kernels
from tinyvision.kernels.pool2d import reference, windows
from tinyvision.testing import SIMULATOR_UNAVAILABLE, run_on_cuda_simulator

CPU = ["reference", "cython", "numba"]
FAST = ["cython", "numba"]
DTYPES = [np.float32, np.float64]


def implementation(name, x):
    with kernels.use(name):
        return kernels.get("pool2d", x)


# ---- draws -------------------------------------------------------------------------------------
@st.composite
def values(draw, shape, dtype, specials=True):
    """Values with ties (rounded to a few levels) and, if specials, some -inf and NaN."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(shape)
    if draw(st.booleans()):
        x = np.round(x * 2) / 2  # ties inside windows
    for special in (-np.inf, np.nan) if specials else ():
        if draw(st.booleans()):
            x.flat[rng.integers(0, x.size, size=max(1, x.size // 8))] = special
    return x.astype(dtype)


def batch(draw, H, W, dtype, specials):
    dtype = dtype or draw(st.sampled_from(DTYPES))
    return draw(values((draw(st.integers(1, 3)), draw(st.integers(1, 3)), H, W), dtype, specials))


@st.composite
def max_cases(draw, dtype=None, specials=True):
    """(x, (kh, kw, sh, sw, ph, pw, dh, dw), ceil_mode), every window holding an input."""
    kh, kw, sh, sw = (draw(st.integers(1, n)) for n in (4, 4, 3, 3))
    ph, pw, dh, dw = (draw(st.integers(lo, hi)) for lo, hi in ((0, kh // 2), (0, kw // 2),
                                                               (1, 3), (1, 3)))
    ceil_mode = draw(st.booleans())
    H0, W0 = max(1, dh * (kh - 1) + 1 - 2 * ph), max(1, dw * (kw - 1) + 1 - 2 * pw)
    H, W = draw(st.integers(H0, H0 + 6)), draw(st.integers(W0, W0 + 6))
    geometry = (kh, kw, sh, sw, ph, pw, dh, dw)
    try:
        windows.max_pool2d_windows(H, W, *geometry, ceil_mode)
    except ValueError:  # a dilated window that jumps over the input (refused: tested below)
        assume(False)
    return batch(draw, H, W, dtype, specials), geometry, ceil_mode


@st.composite
def avg_cases(draw, dtype=None):
    """(x, (kh, kw, sh, sw, ph, pw), (ceil_mode, count_include_pad, divisor_override))."""
    kh, kw, sh, sw = (draw(st.integers(1, n)) for n in (4, 4, 3, 3))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    H = draw(st.integers(max(1, kh - 2 * ph), kh + 5))
    W = draw(st.integers(max(1, kw - 2 * pw), kw + 5))
    options = (draw(st.booleans()), draw(st.booleans()), draw(st.sampled_from([None, 1, 3])))
    return batch(draw, H, W, dtype, False), (kh, kw, sh, sw, ph, pw), options


@st.composite
def adaptive_cases(draw, dtype=None, specials=True):
    """(x, (OH, OW)), the output smaller or larger than the input."""
    H, W, OH, OW = (draw(st.integers(1, 8)) for _ in range(4))
    return batch(draw, H, W, dtype, specials), (OH, OW)


def distinct(shape, seed):
    """float64 values all at least 0.01 apart: no ties, so max pooling is differentiable."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape))) * 0.01 + rng.uniform(0, 1e-3)).reshape(shape)


# ---- the reference against the contract, written out one output at a time --------------------
def naive_max(x, kh, kw, sh, sw, ph, pw, dh, dw, ceil_mode):
    N, C, H, W = x.shape
    OH, OW = (windows.pool_output_size(H, kh, sh, ph, dh, ceil_mode),
              windows.pool_output_size(W, kw, sw, pw, dw, ceil_mode))
    y, argmax = np.zeros((N, C, OH, OW), x.dtype), np.zeros((N, C, OH, OW), np.int64)
    for n, c, oh, ow in np.ndindex(y.shape):
        best, k = None, None
        for i in range(kh):
            for j in range(kw):
                h, w = oh * sh - ph + i * dh, ow * sw - pw + j * dw
                if 0 <= h < H and 0 <= w < W:
                    v = x[n, c, h, w]
                    if best is None or v > best or np.isnan(v):  # PyTorch's rule
                        best, k = v, h * W + w
        y[n, c, oh, ow], argmax[n, c, oh, ow] = best, k
    return y, argmax


@given(max_cases())
def test_max_reference_follows_the_contract(case):
    x, geometry, ceil_mode = case
    y, argmax = reference.max_pool2d_forward(x, *geometry, ceil_mode)
    expected_y, expected_argmax = naive_max(x, *geometry, ceil_mode)
    assert y.dtype == x.dtype and argmax.dtype == np.int32
    np.testing.assert_array_equal(y, expected_y)
    np.testing.assert_array_equal(argmax, expected_argmax)
    sh, sw, ph, pw = geometry[2:6]
    if ceil_mode:  # the last window starts inside the input or the left padding
        assert (y.shape[2] - 1) * sh < x.shape[2] + ph and (y.shape[3] - 1) * sw < x.shape[3] + pw


def test_ceil_mode_example_and_pytorchs_first_max_and_last_nan():
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    assert reference.max_pool2d_forward(x, 2, 2, 2, 2, 0, 0, 1, 1, False)[0].shape[2:] == (2, 2)
    y, argmax = reference.max_pool2d_forward(x, 2, 2, 2, 2, 0, 0, 1, 1, True)
    assert y.shape[2:] == (3, 3) and y[0, 0, 2, 2] == 24 and argmax[0, 0, 2, 2] == 24
    row = np.array([[[[1.0, 3.0, np.nan, 3.0, np.nan, 2.0]]]])
    for name in CPU:
        impl = implementation(name, row)
        tie = np.full((1, 1, 1, 2), 3.0)
        y, argmax = impl.max_pool2d_forward(tie, 1, 2, 1, 1, 0, 0, 1, 1, False)
        assert argmax[0, 0, 0, 0] == 0  # a tie: the first maximum
        y, argmax = impl.max_pool2d_forward(row, 1, 6, 1, 1, 0, 0, 1, 1, False)
        assert np.isnan(y[0, 0, 0, 0]) and argmax[0, 0, 0, 0] == 4  # NaN wins: the last one
        y, argmax = impl.max_pool2d_forward(np.full((1, 1, 2, 3), -np.inf), 2, 2, 1, 1, 0, 1, 1,
                                            1, False)
        assert np.all(y == -np.inf) and argmax.ravel().tolist() == [0, 0, 1, 2]  # 1st inside


# ---- every implementation against the reference -------------------------------------------------
@pytest.mark.parametrize("name", FAST)
@given(case=max_cases())
def test_max_pool_matches_reference(name, case):
    x, geometry, ceil_mode = case
    impl = implementation(name, x)
    y, argmax = impl.max_pool2d_forward(x, *geometry, ceil_mode)
    expected_y, expected_argmax = reference.max_pool2d_forward(x, *geometry, ceil_mode)
    assert y.dtype == x.dtype and argmax.dtype == np.int32 and y.flags.c_contiguous
    np.testing.assert_array_equal(y, expected_y)  # a selection: bit for bit, NaN included
    np.testing.assert_array_equal(argmax, expected_argmax)
    gy = np.random.default_rng(0).standard_normal(y.shape).astype(x.dtype)
    gx = impl.max_pool2d_backward(gy, argmax, *x.shape[2:])
    assert gx.dtype == x.dtype and gx.shape == x.shape
    np.testing.assert_allclose(gx, reference.max_pool2d_backward(gy, argmax, *x.shape[2:]),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", FAST)
@given(case=avg_cases())
def test_avg_pool_matches_reference(name, case):
    x, geometry, options = case
    impl = implementation(name, x)
    y = impl.avg_pool2d_forward(x, *geometry, *options)
    assert y.dtype == x.dtype and y.flags.c_contiguous
    np.testing.assert_allclose(y, reference.avg_pool2d_forward(x, *geometry, *options),
                               rtol=1e-6, atol=1e-6)
    gy = np.random.default_rng(0).standard_normal(y.shape).astype(x.dtype)
    args = (gy, *x.shape[2:], *geometry, *options)
    gx = impl.avg_pool2d_backward(*args)
    assert gx.dtype == x.dtype and gx.shape == x.shape
    np.testing.assert_allclose(gx, reference.avg_pool2d_backward(*args), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", FAST)
@given(case=adaptive_cases())
def test_adaptive_pools_match_reference(name, case):
    x, (OH, OW) = case
    impl = implementation(name, x)
    y, argmax = impl.adaptive_max_pool2d_forward(x, OH, OW)
    expected_y, expected_argmax = reference.adaptive_max_pool2d_forward(x, OH, OW)
    np.testing.assert_array_equal(y, expected_y)
    np.testing.assert_array_equal(argmax, expected_argmax)
    finite = np.nan_to_num(x, nan=0.0, neginf=-1.0)
    y = impl.adaptive_avg_pool2d_forward(finite, OH, OW)
    assert y.dtype == x.dtype
    np.testing.assert_allclose(y, reference.adaptive_avg_pool2d_forward(finite, OH, OW),
                               rtol=1e-6, atol=1e-6)
    gy = np.random.default_rng(0).standard_normal(y.shape).astype(x.dtype)
    np.testing.assert_allclose(impl.adaptive_avg_pool2d_backward(gy, *x.shape[2:]),
                               reference.adaptive_avg_pool2d_backward(gy, *x.shape[2:]),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", CPU)
def test_adjoint_and_empty_batch(name):
    rng = np.random.default_rng(1)
    x, gy = rng.standard_normal((2, 3, 7, 5)), rng.standard_normal((2, 3, 4, 3))
    impl = implementation(name, x)
    geometry = (3, 2, 2, 2, 1, 1)
    for options in [(True, True, None), (True, False, None), (False, True, 5)]:
        lhs = np.vdot(impl.avg_pool2d_forward(x, *geometry, *options), gy)  # <A x, g>
        rhs = np.vdot(x, impl.avg_pool2d_backward(gy, 7, 5, *geometry, *options))  # <x, Aᵀ g>
        assert math.isclose(lhs, rhs, rel_tol=1e-10)
    empty = np.zeros((0, 3, 4, 4), np.float32)
    y, argmax = impl.max_pool2d_forward(empty, 2, 2, 2, 2, 0, 0, 1, 1, False)
    assert y.shape == argmax.shape == (0, 3, 2, 2)
    assert impl.max_pool2d_backward(y, argmax, 4, 4).shape == (0, 3, 4, 4)


# ---- gradients: float64 gradcheck through every CPU implementation ------------------------------
@pytest.mark.parametrize("name", CPU)
@given(case=max_cases(np.float64, specials=False), seed=st.integers(0, 2**16))
def test_max_pool2d_gradcheck(name, case, seed):
    x, (kh, kw, sh, sw, ph, pw, dh, dw), ceil_mode = case
    x = distinct(x.shape, seed)
    with kernels.use(name):
        assert tv.gradcheck(lambda t: F.max_pool2d(t, (kh, kw), (sh, sw), (ph, pw), (dh, dw),
                                                   ceil_mode), [x])
        assert kernels.last_used("pool2d") == name


@pytest.mark.parametrize("name", CPU)
@given(case=avg_cases(np.float64))
def test_avg_pool2d_gradcheck(name, case):
    x, (kh, kw, sh, sw, ph, pw), options = case
    with kernels.use(name):
        assert tv.gradcheck(lambda t: F.avg_pool2d(t, (kh, kw), (sh, sw), (ph, pw), *options), [x])


@pytest.mark.parametrize("name", CPU)
@given(case=adaptive_cases(np.float64, specials=False), seed=st.integers(0, 2**16))
def test_adaptive_pools_gradcheck(name, case, seed):
    x, size = case
    with kernels.use(name):
        assert tv.gradcheck(lambda t: F.adaptive_avg_pool2d(t, size), [x])
        assert tv.gradcheck(lambda t: F.adaptive_max_pool2d(t, size), [distinct(x.shape, seed)])


# ---- PyTorch conformance: forward, indices and gradients ---------------------------------------
@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch", reason="PyTorch not installed: the conformance tests "
                                                "compare with it (pip install torch==2.13.0)")
    torch.set_num_threads(1)
    return torch


def compare_with_torch(torch, ours, theirs, x, n_outputs=1):
    """Same forward (and indices), same gradient for a random upstream gradient."""
    t = tv.tensor(x, requires_grad=True)
    tt = torch.tensor(x, requires_grad=True)
    out, tout = ours(t), theirs(tt)
    out, tout = (out, tout) if n_outputs == 2 else ((out,), (tout,))
    rtol = 1e-5 if x.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out[0].data, tout[0].detach().numpy(), rtol=rtol, atol=rtol)
    if n_outputs == 2:
        assert out[1].dtype == np.int64 and not out[1].requires_grad
        np.testing.assert_array_equal(out[1].data, tout[1].numpy())
    gy = np.random.default_rng(0).standard_normal(out[0].shape).astype(x.dtype)
    out[0].backward(gy)
    tout[0].backward(torch.tensor(gy))
    np.testing.assert_allclose(t.grad, tt.grad.numpy(), rtol=rtol, atol=rtol)


@given(case=max_cases())
def test_max_pool2d_matches_torch(torch, case):
    x, (kh, kw, sh, sw, ph, pw, dh, dw), ceil_mode = case
    args = ((kh, kw), (sh, sw), (ph, pw), (dh, dw), ceil_mode, True)
    compare_with_torch(torch, lambda t: F.max_pool2d(t, *args),
                       lambda t: torch.nn.functional.max_pool2d(t, *args), x, n_outputs=2)


@given(case=avg_cases())
def test_avg_pool2d_matches_torch(torch, case):
    x, (kh, kw, sh, sw, ph, pw), options = case
    args = ((kh, kw), (sh, sw), (ph, pw), *options)
    compare_with_torch(torch, lambda t: F.avg_pool2d(t, *args),
                       lambda t: torch.nn.functional.avg_pool2d(t, *args), x)


@given(case=adaptive_cases(), keep=st.sampled_from([None, 0, 1]))
def test_adaptive_pools_match_torch(torch, case, keep):
    x, size = case
    size = tuple(None if i == keep else s for i, s in enumerate(size))  # None: the input's size
    compare_with_torch(torch, lambda t: F.adaptive_max_pool2d(t, size, True),
                       lambda t: torch.nn.functional.adaptive_max_pool2d(t, size, True), x, 2)
    x = np.nan_to_num(x, nan=0.0, neginf=-1.0)
    compare_with_torch(torch, lambda t: F.adaptive_avg_pool2d(t, size),
                       lambda t: torch.nn.functional.adaptive_avg_pool2d(t, size), x)


def test_three_d_inputs_and_layers_match_torch(torch):
    x = np.random.default_rng(2).standard_normal((3, 9, 8)).astype(np.float32)
    layers = [(nn.MaxPool2d(3, 2, 1), torch.nn.MaxPool2d(3, 2, 1)),
              (nn.MaxPool2d((2, 3), dilation=2, ceil_mode=True),
               torch.nn.MaxPool2d((2, 3), dilation=2, ceil_mode=True)),
              (nn.AvgPool2d(3, 2, 1, count_include_pad=False, divisor_override=2),
               torch.nn.AvgPool2d(3, 2, 1, count_include_pad=False, divisor_override=2)),
              (nn.AdaptiveAvgPool2d((None, 3)), torch.nn.AdaptiveAvgPool2d((None, 3))),
              (nn.AdaptiveMaxPool2d(4), torch.nn.AdaptiveMaxPool2d(4))]
    for ours, theirs in layers:
        assert repr(ours) == repr(theirs) and list(ours.parameters()) == []
        compare_with_torch(torch, ours, theirs, x)
        compare_with_torch(torch, ours, theirs, x[None])
    for ours, theirs in [(nn.MaxPool2d(2, return_indices=True),
                          torch.nn.MaxPool2d(2, return_indices=True)),
                         (nn.AdaptiveMaxPool2d(3, True), torch.nn.AdaptiveMaxPool2d(3, True))]:
        compare_with_torch(torch, ours, theirs, x, n_outputs=2)


# ---- the layer and the dispatch, without torch -------------------------------------------------
def test_global_average_pooling_layer_and_dispatch():
    x = tv.randn(2, 4, 5, 3, requires_grad=True)
    y = nn.AdaptiveAvgPool2d(1)(x)
    assert y.shape == (2, 4, 1, 1) and y.dtype == np.float32
    np.testing.assert_allclose(y.data, x.data.mean(axis=(2, 3), keepdims=True), rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.full(x.shape, 1 / 15), rtol=1e-6)
    assert kernels.last_used("pool2d") in kernels.CPU_PREFERENCE["pool2d"]


@pytest.mark.parametrize("name", CPU)
def test_non_contiguous_input_and_float64(name):
    x = np.random.default_rng(3).standard_normal((2, 3, 6, 7)).transpose(0, 1, 3, 2)  # a view
    with kernels.use(name):
        for op in (lambda t: F.max_pool2d(t, 2), lambda t: F.avg_pool2d(t, 3, 2, 1),
                   lambda t: F.adaptive_max_pool2d(t, (4, 2))):
            y, expected = op(tv.tensor(x)), op(tv.tensor(np.ascontiguousarray(x)))
            assert y.dtype == np.float64  # (NumPy may sum a view in another order: allclose)
            np.testing.assert_allclose(y.data, expected.data, rtol=1e-13, atol=1e-15)


# ---- bad input: clear errors at the public boundary --------------------------------------------
@pytest.mark.parametrize("call, error, message", [
    (lambda x: F.max_pool2d(x[0, 0], 2), ValueError, "max_pool2d: input must be 3-D"),
    (lambda x: F.max_pool2d(x.astype(np.int64), 2), TypeError, "float32 or float64, got int64"),
    (lambda x: F.max_pool2d(x, (2, 2, 2)), ValueError, "kernel_size must be an int >= 1 or a pair"),
    (lambda x: F.max_pool2d(x, 2, stride=0), ValueError, "stride must be an int >= 1"),
    (lambda x: F.max_pool2d(x, 3, padding=2), ValueError, "padding must be at most half"),
    (lambda x: F.max_pool2d(x, 2, dilation=0), ValueError, "dilation must be an int >= 1"),
    (lambda x: F.max_pool2d(x, 5), ValueError, "max_pool2d: a 5x5 window .* does not fit"),
    (lambda x: F.max_pool2d(x[..., :2, :], (2, 1), 1, (1, 0), (3, 1)), ValueError,
     "all fall in the padding"),
    (lambda x: F.avg_pool2d(x, 2, divisor_override=0), ValueError, "divisor_override must be"),
    (lambda x: F.avg_pool2d(x, (5, 1)), ValueError, "avg_pool2d: a 5x1 window .* does not fit"),
    (lambda x: F.adaptive_avg_pool2d(x, (0, 2)), ValueError, "output_size entries must be"),
    (lambda x: F.adaptive_max_pool2d(x, (1, 2, 3)), ValueError, "output_size must be an int"),
    (lambda x: F.adaptive_avg_pool2d(x[:, :0], 1), ValueError, "non-zero C, H, W"),
])
def test_bad_arguments_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(np.zeros((1, 2, 4, 4), np.float32))


@pytest.mark.parametrize("name", CPU)
def test_kernels_check_their_arguments(name):
    x = np.zeros((1, 2, 4, 4), np.float32)
    impl = implementation(name, x)
    y, argmax = impl.max_pool2d_forward(x, 2, 2, 2, 2, 0, 0, 1, 1, False)
    with pytest.raises(ValueError, match="x must be 4-D"):
        impl.max_pool2d_forward(x[0], 2, 2, 2, 2, 0, 0, 1, 1, False)
    with pytest.raises(ValueError, match="argmax must be int32 of gy's shape"):
        impl.max_pool2d_backward(y, argmax.astype(np.int64), 4, 4)
    with pytest.raises(IndexError, match=r"argmax values must lie in \[0, 16\)"):
        impl.max_pool2d_backward(y, argmax + 16, 4, 4)
    with pytest.raises(ValueError, match="gy has a 2x2 plane, but .* gives 3x3"):
        impl.avg_pool2d_backward(y, 4, 4, 2, 2, 1, 1, 0, 0, False, True, None)


# ---- CUDA, on Numba's simulator -----------------------------------------------------------------

CUDA_CHECKS = textwrap.dedent("""
    import sys
    import numpy as np
    from tinyvision import kernels
    from tinyvision.kernels.pool2d import reference as R

    rng = np.random.default_rng(0)
    with kernels.use("cuda"):
        # (H, W), (kh, kw, sh, sw, ph, pw, dh, dw), ceil_mode: overlap, padding, dilation
        for hw, geometry, ceil in [((4, 5), (2, 2, 2, 2, 0, 0, 1, 1), True),
                                   ((5, 4), (3, 2, 2, 1, 1, 1, 1, 2), False),
                                   ((3, 3), (3, 3, 1, 1, 1, 1, 1, 1), False)]:
            for dtype in (np.float32, np.float64):
                x = np.round(rng.standard_normal((2, 2) + hw) * 2).astype(dtype)  # ties
                x[0, 0, 0, :2], x[1, 1, -1, -1] = np.nan, -np.inf
                impl = kernels.get("pool2d", x)
                y, argmax = impl.max_pool2d_forward(x, *geometry, ceil)
                ry, rargmax = R.max_pool2d_forward(x, *geometry, ceil)
                assert y.dtype == dtype and argmax.dtype == np.int32
                np.testing.assert_array_equal(y, ry)
                np.testing.assert_array_equal(argmax, rargmax)
                gy = rng.standard_normal(y.shape).astype(dtype)
                np.testing.assert_allclose(impl.max_pool2d_backward(gy, argmax, *hw),
                                           R.max_pool2d_backward(gy, argmax, *hw), 1e-6, 1e-6)
                x = np.nan_to_num(x, nan=0.0, neginf=0.0)
                args = geometry[:6] + (ceil, geometry[6] == 1, None if ceil else 3)
                np.testing.assert_allclose(impl.avg_pool2d_forward(x, *args),
                                           R.avg_pool2d_forward(x, *args), 1e-6, 1e-6)
                gy = rng.standard_normal(R.avg_pool2d_forward(x, *args).shape).astype(dtype)
                np.testing.assert_allclose(impl.avg_pool2d_backward(gy, *hw, *args),
                                           R.avg_pool2d_backward(gy, *hw, *args), 1e-6, 1e-6)
        x = rng.standard_normal((1, 2, 5, 3))
        for ours, theirs in zip(impl.adaptive_max_pool2d_forward(x, 3, 2),
                                R.adaptive_max_pool2d_forward(x, 3, 2)):
            np.testing.assert_array_equal(ours, theirs)
        np.testing.assert_allclose(impl.adaptive_avg_pool2d_forward(x, 3, 2),
                                   R.adaptive_avg_pool2d_forward(x, 3, 2), 1e-12, 1e-12)
        gy = rng.standard_normal((1, 2, 3, 2))
        np.testing.assert_allclose(impl.adaptive_avg_pool2d_backward(gy, 5, 3),
                                   R.adaptive_avg_pool2d_backward(gy, 5, 3), 1e-12, 1e-12)
    assert kernels.last_used("pool2d") == "cuda"
    print("cuda pooling matches the reference")
""")


def test_cuda_kernels_match_reference_on_the_simulator():
    result = run_on_cuda_simulator(CUDA_CHECKS)
    if result.returncode == SIMULATOR_UNAVAILABLE:
        pytest.skip(result.stdout.strip())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cuda pooling matches the reference" in result.stdout


def test_cuda_kernels_compile_for_a_real_gpu_without_float64_in_float32_kernels():
    from numba import cuda, types
    from numba.cuda.cudadrv.error import NvvmSupportError

    from tinyvision.kernels.pool2d import cuda as pool_cuda

    index, i32 = types.Array(types.int64, 1, "C"), types.Array(types.int32, 3, "C")
    for dtype in (types.float32, types.float64):
        planes, flat = types.Array(dtype, 3, "C"), types.Array(dtype, 2, "C")
        for kernel, signature in [
                (pool_cuda._max_kernel, (planes, planes, i32) + (index,) * 4 + (types.int64,) * 2),
                (pool_cuda._max_backward_kernel, (planes, i32, flat)),
                (pool_cuda._avg_kernel, (planes, planes) + (index,) * 6 + (types.int64,)),
                (pool_cuda._avg_backward_kernel, (planes, planes) + (index,) * 4)]:
            try:
                ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=(8, 0))
            except NvvmSupportError as error:
                pytest.skip(f"no CUDA toolkit NVVM to compile PTX with: {error}")
            assert ".entry" in ptx
            if dtype == types.float32:  # float64 arithmetic is slow on most GPUs
                assert ".f64" not in ptx, kernel.py_func.__name__
