"""scatter_add: every CPU implementation against the reference (np.add.at), repeated and
negative indices, in-place update, and the argument checks.

The CUDA implementation is checked in test_cuda_simulator.py.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinyvision import kernels
from tinyvision.kernels.scatter_add import reference

IMPLEMENTATIONS = ["reference", "cython", "numba"]


def implementation(name, out):
    with kernels.use(name):
        return kernels.get("scatter_add", out)


@st.composite
def cases(draw):
    R, F, M = draw(st.integers(1, 20)), draw(st.integers(1, 9)), draw(st.integers(0, 60))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    index = rng.integers(-R, R, M)  # negative ones count from the end; repeats are likely
    src = rng.standard_normal((M, F)).astype(dtype)
    if draw(st.booleans()):  # a non-contiguous view with the same values
        src = np.asfortranarray(src)
    return rng.standard_normal((R, F)).astype(dtype), index, src


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
@settings(deadline=None)
@given(case=cases())
def test_matches_np_add_at(name, case):
    out, index, src = case
    expected = out.copy()
    np.add.at(expected, index, src)
    result = implementation(name, out).scatter_add(out, index, src)
    assert result is out  # updated in place
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
def test_repeated_indices_accumulate(name):
    out = np.zeros((3, 2))
    index = np.array([1, 1, -2, 0, 1])  # row 1 four times (-2 is row 1 of 3)
    src = np.arange(10.0).reshape(5, 2)
    implementation(name, out).scatter_add(out, index, src)
    np.testing.assert_array_equal(out, [[6, 7], [0 + 2 + 4 + 8, 1 + 3 + 5 + 9], [0, 0]])


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
def test_bad_arguments_raise_clear_errors(name):
    out, src = np.zeros((4, 3), np.float32), np.ones((2, 3), np.float32)
    impl = implementation(name, out)
    with pytest.raises(IndexError, match=r"must lie in \[-4, 4\).*from 0 to 4"):
        impl.scatter_add(out, np.array([0, 4]), src)
    with pytest.raises(IndexError, match="from -5 to 0"):
        impl.scatter_add(out, np.array([-5, 0]), src)
    with pytest.raises(ValueError, match="index must be a 1-D int64 array"):
        impl.scatter_add(out, np.array([0, 1], np.int32), src)
    with pytest.raises(ValueError, match=r"src must have shape \(2, 3\) and dtype float32"):
        impl.scatter_add(out, np.array([0, 1]), src.astype(np.float64))
    with pytest.raises(ValueError, match="out must be a C-contiguous 2-D float32/float64"):
        impl.scatter_add(np.asfortranarray(np.zeros((4, 3))), np.array([0, 1]), src)
    assert not out.any()  # nothing was written by the failed calls
