"""RoI pooling and RoI align kernels: the reference against the contract written out one output
at a time, every CPU implementation against the reference, the CUDA kernels on Numba's
simulator, thread-count independence, and the argument checks.

Hypothesis draws maps (channel counts below, at and past a 16-channel block), boxes partly
or wholly outside the map, tiny, inverted and huge boxes, spatial scales, output sizes,
sampling ratios (-1, 0: adaptive) and aligned; for RoI pooling also ties, -inf and NaN.
The public ops, gradchecks and PyTorch conformance are in tests/ops/test_roi.py.
"""
import math
import re
import textwrap
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from hypothesis import given, strategies as st

from tinyvision import kernels
from tinyvision.kernels import _threads
from tinyvision.kernels.roi import reference
from tinyvision.kernels.roi.reference import FLT_MAX
from tinyvision.testing import SIMULATOR_UNAVAILABLE, run_on_cuda_simulator

CPU = ["reference", "cython", "numba"]
FAST = ["cython", "numba"]


def implementation(name, x):
    with kernels.use(name):
        return kernels.get("roi", x)


def tolerance(dtype):
    return dict(rtol=2e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)


# ---- draws -------------------------------------------------------------------------------------
@st.composite
def cases(draw, channels=st.integers(1, 3), specials=False):
    """(x, rois, (OH, OW), spatial_scale, sampling_ratio, aligned, rng)."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    N, C = draw(st.integers(1, 2)), draw(channels)
    H, W = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((N, C, H, W))
    if specials:
        x = np.round(x * 2) / 2  # ties
        x.flat[rng.integers(0, x.size, size=x.size // 6)] = rng.choice([-np.inf, np.nan])
    scale = draw(st.sampled_from([1.0, 0.5, 0.25, 1 / 3, 2.0]))
    K = draw(st.integers(0, 5))
    size = rng.choice([0.3, 4.0, 40.0], (K, 2)) * rng.uniform(0.5, 1.5, (K, 2))  # tiny to huge
    size[rng.random((K, 2)) < 0.15] *= -1                                  # inverted
    corner = rng.uniform(-8, 12, (K, 2)) / scale                           # partly outside
    rois = np.concatenate([rng.integers(0, N, (K, 1)), corner, corner + size / scale], axis=1)
    output = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    return (x.astype(dtype), rois.astype(dtype), output, scale,
            draw(st.sampled_from([-1, 0, 1, 2, 3])), draw(st.booleans()), rng)


# ---- the reference against the contract, written out one output at a time --------------------
def c_round(v):
    """C's round(), exactly: halves away from zero."""
    return int(Decimal(float(v)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def naive_roi_pool(x, rois, OH, OW, scale):
    """torchvision's loops, one output at a time, in x's dtype."""
    T = x.dtype.type
    N, C, H, W = x.shape
    y, argmax = np.zeros((len(rois), C, OH, OW), x.dtype), np.full((len(rois), C, OH, OW), -1)
    for r, c, oh, ow in np.ndindex(y.shape):
        b = int(rois[r, 0])
        x1, y1, x2, y2 = (c_round(v * T(scale)) for v in rois[r, 1:])
        bin_h, bin_w = T(max(y2 - y1 + 1, 1)) / T(OH), T(max(x2 - x1 + 1, 1)) / T(OW)
        h0 = min(max(math.floor(T(oh) * bin_h) + y1, 0), H)
        h1 = min(max(math.ceil(T(oh + 1) * bin_h) + y1, 0), H)
        w0 = min(max(math.floor(T(ow) * bin_w) + x1, 0), W)
        w1 = min(max(math.ceil(T(ow + 1) * bin_w) + x1, 0), W)
        best = 0.0 if h1 <= h0 or w1 <= w0 else -FLT_MAX
        for h in range(h0, h1):
            for w in range(w0, w1):
                if x[b, c, h, w] > best:
                    best, argmax[r, c, oh, ow] = x[b, c, h, w], h * W + w
        y[r, c, oh, ow] = best
    return y, argmax


def bilinear(plane, v, u):
    """torchvision's bilinear_interpolate at row v, column u, in Python floats."""
    H, W = plane.shape
    if v < -1 or v > H or u < -1 or u > W:
        return 0.0
    v, u = max(v, 0.0), max(u, 0.0)
    y0, x0 = min(int(v), H - 1), min(int(u), W - 1)
    y1, x1 = min(y0 + 1, H - 1), min(x0 + 1, W - 1)
    ly, lx = (v - y0 if y0 < H - 1 else 0.0), (u - x0 if x0 < W - 1 else 0.0)
    return ((1 - ly) * (1 - lx) * plane[y0, x0] + (1 - ly) * lx * plane[y0, x1]
            + ly * (1 - lx) * plane[y1, x0] + ly * lx * plane[y1, x1])


def naive_roi_align(x, rois, OH, OW, scale, sampling_ratio, aligned):
    """The contract's formula, one output at a time, in float64."""
    y = np.zeros((len(rois), x.shape[1], OH, OW))
    for r, c, oh, ow in np.ndindex(y.shape):
        offset = 0.5 if aligned else 0.0
        x1, y1, x2, y2 = (float(v) * scale - offset for v in rois[r, 1:])
        w, h = (x2 - x1, y2 - y1) if aligned else (max(x2 - x1, 1.0), max(y2 - y1, 1.0))
        gh = sampling_ratio if sampling_ratio > 0 else max(math.ceil(h / OH), 0)
        gw = sampling_ratio if sampling_ratio > 0 else max(math.ceil(w / OW), 0)
        plane = x[int(rois[r, 0]), c].astype(np.float64)
        total = sum(bilinear(plane, y1 + (oh + (a + 0.5) / gh) * h / OH,
                             x1 + (ow + (b + 0.5) / gw) * w / OW)
                    for a in range(gh) for b in range(gw))
        y[r, c, oh, ow] = total / max(gh * gw, 1)
    return y


@given(cases(specials=True))
def test_roi_pool_reference_follows_the_contract(case):
    x, rois, (OH, OW), scale, _, _, _ = case
    y, argmax = reference.roi_pool_forward(x, rois, OH, OW, scale)
    expected_y, expected_argmax = naive_roi_pool(x, rois, OH, OW, scale)
    assert y.dtype == x.dtype and argmax.dtype == np.int32 and y.shape == (len(rois),) + y.shape[1:]
    np.testing.assert_array_equal(y, expected_y)
    np.testing.assert_array_equal(argmax, expected_argmax)


@given(cases())
def test_roi_align_reference_follows_the_contract(case):
    x, rois, (OH, OW), scale, sampling_ratio, aligned, _ = case
    # float64 (the naive loop computes in Python floats), one channel, at most three boxes of
    # at most 25 map pixels: the naive loop is slow
    x, rois = x[:, :1].astype(np.float64), rois[:3].astype(np.float64)
    rois[:, 1:] = np.clip(rois[:, 1:] * scale, -10, 15) / scale
    y = reference.roi_align_forward(x, rois, OH, OW, scale, sampling_ratio, aligned)
    assert y.dtype == x.dtype and y.shape == (len(rois), 1, OH, OW)
    expected = naive_roi_align(x, rois, OH, OW, scale, sampling_ratio, aligned)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-13)


def test_roi_pool_rules_worked_out():
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    # C's round sends 0.5 away from zero: the box (0.5, 0.5, 2.5, 2.5) snaps to [1, 3] x [1, 3]
    y, argmax = reference.roi_pool_forward(x, np.array([[0, 0.5, 0.5, 2.5, 2.5]]), 1, 1, 1.0)
    assert y[0, 0, 0, 0] == 18 and argmax[0, 0, 0, 0] == 18
    # a box entirely right of the map: every bin empty, 0, argmax -1
    y, argmax = reference.roi_pool_forward(x, np.array([[0, 7.0, 0, 9, 4]]), 2, 2, 1.0)
    assert np.all(y == 0) and np.all(argmax == -1)
    # a tie keeps the first maximum; -inf and NaN never win (the running max starts at -FLT_MAX)
    x = np.array([[[[1.0, 3.0, 3.0], [np.nan, -np.inf, 0.0]]]])
    for name in CPU:
        impl = implementation(name, x)
        y, argmax = impl.roi_pool_forward(x, np.array([[0, 0, 0, 2, 1.0]]), 1, 1, 1.0)
        assert y[0, 0, 0, 0] == 3 and argmax[0, 0, 0, 0] == 1
        y, argmax = impl.roi_pool_forward(x, np.array([[0, 0, 1, 1, 1.0]]), 1, 1, 1.0)
        assert y[0, 0, 0, 0] == -FLT_MAX and argmax[0, 0, 0, 0] == -1


# ---- every implementation against the reference -------------------------------------------------
@pytest.mark.parametrize("name", FAST)
@given(case=cases(channels=st.sampled_from([1, 3, 16, 19]), specials=True))
def test_roi_pool_matches_reference(name, case):
    x, rois, (OH, OW), scale, _, _, rng = case
    impl = implementation(name, x)
    y, argmax = impl.roi_pool_forward(x, rois, OH, OW, scale)
    expected_y, expected_argmax = reference.roi_pool_forward(x, rois, OH, OW, scale)
    assert y.dtype == x.dtype and argmax.dtype == np.int32 and y.flags.c_contiguous
    np.testing.assert_array_equal(y, expected_y)  # a selection: bit for bit
    np.testing.assert_array_equal(argmax, expected_argmax)
    gy = rng.standard_normal(y.shape).astype(x.dtype)
    args = (gy, rois, argmax, x.shape[0], *x.shape[2:])
    gx = impl.roi_pool_backward(*args)
    assert gx.dtype == x.dtype and gx.shape == x.shape
    np.testing.assert_allclose(gx, reference.roi_pool_backward(*args), **tolerance(x.dtype))


@pytest.mark.parametrize("name", FAST)
@given(case=cases(channels=st.sampled_from([1, 3, 16, 19])))
def test_roi_align_matches_reference(name, case):
    x, rois, (OH, OW), scale, sampling_ratio, aligned, rng = case
    impl = implementation(name, x)
    args = (OH, OW, scale, sampling_ratio, aligned)
    y = impl.roi_align_forward(x, rois, *args)
    assert y.dtype == x.dtype and y.flags.c_contiguous
    np.testing.assert_allclose(y, reference.roi_align_forward(x, rois, *args), **tolerance(x.dtype))
    gy = rng.standard_normal(y.shape).astype(x.dtype)
    args = (gy, rois, x.shape[0], *x.shape[2:], scale, sampling_ratio, aligned)
    gx = impl.roi_align_backward(*args)
    assert gx.dtype == x.dtype and gx.shape == x.shape and gx.flags.c_contiguous
    np.testing.assert_allclose(gx, reference.roi_align_backward(*args), **tolerance(x.dtype))


@pytest.mark.parametrize("name", CPU)
def test_adjoint_non_contiguous_input_and_no_boxes(name):
    """<roi_align(x), gy> = <x, roi_align_backward(gy)>; strided inputs; K = 0."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 7, 9)).transpose(0, 1, 3, 2)  # strided
    rois = np.array([[1, -2.0, 1.5, 6.3, 8.8], [0, 3.1, 2.2, 3.3, 2.0], [1, 0, 0, 40, 30]])
    impl = implementation(name, x)
    y = impl.roi_align_forward(x, rois, 3, 2, 0.5, -1, True)
    gy = rng.standard_normal(y.shape)
    gx = impl.roi_align_backward(gy, rois, 2, 9, 7, 0.5, -1, True)
    np.testing.assert_allclose((y * gy).sum(), (x * gx).sum(), rtol=1e-12)
    none = np.zeros((0, 5))
    assert impl.roi_align_forward(x, none, 3, 2, 1.0, 2, False).shape == (0, 5, 3, 2)
    assert impl.roi_pool_forward(x, none, 3, 2, 1.0)[0].shape == (0, 5, 3, 2)
    assert not impl.roi_align_backward(np.zeros((0, 5, 3, 2)), none, 2, 9, 7, 1.0, 2, False).any()


@pytest.mark.parametrize("name", FAST)
def test_same_bits_on_one_thread_and_two(name, monkeypatch):
    """Threads own whole channel blocks: the sums never depend on the thread count."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 40, 12, 12)).astype(np.float32)
    rois = np.concatenate([rng.integers(0, 2, (30, 1)), rng.uniform(0, 6, (30, 2)),
                           rng.uniform(6, 12, (30, 2))], axis=1).astype(np.float32)
    impl = implementation(name, x)
    results = []
    for threads in ("1", "2"):
        monkeypatch.setenv("OMP_NUM_THREADS", threads)
        assert _threads.num_threads() == int(threads)
        y = impl.roi_align_forward(x, rois, 4, 4, 1.0, 2, False)
        gx = impl.roi_align_backward(y, rois, 2, 12, 12, 1.0, 2, False)
        p, argmax = impl.roi_pool_forward(x, rois, 4, 4, 1.0)
        results.append((y, gx, p, impl.roi_pool_backward(p, rois, argmax, 2, 12, 12)))
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


# ---- argument checks ---------------------------------------------------------------------------
X = np.zeros((2, 3, 5, 5))
ROIS = np.array([[0, 0, 0, 4, 4.0]])
G = np.zeros((1, 3, 2, 2))
BAD = {  # name: (call on an implementation, error, patterns its message must contain)
    "3-D x": (lambda k: k.roi_align_forward(X[0], ROIS, 2, 2, 1.0, 2, False),
              ValueError, ["roi_align_forward", "4-D", r"\(3, 5, 5\)"]),
    "int x": (lambda k: k.roi_align_forward(X.astype(np.int64), ROIS, 2, 2, 1.0, 2, False),
              TypeError, ["float32 or float64", "int64"]),
    "4 columns": (lambda k: k.roi_align_forward(X, ROIS[:, 1:], 2, 2, 1.0, 2, False),
                  ValueError, ["rois", r"\(R, 5\)", r"\(1, 4\)"]),
    "dtypes": (lambda k: k.roi_align_forward(X, ROIS.astype(np.float32), 2, 2, 1.0, 2, False),
               TypeError, ["rois", "float64", "float32"]),
    "batch index": (lambda k: k.roi_align_forward(X, ROIS + [[2, 0, 0, 0, 0]], 2, 2, 1.0, 2, False),
                    ValueError, ["batch indices", r"\[0, 2\)", "2.0"]),
    "fraction": (lambda k: k.roi_pool_forward(X, ROIS + [[0.5, 0, 0, 0, 0]], 2, 2, 1.0),
                 ValueError, ["roi_pool_forward", "whole numbers", "0.5"]),
    "NaN": (lambda k: k.roi_pool_forward(X, ROIS * [[1, 1, 1, 1, np.nan]], 2, 2, 1.0),
            ValueError, ["finite", "NaN"]),
    "huge": (lambda k: k.roi_align_forward(X, ROIS * 1e30, 2, 2, 1.0, 2, False),
             ValueError, ["16777216"]),
    "output size": (lambda k: k.roi_align_forward(X, ROIS, 0, 2, 1.0, 2, False),
                    ValueError, ["output size", r"\(0, 2\)"]),
    "gy rows": (lambda k: k.roi_align_backward(np.zeros((2, 3, 2, 2)), ROIS, 2, 5, 5, 1.0, 2, 0),
                ValueError, ["one row per RoI", r"\(2, 3, 2, 2\)"]),
    "argmax range": (lambda k: k.roi_pool_backward(G, ROIS, np.full(G.shape, 25, np.int32), 2, 5,
                                                   5),
                     ValueError, ["argmax", r"\[0, 25\)", "25"]),
    "argmax dtype": (lambda k: k.roi_pool_backward(G, ROIS, np.zeros(G.shape, np.int64), 2, 5, 5),
                     ValueError, ["argmax", "int32"]),
    "input size": (lambda k: k.roi_align_backward(G, ROIS, 0, 5, 5, 1.0, 2, False),
                   ValueError, ["input size", r"\(0, 5, 5\)"]),
}


@pytest.mark.parametrize("name", CPU)
@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_arguments_are_refused_before_any_loop_runs(name, case):
    call, error, patterns = BAD[case]
    with pytest.raises(error) as info:
        call(implementation(name, X))
    for pattern in patterns:
        assert re.search(pattern, str(info.value)), (pattern, str(info.value))


def test_registry_knows_roi_and_its_cpu_implementations_load():
    status = kernels.status()["roi"]
    assert status["reference"] == status["cython"] == status["numba"] == "ok"
    implementation("numba", X).roi_align_forward(X, ROIS, 2, 2, 1.0, 2, False)
    assert kernels.last_used("roi") == "numba"


# ---- CUDA: the simulator, and PTX for a real GPU ------------------------------------------------
CUDA_CHECKS = textwrap.dedent("""
    import numpy as np
    from tinyvision import kernels
    from tinyvision.kernels.roi import reference

    rng = np.random.default_rng(0)
    with kernels.use("cuda"):
        impl = kernels.get("roi", np.zeros(1))
    for dtype in (np.float32, np.float64):
        tol = dict(rtol=2e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
        x = rng.standard_normal((2, 2, 5, 4)).astype(dtype)
        x[0, 1, 2] = 0.5  # a tie in a bin
        rois = np.array([[0, -1.5, 0.2, 3.7, 4.9], [1, 1, 1, 1.2, 1.1], [1, 3, 2, -1, 0],
                         [0, 2, -3, 30, 6], [1, 6, 7, 9, 9]], dtype)
        for scale, sampling_ratio, aligned in [(1.0, -1, False), (0.5, 2, True), (1.0, 0, True)]:
            args = (2, 3, scale, sampling_ratio, aligned)
            y = impl.roi_align_forward(x, rois, *args)
            assert y.dtype == dtype
            np.testing.assert_allclose(y, reference.roi_align_forward(x, rois, *args), **tol)
            gy = rng.standard_normal(y.shape).astype(dtype)
            args = (gy, rois, 2, 5, 4, scale, sampling_ratio, aligned)
            np.testing.assert_allclose(impl.roi_align_backward(*args),
                                       reference.roi_align_backward(*args), **tol)
            y, argmax = impl.roi_pool_forward(x, rois, 2, 3, scale)
            expected_y, expected_argmax = reference.roi_pool_forward(x, rois, 2, 3, scale)
            np.testing.assert_array_equal(y, expected_y)
            np.testing.assert_array_equal(argmax, expected_argmax)
            args = (gy, rois, argmax, 2, 5, 4)
            np.testing.assert_allclose(impl.roi_pool_backward(*args),
                                       reference.roi_pool_backward(*args), **tol)
    assert kernels.last_used("roi") == "cuda"
    print("roi cuda kernels match the reference")
""")


def test_cuda_kernels_match_the_reference_on_the_simulator():
    result = run_on_cuda_simulator(CUDA_CHECKS)
    if result.returncode == SIMULATOR_UNAVAILABLE:
        pytest.skip(result.stdout.strip())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "roi cuda kernels match the reference" in result.stdout


def test_cuda_kernels_compile_for_a_real_gpu_without_float64_in_float32_kernels(monkeypatch):
    from types import SimpleNamespace

    from numba import cuda, types
    from numba.cuda import dispatcher
    from numba.cuda.cudadrv.error import NvvmSupportError

    from tinyvision.kernels.roi import cuda as roi_cuda

    # Device functions are compiled for the current GPU's compute capability, which Numba
    # asks the driver for; without a GPU, name the one compile_ptx targets.
    monkeypatch.setattr(dispatcher, "get_current_device",
                        lambda: SimpleNamespace(compute_capability=(8, 0)))
    for dtype in (types.float32, types.float64):
        maps, rois = types.Array(dtype, 4, "C"), types.Array(dtype, 2, "C")
        argmax, flat = types.Array(types.int32, 4, "C"), types.Array(dtype, 3, "C")
        align = (dtype, types.int64, types.boolean)
        for kernel, signature in [
                (roi_cuda._roi_pool_forward_kernel, (maps, rois, maps, argmax, dtype)),
                (roi_cuda._roi_pool_backward_kernel, (maps, rois, argmax, flat)),
                (roi_cuda._roi_align_forward_kernel, (maps, rois, maps) + align),
                (roi_cuda._roi_align_backward_kernel, (maps, rois, maps) + align)]:
            try:
                ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=(8, 0))
            except NvvmSupportError as error:
                pytest.skip(f"no CUDA toolkit NVVM to compile PTX with: {error}")
            assert ".entry" in ptx
            if dtype == types.float32:
                assert ".f64" not in ptx, kernel.py_func.__name__
