"""Resampling (F.interpolate, nn.Upsample, kernels/resample): the reference against its
equations, every implementation against the reference, the backward as the forward's
transpose, gradchecks through every CPU implementation, PyTorch conformance (forward and
gradients, every mode and option), nn.Upsample, bad input, and CUDA on Numba's simulator.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import tinyvision as tv
import tinyvision.functional as F
import tinyvision.nn as nn
from tinyvision import kernels
from tinyvision.functional.resample import output_size
from tinyvision.kernels.resample import reference
from tinyvision.testing import SIMULATOR_UNAVAILABLE, run_on_cuda_simulator

CPU = ["reference", "cython", "numba"]
FAST = ["cython", "numba"]
# 1.1 and 2.1 hit the copy (out = in) and halving (out = 2·in) shortcuts of nearest's picks.
FACTORS = (st.sampled_from([0.5, 1.0, 1.1, 2.0, 2.1, 3.0])
           | st.floats(0.25, 3.5).map(lambda f: round(f, 3)))


def implementation(name, a):
    with kernels.use(name):
        return kernels.get("resample", a)


@st.composite
def resamplings(draw, ndim=4, modes=("nearest", "nearest-exact", "bilinear")):
    """(x, interpolate's keyword arguments): up and down, size or (non-integer) scale factors,
    1-pixel inputs and outputs, float32/float64."""
    spatial = tuple(draw(st.integers(1, 7)) for _ in range(ndim - 2))
    mode = draw(st.sampled_from(modes))
    kwargs = dict(mode=mode)
    if mode in ("bilinear", "linear"):
        kwargs["align_corners"] = draw(st.sampled_from([None, False, True]))
    if draw(st.booleans()):
        sizes = tuple(draw(st.integers(1, 12)) for _ in spatial)
        kwargs["size"] = sizes if len(set(sizes)) > 1 or draw(st.booleans()) else sizes[0]
    else:
        factors = tuple(draw(FACTORS) for _ in spatial)
        assume(all(int(n * f) >= 1 for n, f in zip(spatial, factors)))
        kwargs["scale_factor"] = factors if len(set(factors)) > 1 else factors[0]
        kwargs["recompute_scale_factor"] = draw(st.sampled_from([None, False, True]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + spatial
    return rng.standard_normal(shape).astype(dtype), kwargs


def kernel_arguments(x, kwargs):
    """(OH, OW), (scale_h, scale_w), align_corners for the kernels, as interpolate derives them."""
    sizes, scales = output_size(x.shape[2:], kwargs.get("size"), kwargs.get("scale_factor"),
                                kwargs.get("recompute_scale_factor"))
    return sizes, scales, bool(kwargs.get("align_corners"))


def matrices(H, W, OH, OW, scales, kind, dtype, align_corners=False):
    """The interpolation matrices A_h (OH, H) and A_w (OW, W): y = A_h x A_wᵀ per plane."""
    def matrix(n_in, n_out, scale):
        A = np.zeros((n_out, n_in))
        if kind == "bilinear":
            i0, i1, l0, l1 = reference.linear_table(n_in, n_out, align_corners, scale, dtype)
            np.add.at(A, (np.arange(n_out), i0), l0)
            np.add.at(A, (np.arange(n_out), i1), l1)
        else:
            A[np.arange(n_out), reference.nearest_table(n_in, n_out, scale,
                                                        kind == "nearest-exact")] = 1
        return A
    return matrix(H, OH, scales[0]), matrix(W, OW, scales[1])


# ---- the reference against its equations --------------------------------------------------
def test_worked_examples_of_the_coordinate_rules():
    # x2, align_corners=False: output 3 reads src = 3.5/2 - 0.5 = 1.25, output 0 src 0.
    i0, i1, l0, l1 = reference.linear_table(4, 8, False, 2.0, np.float64)
    assert (i0[3], i1[3], l0[3], l1[3]) == (1, 2, 0.75, 0.25)
    assert (i0[0], l0[0], l1[0]) == (0, 1.0, 0.0)
    assert (i0[7], i1[7], l1[7]) == (3, 3, 0.25)    # src 3.25: the last pixel pairs with itself
    # align_corners=True, 4 -> 8: step 3/7, output 3 reads 9/7.
    i0, i1, l0, l1 = reference.linear_table(4, 8, True, None, np.float64)
    assert (i0[3], i1[3]) == (1, 2) and np.isclose(l1[3], 9 / 7 - 1)
    # PyTorch's scale rule: in 5, scale 1.5 -> out 7 with step 1/1.5, unless recomputed (5/7).
    assert output_size((5,), None, 1.5, None) == ((7,), (1.5,))
    assert output_size((5,), None, 1.5, True) == ((7,), (None,))
    assert list(reference.nearest_table(5, 7, 1.5)) == [0, 0, 1, 2, 2, 3, 4]
    assert list(reference.nearest_table(5, 7, None)) == [0, 0, 1, 2, 2, 3, 4]
    assert list(reference.nearest_table(5, 7, None, exact=True)) == [0, 1, 1, 2, 3, 3, 4]
    # nearest copies (out = in) or halves (out = 2·in) an axis, whatever the scale factor.
    assert list(reference.nearest_table(5, 5, 1.1)) == [0, 1, 2, 3, 4]     # not [0, 0, 1, 2, 3]
    assert list(reference.nearest_table(3, 6, 2.1)) == [0, 0, 1, 1, 2, 2]  # not [0, 0, 0, 1, ...]
    # float32 coordinates (floorf): 14 -> 46, output 23 reads row 6, not 7.
    assert reference.nearest_table(14, 46, None)[23] == 6
    # bilinear copies an axis of unchanged length, whatever the scale factor.
    x = np.random.default_rng(0).standard_normal((1, 1, 5, 3))
    np.testing.assert_array_equal(reference.bilinear_forward(x, 5, 3, False, 1.1, 1.2), x)


@given(resamplings())
def test_reference_is_the_separable_matrix_product_and_its_transpose(case):
    x, kwargs = case
    x = x.astype(np.float64)
    (OH, OW), scales, align_corners = kernel_arguments(x, kwargs)
    kind = kwargs["mode"]
    A_h, A_w = matrices(*x.shape[2:], OH, OW, scales, kind, x.dtype, align_corners)
    assert np.allclose(A_h.sum(axis=1), 1) and np.allclose(A_w.sum(axis=1), 1)  # weights sum to 1
    gy = np.random.default_rng(1).standard_normal(x.shape[:2] + (OH, OW))
    if kind == "bilinear":
        y = reference.bilinear_forward(x, OH, OW, align_corners, *scales)
        gx = reference.bilinear_backward(gy, *x.shape[2:], align_corners, *scales)
    else:
        exact = kind == "nearest-exact"
        y = reference.nearest_forward(x, OH, OW, *scales, exact=exact)
        gx = reference.nearest_backward(gy, *x.shape[2:], *scales, exact=exact)
    np.testing.assert_allclose(y, A_h @ x @ A_w.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gx, A_h.T @ gy @ A_w, rtol=1e-12, atol=1e-12)


# ---- every implementation against the reference --------------------------------------------
def run_all(impl, x, gy, sizes, scales, align_corners):
    H, W = x.shape[2:]
    return [impl.nearest_forward(x, *sizes, *scales), impl.nearest_backward(gy, H, W, *scales),
            impl.nearest_forward(x, *sizes, *scales, exact=True),
            impl.nearest_backward(gy, H, W, *scales, exact=True),
            impl.bilinear_forward(x, *sizes, align_corners, *scales),
            impl.bilinear_backward(gy, H, W, align_corners, *scales)]


@pytest.mark.parametrize("name", FAST)
@given(case=resamplings(), transposed=st.booleans())
def test_matches_reference(name, case, transposed):
    x, kwargs = case
    sizes, scales, align_corners = kernel_arguments(x, kwargs)
    gy = np.random.default_rng(2).standard_normal(x.shape[:2] + sizes).astype(x.dtype)
    if transposed:  # non-contiguous views with the same values
        x = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
        gy = np.ascontiguousarray(gy.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    ours = run_all(implementation(name, x), x, gy, sizes, scales, align_corners)
    expected = run_all(reference, x, gy, sizes, scales, align_corners)
    for k, (a, b) in enumerate(zip(ours, expected)):
        assert a.dtype == x.dtype and a.shape == b.shape and a.flags.c_contiguous, k
        if k in (0, 2):  # nearest forward is a copy: bit for bit
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=f"output {k}")


@pytest.mark.parametrize("name", CPU)
def test_empty_batch_and_one_pixel(name):
    impl = implementation(name, np.zeros(1))
    x = np.zeros((0, 2, 3, 3), np.float32)
    assert impl.bilinear_forward(x, 5, 4, False).shape == (0, 2, 5, 4)
    assert impl.nearest_backward(np.zeros((0, 2, 5, 4)), 3, 3).shape == (0, 2, 3, 3)
    one = np.full((1, 1, 1, 1), 7.0)
    np.testing.assert_array_equal(impl.bilinear_forward(one, 3, 2, True),
                                  np.full((1, 1, 3, 2), 7.0))
    np.testing.assert_array_equal(impl.bilinear_backward(np.ones((1, 1, 3, 2)), 1, 1, False),
                                  np.full((1, 1, 1, 1), 6.0))
    np.testing.assert_array_equal(impl.nearest_forward(np.arange(6.0).reshape(1, 1, 2, 3), 1, 1),
                                  np.zeros((1, 1, 1, 1)))


@pytest.mark.parametrize("name", CPU)
def test_kernels_check_their_arguments(name):
    impl = implementation(name, np.zeros(1))
    x = np.zeros((1, 2, 4, 4), np.float32)
    with pytest.raises(ValueError, match="bilinear_forward: x must be 4-D"):
        impl.bilinear_forward(x[0], 8, 8, False)
    with pytest.raises(TypeError, match="nearest_forward: x must be float32 or float64, got int64"):
        impl.nearest_forward(x.astype(np.int64), 8, 8)
    with pytest.raises(ValueError, match="integers >= 1, got OW = 0"):
        impl.nearest_forward(x, 8, 0)
    with pytest.raises(ValueError, match="integers >= 1, got W = 0"):
        impl.bilinear_backward(x, 3, 0, True)


# ---- autograd: gradcheck through every CPU implementation ----------------------------------
@pytest.mark.parametrize("name", CPU)
@given(case=resamplings(modes=("nearest", "nearest-exact", "bilinear")) | resamplings(
    ndim=3, modes=("nearest", "nearest-exact", "linear")))
def test_gradcheck(name, case):
    x, kwargs = case
    with kernels.use(name):
        assert tv.gradcheck(lambda t: F.interpolate(t, **kwargs), [x.astype(np.float64)])
        assert kernels.last_used("resample") == name


# ---- PyTorch conformance -------------------------------------------------------------------
def as_2d(kwargs):
    """interpolate's arguments for an (N, C, L) input seen as (N, C, 1, L)."""
    out = dict(kwargs)
    if "size" in kwargs:
        out["size"] = (1, np.ravel(kwargs["size"])[0])
    else:
        out["scale_factor"] = (1.0, np.ravel(kwargs["scale_factor"])[0])
    return out


def check_against_torch(x, kwargs):
    """interpolate(x, **kwargs): values and gradients (random upstream) against PyTorch's."""
    torch = pytest.importorskip("torch", reason="PyTorch not installed: conformance tests "
                                                "need it (pip install torch==2.13.0)")
    import torch.nn.functional as TF
    t = tv.tensor(x, requires_grad=True)
    y = F.interpolate(t, **kwargs)
    tt = torch.tensor(x, requires_grad=True)
    if x.ndim == 3 and kwargs["mode"] != "linear":
        # (N, C, L) nearest follows PyTorch's 2-D picks: see the NOTE in functional/resample.py
        ty = TF.interpolate(tt[:, :, None], **as_2d(kwargs))[:, :, 0]
    else:
        ty = TF.interpolate(tt, **kwargs)
    rtol, atol = (1e-10, 1e-12) if x.dtype == np.float64 else (1e-5, 1e-6)
    assert y.dtype == x.dtype and y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=rtol, atol=atol)
    gy = np.random.default_rng(3).standard_normal(y.shape).astype(x.dtype)
    y.backward(gy)
    ty.backward(torch.from_numpy(gy))
    np.testing.assert_allclose(t.grad, tt.grad.numpy(), rtol=rtol, atol=atol)


@given(case=resamplings() | resamplings(ndim=3, modes=("nearest", "nearest-exact", "linear")))
def test_conforms_to_pytorch(case):
    check_against_torch(*case)


@pytest.mark.parametrize("shape, kwargs, dtype", [
    ((1, 2, 14, 3), dict(size=(46, 5)), np.float32),             # float32 picks: row 6, not 7
    ((1, 2, 26, 39), dict(size=(22, 33)), np.float64),           # float32 picks in float64 too
    ((1, 2, 6, 24), dict(size=(37, 37), mode="nearest-exact"), np.float64),
    ((2, 2, 5, 3), dict(scale_factor=(1.1, 2.1)), np.float64),   # copy and halve shortcuts
    ((2, 2, 5, 3), dict(scale_factor=(1.1, 2.1), mode="bilinear"), np.float32),
    ((1, 1, 31, 16), dict(scale_factor=2.3), np.float64),
    ((1, 1, 16, 20), dict(scale_factor=2.3, mode="nearest-exact"), np.float64),
    ((1, 3, 1, 1), dict(size=(3, 2), mode="bilinear", align_corners=True), np.float32),
    ((1, 3, 7), dict(size=5, mode="linear", align_corners=True), np.float64),
])
def test_conforms_to_pytorch_at_the_corners(shape, kwargs, dtype):
    check_against_torch(np.random.default_rng(0).standard_normal(shape).astype(dtype), kwargs)


def test_nearest_on_3d_input_follows_the_2d_picks():
    # PyTorch's 1-D nearest forward would read rows [0, 0, 1, 2, 3] here (step 1/1.1) while
    # its backward, and its 2-D op, copy: ours copies both ways (functional/resample.py NOTE).
    x = tv.tensor(np.arange(5.0).reshape(1, 1, 5), requires_grad=True)
    y = F.interpolate(x, scale_factor=1.1)
    assert y.data.ravel().tolist() == [0, 1, 2, 3, 4]
    y.sum().backward()
    assert x.grad.ravel().tolist() == [1, 1, 1, 1, 1]


@pytest.mark.parametrize("kwargs", [dict(scale_factor=2), dict(size=(3, 5), mode="bilinear"),
                                    dict(scale_factor=(1.5, 0.5), mode="bilinear",
                                         align_corners=True),
                                    dict(scale_factor=2.5, recompute_scale_factor=True)])
def test_upsample_layer(kwargs):
    torch = pytest.importorskip("torch", reason="PyTorch not installed: conformance tests "
                                                "need it (pip install torch==2.13.0)")
    layer, theirs = nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs)
    assert repr(layer) == repr(theirs) and list(layer.parameters()) == []
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 6))
    np.testing.assert_allclose(layer(x).data, theirs(torch.from_numpy(x)).numpy(), rtol=1e-12)


def test_upsampling_shorthands():
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 4))
    np.testing.assert_array_equal(nn.UpsamplingBilinear2d(scale_factor=2)(x).data,
                                  F.interpolate(x, scale_factor=2.0, mode="bilinear",
                                                align_corners=True).data)
    np.testing.assert_array_equal(nn.UpsamplingNearest2d(size=(5, 7))(x).data,
                                  F.interpolate(x, size=(5, 7)).data)


# ---- bad input -----------------------------------------------------------------------------
X = np.zeros((1, 2, 3, 4), np.float32)
BAD = [
    (X, dict(size=2, scale_factor=2), ValueError, "only one of size or scale_factor"),
    (X, dict(), ValueError, "either size or scale_factor"),
    (X, dict(size=2, align_corners=True), ValueError, "align_corners can only be set with"),
    (X, dict(size=2, mode="bilinear", align_corners=1), TypeError, "True, False or None, got 1"),
    (X, dict(size=(2, 2, 2)), ValueError, r"one entry per spatial dim .* \[3, 4\]"),
    (X, dict(scale_factor=(2, 2, 2)), ValueError, "scale_factor must have one entry"),
    (X, dict(size=2.5), TypeError, "size must be an int or a tuple of ints, got 2.5"),
    (X, dict(scale_factor="2"), TypeError, "scale_factor must be a finite number"),
    (X, dict(scale_factor=float("nan")), TypeError, "scale_factor must be a finite number"),
    (X, dict(size=(2, 2), recompute_scale_factor=True), ValueError, "not meaningful"),
    (X, dict(size=(0, 2)), ValueError, r"output sizes must be >= 1, got \(0, 2\)"),
    (X, dict(scale_factor=0.2), ValueError, r"output sizes must be >= 1, got \(0, 0\)"),
    (X, dict(scale_factor=2, mode="bicubic"), NotImplementedError, "mode must be one of"),
    (X[0], dict(scale_factor=2, mode="bilinear"), NotImplementedError, r"4-D .* \(2, 3, 4\)"),
    (X, dict(scale_factor=2, mode="linear"), NotImplementedError, "needs a 3-D"),
    (X[0, 0], dict(scale_factor=2), NotImplementedError, r"3-D \(N, C, L\) or 4-D"),
    (X.astype(np.int64), dict(scale_factor=2), TypeError, "float32 or float64, got int64"),
    (np.zeros((1, 0, 3, 4)), dict(scale_factor=2), ValueError, "channels and spatial dims >= 1"),
]


@pytest.mark.parametrize("x, kwargs, error, match", BAD)
def test_bad_input_raises_clear_errors(x, kwargs, error, match):
    with pytest.raises(error, match=match):
        F.interpolate(x, **kwargs)


# ---- CUDA, on Numba's simulator ------------------------------------------------------------
CUDA_CHECKS = textwrap.dedent("""
    import sys
    import numpy as np
    import tinyvision as tv
    import tinyvision.functional as F
    from tinyvision import kernels
    from tinyvision.kernels.resample import reference

    rng = np.random.default_rng(0)
    with kernels.use("cuda"):
        # (N, C, H, W), (OH, OW), scales: up, down, non-integer factors, 1-pixel in and out
        for shape, size, scales in [((2, 2, 5, 3), (9, 2), (None, None)),
                                    ((1, 2, 3, 4), (6, 8), (2.0, 2.0)),
                                    ((1, 1, 6, 5), (3, 11), (0.55, 2.3)),
                                    ((1, 1, 1, 1), (3, 1), (None, None))]:
            for dtype in (np.float32, np.float64):
                x = rng.standard_normal(shape).astype(dtype)
                gy = rng.standard_normal(shape[:2] + size).astype(dtype)
                impl = kernels.get("resample", x)
                for exact in (False, True):
                    y = impl.nearest_forward(x, *size, *scales, exact=exact)
                    assert y.dtype == dtype
                    np.testing.assert_array_equal(
                        y, reference.nearest_forward(x, *size, *scales, exact=exact))
                    np.testing.assert_allclose(
                        impl.nearest_backward(gy, *shape[2:], *scales, exact=exact),
                        reference.nearest_backward(gy, *shape[2:], *scales, exact=exact),
                        rtol=1e-5, atol=1e-6)
                for align in (False, True):
                    np.testing.assert_allclose(
                        impl.bilinear_forward(x, *size, align, *scales),
                        reference.bilinear_forward(x, *size, align, *scales), rtol=1e-5, atol=1e-6)
                    gx = impl.bilinear_backward(gy, *shape[2:], align, *scales)
                    assert gx.dtype == dtype
                    np.testing.assert_allclose(
                        gx, reference.bilinear_backward(gy, *shape[2:], align, *scales),
                        rtol=1e-5, atol=1e-6)
        t = tv.tensor(rng.standard_normal((1, 2, 3, 3)), requires_grad=True)
        F.interpolate(t, scale_factor=1.5, mode="bilinear").sum().backward()
        assert kernels.last_used("resample") == "cuda"
        assert np.isclose(t.grad.sum(), 2 * 4 * 4)  # every output's weights sum to 1
    print("cuda resample kernels match the reference")
""")


def test_cuda_kernels_match_reference_on_the_simulator():
    result = run_on_cuda_simulator(CUDA_CHECKS)
    if result.returncode == SIMULATOR_UNAVAILABLE:
        pytest.skip(result.stdout.strip())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cuda resample kernels match the reference" in result.stdout


def test_cuda_kernels_compile_for_a_real_gpu_without_float64_in_float32_kernels():
    from numba import cuda, types
    from numba.cuda.cudadrv.error import NvvmSupportError

    from tinyvision.kernels.resample import cuda as resample_cuda

    index = types.Array(types.int64, 1, "C")
    for dtype in (types.float32, types.float64):
        image, weight = types.Array(dtype, 4, "C"), types.Array(dtype, 1, "C")
        table = (index, index, weight, weight)
        for kernel, signature in [
                (resample_cuda._nearest_forward_kernel, (image, image, index, index)),
                (resample_cuda._nearest_backward_kernel, (image, image) + (index,) * 4),
                (resample_cuda._bilinear_forward_kernel, (image, image) + table * 2),
                (resample_cuda._bilinear_backward_kernel,
                 (image, image) + table * 2 + (index,) * 4)]:
            try:
                ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=(8, 0))
            except NvvmSupportError as error:
                pytest.skip(f"no CUDA toolkit NVVM to compile PTX with: {error}")
            assert ".entry" in ptx
            if dtype == types.float32:  # float64 arithmetic is slow on most GPUs
                assert ".f64" not in ptx, kernel.py_func.__name__


# ---- Cython after fork ---------------------------------------------------------------------
FORK_AFTER_A_PARALLEL_LOOP = """
import os, signal
import numpy as np
from tinyvision.kernels.resample import _cython

x = np.ones((4, 8, 16, 16))
_cython.bilinear_forward(x, 32, 32, False)  # the parent's OpenMP threads start
pid = os.fork()
if pid == 0:
    signal.alarm(30)  # a hung child ends itself (SIGALRM) instead of lingering
    gx = _cython.bilinear_backward(_cython.bilinear_forward(x, 32, 32, False), 16, 16, False)
    os._exit(0 if np.allclose(gx, 4) else 1)  # x2: each input gets 4 outputs' worth
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_cython_kernels_run_in_a_child_forked_after_a_parallel_loop():
    # GNU OpenMP hangs there unless the child runs serially: see the NOTE in resample.pyx.
    path = os.pathsep.join(entry or os.getcwd() for entry in sys.path)
    result = subprocess.run([sys.executable, "-c", FORK_AFTER_A_PARALLEL_LOOP],
                            env={**os.environ, "PYTHONPATH": path}, capture_output=True,
                            text=True, timeout=60, cwd=os.path.dirname(__file__))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0", "the forked child hung or computed a wrong value"
