"""im2col / col2im: the reference against the contract's formula, every CPU implementation
against the reference, col2im as the adjoint of im2col, and the argument checks.

The CUDA implementation is checked in test_cuda_simulator.py.
"""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinyvision import kernels
from tinyvision.kernels.im2col import reference

FAST = ["cython", "numba"]


def implementation(name, x):
    with kernels.use(name):
        return kernels.get("im2col", x)


@st.composite
def cases(draw):
    """x of small odd sizes with a window geometry that fits it (OH, OW >= 1)."""
    kh, kw, sh, sw = (draw(st.integers(1, 4)), draw(st.integers(1, 4)),
                      draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    ph, pw, dh, dw = (draw(st.integers(0, 2)), draw(st.integers(0, 2)),
                      draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    H0, W0 = max(1, dh * (kh - 1) + 1 - 2 * ph), max(1, dw * (kw - 1) + 1 - 2 * pw)
    H, W = draw(st.integers(H0, H0 + 6)), draw(st.integers(W0, W0 + 6))
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    if draw(st.booleans()):  # a non-contiguous view with the same values
        x = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    return x, (kh, kw, sh, sw, ph, pw, dh, dw), rng


@settings(deadline=None)
@given(cases())
def test_reference_follows_the_contract_formula(case):
    x, (kh, kw, sh, sw, ph, pw, dh, dw), _ = case
    cols = reference.im2col(x, kh, kw, sh, sw, ph, pw, dh, dw)
    N, C, H, W = x.shape
    OH = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    OW = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    assert cols.shape == (N, C, kh, kw, OH, OW) and cols.dtype == x.dtype
    assert cols.flags.c_contiguous
    for n, c, i, j, oh, ow in np.ndindex(cols.shape):
        h, w = oh * sh - ph + i * dh, ow * sw - pw + j * dw
        inside = 0 <= h < H and 0 <= w < W
        assert cols[n, c, i, j, oh, ow] == (x[n, c, h, w] if inside else 0)


@pytest.mark.parametrize("name", FAST)
@settings(deadline=None)
@given(case=cases())
def test_matches_reference(name, case):
    x, geometry, rng = case
    impl = implementation(name, x)
    cols = impl.im2col(x, *geometry)
    expected = reference.im2col(x, *geometry)
    assert cols.dtype == x.dtype and cols.flags.c_contiguous
    np.testing.assert_array_equal(cols, expected)  # a pure copy: bit for bit

    gcols = rng.standard_normal(cols.shape).astype(x.dtype)
    H, W = x.shape[2:]
    gx = impl.col2im(gcols, H, W, *geometry[2:])
    assert gx.dtype == x.dtype and gx.flags.c_contiguous
    expected = reference.col2im(gcols, H, W, *geometry[2:])
    np.testing.assert_allclose(gx, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["reference"] + FAST)
@settings(deadline=None)
@given(case=cases())
def test_col2im_is_the_adjoint_of_im2col(name, case):
    x, geometry, rng = case
    x = x.astype(np.float64)
    impl = implementation(name, x)
    y = rng.standard_normal(impl.im2col(x, *geometry).shape)
    lhs = np.vdot(impl.im2col(x, *geometry), y)                     # <im2col(x), y>
    rhs = np.vdot(x, impl.col2im(y, *x.shape[2:], *geometry[2:]))   # <x, col2im(y)>
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)


def test_layout_makes_conv2d_one_gemm():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2))
    sh, sw, ph, pw, dh, dw = 2, 1, 1, 0, 1, 2
    cols = reference.im2col(x, 3, 2, sh, sw, ph, pw, dh, dw)
    N, C, kh, kw, OH, OW = cols.shape
    y = (w.reshape(4, -1) @ cols.reshape(N, C * kh * kw, OH * OW)).reshape(N, 4, OH, OW)
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    for n, f, oh, ow in np.ndindex(y.shape):  # the convolution sum, written out
        patch = xpad[n, :, oh * sh:oh * sh + dh * kh:dh, ow * sw:ow * sw + dw * kw:dw]
        assert np.isclose(y[n, f, oh, ow], np.sum(w[f] * patch))


def test_col2im_leaves_rows_no_window_reaches_at_zero():
    # H = 5 and H = 6 both give OH = 2 for a 3-tall window, stride 2, no padding: windows
    # start at rows 0 and 2, so row 5 of a 6-row input is read by none.
    cols = np.ones((1, 1, 3, 3, 2, 2))
    for name in ["reference"] + FAST:
        x = implementation(name, cols).col2im(cols, 6, 6, 2, 2, 0, 0, 1, 1)
        assert x.shape == (1, 1, 6, 6) and np.all(x[..., :5, :5] > 0)
        assert np.all(x[..., 5, :] == 0) and np.all(x[..., :, 5] == 0)


@pytest.mark.parametrize("name", ["reference"] + FAST)
def test_bad_arguments_raise_clear_errors(name):
    x = np.zeros((1, 2, 4, 4), np.float32)
    impl = implementation(name, x)
    with pytest.raises(ValueError, match="im2col: x must be 4-D"):
        impl.im2col(x[0], 3, 3, 1, 1, 1, 1, 1, 1)
    with pytest.raises(TypeError, match="float32 or float64, got int64"):
        impl.im2col(x.astype(np.int64), 3, 3, 1, 1, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="does not fit"):
        impl.im2col(x, 5, 3, 1, 1, 0, 0, 1, 1)
    with pytest.raises(ValueError, match="sh must be an integer >= 1, got 0"):
        impl.im2col(x, 3, 3, 0, 1, 1, 1, 1, 1)
    cols = impl.im2col(x, 3, 3, 1, 1, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="cols hold a 4x4 output, but an 8x4 input gives"):
        impl.col2im(cols, 8, 4, 1, 1, 1, 1, 1, 1)


FORK_AFTER_A_PARALLEL_LOOP = """
import os, signal
import numpy as np
from tinyvision.kernels.im2col import _cython

x = np.ones((4, 8, 16, 16))
_cython.im2col(x, 3, 3, 1, 1, 1, 1, 1, 1)  # the parent's OpenMP threads start
pid = os.fork()
if pid == 0:
    signal.alarm(30)  # a hung child ends itself (SIGALRM) instead of lingering
    corner = _cython.col2im(_cython.im2col(x, 3, 3, 1, 1, 1, 1, 1, 1), 16, 16, 1, 1, 1, 1, 1, 1)
    os._exit(0 if corner[0, 0, 0, 0] == 4 else 1)  # 4 windows cover a corner pixel
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_cython_kernels_run_in_a_child_forked_after_a_parallel_loop():
    # GNU OpenMP hangs there unless the child runs serially: see the NOTE in im2col.pyx.
    # The same sys.path as this interpreter, and a working directory with no other tinyvision.
    path = os.pathsep.join(entry or os.getcwd() for entry in sys.path)
    result = subprocess.run([sys.executable, "-c", FORK_AFTER_A_PARALLEL_LOOP],
                            env={**os.environ, "PYTHONPATH": path}, capture_output=True,
                            text=True, timeout=60, cwd=os.path.dirname(__file__))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0", "the forked child hung or computed a wrong value"
