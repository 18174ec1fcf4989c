"""Winograd F(4x4, 3x3) transforms: the reference against a direct convolution, every CPU
implementation against the reference, the backward kernels as adjoints, and the checks.

The CUDA implementation is checked in test_cuda_simulator_conv.py.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinyvision import kernels
from tinyvision.kernels.im2col import reference as im2col_reference
from tinyvision.kernels.winograd import reference

FAST = ["cython", "numba"]


def implementation(name, x):
    with kernels.use(name):
        return kernels.get("winograd", x)


@st.composite
def cases(draw):
    """x of small odd and even sizes (a 3x3 window must fit once padded) and a padding."""
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    H, W = draw(st.integers(max(1, 3 - 2 * ph), 11)), draw(st.integers(max(1, 3 - 2 * pw), 11))
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.standard_normal((N, C, H, W)).astype(dtype), ph, pw, rng


def direct_conv(x, w, ph, pw):
    """y = the 3x3 convolution as im2col's reference computes it (float64)."""
    cols = im2col_reference.im2col(x.astype(np.float64), 3, 3, 1, 1, ph, pw, 1, 1)
    N, C, _, _, OH, OW = cols.shape
    return (w.reshape(len(w), -1) @ cols.reshape(N, C * 9, OH * OW)).reshape(N, -1, OH, OW)


@settings(deadline=None)
@given(case=cases())
def test_reference_pipeline_is_the_convolution(case):
    x, ph, pw, rng = case
    x = x.astype(np.float64)
    w = rng.standard_normal((2, x.shape[1], 3, 3))
    OH, OW, TH, TW = reference.tiles(*x.shape[2:], ph, pw)
    V = reference.winograd_input(x, ph, pw)
    assert V.shape == (36, x.shape[1], x.shape[0] * TH * TW) and V.strides[2] == 8
    M = reference.tile_buffer(2, V.shape[2], np.float64)
    np.matmul(reference.winograd_weight(w), V, out=M)                 # 36 GEMMs
    y = reference.winograd_output(M, x.shape[0], OH, OW)
    np.testing.assert_allclose(y, direct_conv(x, w, ph, pw), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", FAST)
@settings(deadline=None)
@given(case=cases())
def test_matches_reference(name, case):
    x, ph, pw, rng = case
    impl, dtype = implementation(name, x), x.dtype
    tol = dict(rtol=1e-5, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    N, C, H, W = x.shape
    OH, OW, TH, TW = reference.tiles(H, W, ph, pw)
    V = impl.winograd_input(x, ph, pw)
    assert V.dtype == dtype
    np.testing.assert_allclose(V, reference.winograd_input(x, ph, pw), **tol)
    gV = rng.standard_normal(V.shape).astype(dtype)
    np.testing.assert_allclose(impl.winograd_input_backward(gV, N, H, W, ph, pw),
                               reference.winograd_input_backward(gV, N, H, W, ph, pw), **tol)
    np.testing.assert_allclose(impl.winograd_output(gV, N, OH, OW),
                               reference.winograd_output(gV, N, OH, OW), **tol)
    gy = rng.standard_normal((N, C, OH, OW)).astype(dtype)
    np.testing.assert_allclose(impl.winograd_output_backward(gy),
                               reference.winograd_output_backward(gy), **tol)
    w, gU = rng.standard_normal((2, C, 3, 3)).astype(dtype), gV[:, :2, :C]   # gU: strided
    np.testing.assert_allclose(impl.winograd_weight(w), reference.winograd_weight(w), **tol)
    np.testing.assert_allclose(impl.winograd_weight_backward(gU),
                               reference.winograd_weight_backward(gU), **tol)
    out = np.full((N + 1, C, OH, OW), 7, dtype)                        # out= a batch slice
    assert impl.winograd_output(gV, N, OH, OW, out=out[1:]) is not None
    np.testing.assert_allclose(out[1:], reference.winograd_output(gV, N, OH, OW), **tol)
    assert np.all(out[0] == 7)


@pytest.mark.parametrize("name", ["reference"] + FAST)
@settings(deadline=None)
@given(case=cases())
def test_backward_kernels_are_the_adjoints(name, case):
    x, ph, pw, rng = case
    x = x.astype(np.float64)
    impl = implementation(name, x)
    N, C, H, W = x.shape
    OH, OW, _, _ = reference.tiles(H, W, ph, pw)
    V = impl.winograd_input(x, ph, pw)
    gV = rng.standard_normal(V.shape)
    # <Bᵀ x B, v> = <x, B v Bᵀ> (tiles summed), and likewise for the output and the weight
    np.testing.assert_allclose(np.vdot(V, gV),
                               np.vdot(x, impl.winograd_input_backward(gV, N, H, W, ph, pw)),
                               rtol=1e-10)
    gy = rng.standard_normal((N, C, OH, OW))
    np.testing.assert_allclose(np.vdot(impl.winograd_output(gV, N, OH, OW), gy),
                               np.vdot(gV, impl.winograd_output_backward(gy)), rtol=1e-10)
    w, gU = rng.standard_normal((2, C, 3, 3)), rng.standard_normal((36, 2, C))
    np.testing.assert_allclose(np.vdot(impl.winograd_weight(w), gU),
                               np.vdot(w, impl.winograd_weight_backward(gU)), rtol=1e-10)


def test_tile_rows_avoid_power_of_two_strides():
    V = reference.tile_buffer(64, 8192, np.float32)
    assert V.shape == (36, 64, 8192)
    assert V.strides[1] % 4096 and V.strides[0] % 4096     # no 4 KiB aliasing of rows or ξ


@pytest.mark.parametrize("name", ["reference"] + FAST)
def test_bad_arguments_raise_clear_errors(name):
    x = np.zeros((1, 2, 4, 4), np.float32)
    impl = implementation(name, x)
    with pytest.raises(ValueError, match="winograd_input: x must be a 4-D float32/float64"):
        impl.winograd_input(x[0], 1, 1)
    with pytest.raises(ValueError, match="a 3x3 window does not fit the 1x4 input"):
        impl.winograd_input(x[:, :, :1], 0, 0)
    with pytest.raises(ValueError, match=r"winograd_output: M must be a \(36, rows, 1\)"):
        impl.winograd_output(np.zeros((36, 2, 3), np.float32), 1, 4, 4)
    with pytest.raises(ValueError, match=r"winograd_input: out must be a \(36, 2, 1\) float32"):
        impl.winograd_input(x, 1, 1, out=np.zeros((36, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"winograd_weight: w must be a \(any, any, 3, 3\) "
                                         r"float32/float64 array, got shape \(2, 2, 5, 5\)"):
        impl.winograd_weight(np.zeros((2, 2, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"winograd_weight_backward: gU must be a \(36, any, "
                                         r"any\) float32/float64 array, got shape \(16, 2, 2\)"):
        impl.winograd_weight_backward(np.zeros((16, 2, 2), np.float32))
    with pytest.raises(ValueError, match="dtype int64"):
        impl.winograd_weight(np.zeros((2, 2, 3, 3), np.int64))
