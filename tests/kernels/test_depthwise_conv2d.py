"""depthwise_conv2d: the reference against the grouped-convolution formula, every CPU
implementation against the reference, the backward kernels as adjoints, and the checks.

The CUDA implementation is checked in test_cuda_simulator_conv.py.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinyvision import kernels
from tinyvision.kernels.depthwise_conv2d import reference

FAST = ["cython", "numba"]


def implementation(name, x):
    with kernels.use(name):
        return kernels.get("depthwise_conv2d", x)


@st.composite
def cases(draw):
    """x, w (K = m·C filters) and a geometry whose output is at least 1x1."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.sampled_from([(1, 1), (1, 1), (2, 2), (1, 3)]))
    ph, pw, dh, dw = (draw(st.integers(0, 2)), draw(st.integers(0, 2)),
                      draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    H0, W0 = max(1, dh * (kh - 1) + 1 - 2 * ph), max(1, dw * (kw - 1) + 1 - 2 * pw)
    H, W = draw(st.integers(H0, H0 + 6)), draw(st.integers(W0, W0 + 6))
    N, C, m = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((C * m, 1, kh, kw)).astype(dtype)
    return x, w, (sh, sw, ph, pw, dh, dw), rng


@settings(deadline=None)
@given(case=cases())
def test_reference_follows_the_contract_formula(case):
    x, w, (sh, sw, ph, pw, dh, dw), _ = case
    y = reference.depthwise_conv2d(x, w, sh, sw, ph, pw, dh, dw)
    N, C, H, W = x.shape
    K, _, kh, kw = w.shape
    for n, k, oh, ow in np.ndindex(y.shape):
        total = 0.0
        for i, j in np.ndindex(kh, kw):
            h, w_ = oh * sh - ph + i * dh, ow * sw - pw + j * dw
            if 0 <= h < H and 0 <= w_ < W:
                total += w[k, 0, i, j] * x[n, k // (K // C), h, w_]
        assert np.isclose(y[n, k, oh, ow], total, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", FAST)
@settings(deadline=None)
@given(case=cases())
def test_matches_reference(name, case):
    x, w, geometry, rng = case
    impl = implementation(name, x)
    tol = dict(rtol=1e-4, atol=1e-4) if x.dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)
    y = impl.depthwise_conv2d(x, w, *geometry)
    assert y.dtype == x.dtype and y.flags.c_contiguous
    np.testing.assert_allclose(y, reference.depthwise_conv2d(x, w, *geometry), **tol)
    gy = rng.standard_normal(y.shape).astype(x.dtype)
    args = (gy, w, *x.shape[1:], *geometry)
    np.testing.assert_allclose(impl.depthwise_conv2d_backward_input(*args),
                               reference.depthwise_conv2d_backward_input(*args), **tol)
    args = (x, gy, *w.shape[2:], *geometry)
    np.testing.assert_allclose(impl.depthwise_conv2d_backward_weight(*args),
                               reference.depthwise_conv2d_backward_weight(*args), **tol)


@pytest.mark.parametrize("name", ["reference"] + FAST)
@settings(deadline=None)
@given(case=cases())
def test_backward_input_is_the_adjoint(name, case):
    x, w, geometry, rng = case
    x, w = x.astype(np.float64), w.astype(np.float64)
    impl = implementation(name, x)
    y = impl.depthwise_conv2d(x, w, *geometry)
    gy = rng.standard_normal(y.shape)
    gx = impl.depthwise_conv2d_backward_input(gy, w, *x.shape[1:], *geometry)
    gw = impl.depthwise_conv2d_backward_weight(x, gy, *w.shape[2:], *geometry)
    np.testing.assert_allclose(np.vdot(y, gy), np.vdot(x, gx), rtol=1e-10)   # linear in x
    np.testing.assert_allclose(np.vdot(y, gy), np.vdot(w, gw), rtol=1e-10)   # and in w


@pytest.mark.parametrize("name", ["reference"] + FAST)
def test_bad_arguments_raise_clear_errors(name):
    x, w = np.zeros((1, 2, 5, 5), np.float32), np.zeros((4, 1, 3, 3), np.float32)
    impl = implementation(name, x)
    with pytest.raises(TypeError, match="depthwise_conv2d: x, w must share one dtype"):
        impl.depthwise_conv2d(x, w.astype(np.float64), 1, 1, 0, 0, 1, 1)
    with pytest.raises(ValueError, match=r"the output channels \(3\) must be a multiple"):
        impl.depthwise_conv2d(x, w[:3], 1, 1, 0, 0, 1, 1)
    with pytest.raises(ValueError, match="does not fit the 5x5 input"):
        impl.depthwise_conv2d(x, w, 1, 1, 0, 0, 3, 3)
    with pytest.raises(ValueError, match="sh must be an integer >= 1, got 0"):
        impl.depthwise_conv2d(x, w, 0, 1, 0, 0, 1, 1)
    with pytest.raises(ValueError, match="gy must be 3x3 for a 5x5 input, got 4x4"):
        impl.depthwise_conv2d_backward_input(np.zeros((1, 4, 4, 4), np.float32), w, 2, 5, 5,
                                             1, 1, 0, 0, 1, 1)
