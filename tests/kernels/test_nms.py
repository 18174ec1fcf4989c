"""nms kernels: every implementation against reference.py (hypothesis draws and a table of
edge cases: empty input, one box, tied scores, IoU exactly at the threshold, empty boxes,
the float32 threshold), the contract's checks, and the CUDA kernels on Numba's simulator
and compiled for a real GPU.
"""
import textwrap

import numpy as np
import pytest
from hypothesis import given, strategies as st

from tinyvision import kernels
from tinyvision.kernels.nms import candidates, reference
from tinyvision.testing import SIMULATOR_UNAVAILABLE, run_on_cuda_simulator

IMPLEMENTATIONS = ["reference", "cython", "numba"]


def implementation(name, boxes):
    with kernels.use(name):
        return kernels.get("nms", boxes)


@st.composite
def box_sets(draw, max_boxes=60):
    """(boxes, scores, idxs): clustered, or on a coarse grid where exact ties are common."""
    N = draw(st.integers(0, max_boxes))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        boxes, scores = reference.clustered_boxes(N, rng, dtype, image_size=300.0)
    else:  # integer corners in a small image: equal IoUs, duplicates, empty boxes
        corners = rng.integers(0, 6, (N, 2, 2))
        boxes = np.concatenate([corners.min(axis=1), corners.max(axis=1)], 1).astype(dtype)
        scores = rng.integers(0, 4, N).astype(dtype)  # many equal scores
    idxs = rng.integers(0, draw(st.integers(1, 4)), N)
    return boxes, scores, idxs


thresholds = st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0]) | st.floats(0, 1)


@pytest.mark.parametrize("name", IMPLEMENTATIONS[1:])
@given(case=box_sets(), iou_threshold=thresholds)
def test_matches_the_reference(name, case, iou_threshold):
    boxes, scores, idxs = case
    impl = implementation(name, boxes)
    keep = impl.nms(boxes, scores, iou_threshold)
    assert keep.dtype == np.int64
    np.testing.assert_array_equal(keep, reference.nms(boxes, scores, iou_threshold))
    np.testing.assert_array_equal(impl.batched_nms(boxes, scores, idxs, iou_threshold),
                                  reference.batched_nms(boxes, scores, idxs, iou_threshold))


@pytest.mark.parametrize("name", IMPLEMENTATIONS[1:])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_the_reference_on_the_benchmark_boxes(name, dtype):
    boxes, scores = reference.clustered_boxes(3000, np.random.default_rng(1), dtype)
    idxs = np.random.default_rng(2).integers(0, 20, 3000)
    impl = implementation(name, boxes)
    expected = reference.nms(boxes, scores, 0.5)
    assert 600 < expected.size < 1200  # about 30% kept: the case the benchmark measures
    np.testing.assert_array_equal(impl.nms(boxes, scores, 0.5), expected)
    np.testing.assert_array_equal(impl.batched_nms(boxes, scores, idxs, 0.5),
                                  reference.batched_nms(boxes, scores, idxs, 0.5))


# (boxes, scores, iou_threshold, dtype, expected keep) -- each a rule of the contract
EDGES = {
    "empty": ([], [], 0.5, np.float32, []),
    "one box": ([[0, 0, 1, 1]], [0.3], 0.5, np.float32, [0]),
    "highest score first": ([[0, 0, 1, 1], [5, 5, 6, 6], [9, 9, 10, 10]], [0.1, 0.9, 0.5], 0.5,
                            np.float32, [1, 2, 0]),
    "equal scores: lower index first, and it wins": (
        [[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], [0.5, 0.7, 0.7], 0.5, np.float64,
        [1]),
    # IoU(0, 1) = 50 / 100 = 0.5 exactly: suppression is strict, both stay
    "IoU equal to the threshold survives": ([[0, 0, 10, 10], [0, 0, 5, 10]], [0.9, 0.8], 0.5,
                                            np.float32, [0, 1]),
    "IoU just above the threshold is suppressed": (
        [[0, 0, 10, 10], [0, 0, 5.001, 10]], [0.9, 0.8], 0.5, np.float64, [0]),
    # Two boxes of zero area: IoU = 0/0 = NaN, not > threshold: both stay (torchvision's rule)
    "empty boxes do not suppress each other": ([[3, 3, 3, 3], [3, 3, 3, 3]], [0.9, 0.8], 0.5,
                                               np.float64, [0, 1]),
    # IoU = 30/100: in float32 that is 0.30000001, above the double 0.3 (suppressed, as in
    # torchvision, which compares the float IoU as a double); in float64 it equals 0.3.
    "float32 IoU vs a double threshold": ([[0, 0, 10, 10], [0, 0, 3, 10]], [0.9, 0.8], 0.3,
                                          np.float32, [0]),
    "float64 IoU equal to 0.3": ([[0, 0, 10, 10], [0, 0, 3, 10]], [0.9, 0.8], 0.3, np.float64,
                                 [0, 1]),
    "a suppressed box suppresses nothing": (  # 1 overlaps 0 and 2, 0 and 2 do not overlap
        [[0, 0, 10, 10], [4, 0, 14, 10], [8, 0, 18, 10]], [0.9, 0.8, 0.7], 0.3, np.float32,
        [0, 2]),
    "threshold 0: any overlap suppresses, touching does not": (
        [[0, 0, 2, 2], [1, 1, 3, 3], [2, 0, 4, 2]], [0.9, 0.8, 0.7], 0.0, np.float32, [0, 2]),
}


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
@pytest.mark.parametrize("case", EDGES, ids=list(EDGES))
def test_edge_cases(name, case):
    boxes, scores, iou_threshold, dtype, expected = EDGES[case]
    boxes = np.array(boxes, dtype).reshape(-1, 4)
    scores = np.array(scores, np.float32)
    keep = implementation(name, boxes).nms(boxes, scores, iou_threshold)
    assert keep.dtype == np.int64
    np.testing.assert_array_equal(keep, expected)


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
def test_batched_categories_never_suppress_each_other(name):
    boxes = np.array([[0, 0, 10, 10]] * 4 + [[20, 20, 30, 30]], np.float32)
    scores = np.array([0.5, 0.9, 0.7, 0.9, 0.1], np.float32)
    idxs = np.array([2, 0, 2, 1, 0])
    keep = implementation(name, boxes).batched_nms(boxes, scores, idxs, 0.5)
    # best of each category, by score; 1 and 3 tie at 0.9: lower index first
    np.testing.assert_array_equal(keep, [1, 3, 2, 4])


def test_the_float32_threshold_is_the_largest_float_not_above_the_double():
    for threshold in [0.3, 0.5, 0.7, 1 / 3, 0.1, 0.0, 1.0, 1e-30, 1e300]:
        t = np.float32(candidates.threshold_in(np.float32, threshold))
        with np.errstate(over="ignore"):  # the float after the largest is inf
            assert float(t) <= threshold < float(np.nextafter(t, np.float32(np.inf)))
    assert candidates.threshold_in(np.float64, 0.3) == 0.3


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
def test_contract_checks(name):
    impl = implementation(name, np.zeros((1, 4)))
    with pytest.raises(ValueError, match=r"nms: boxes must be \(N, 4\) float32 or float64, got "
                                         r"shape \(2, 3\), dtype float64"):
        impl.nms(np.zeros((2, 3)), np.zeros(2), 0.5)
    with pytest.raises(ValueError, match=r"nms: scores must be \(2,\) float32 or float64"):
        impl.nms(np.zeros((2, 4)), np.zeros(3), 0.5)
    with pytest.raises(ValueError, match=r"batched_nms: idxs must be \(2,\) int64"):
        impl.batched_nms(np.zeros((2, 4)), np.zeros(2), np.zeros(2, np.int32), 0.5)


SIMULATOR_CHECKS = textwrap.dedent("""
    import numpy as np
    from tinyvision import kernels
    from tinyvision.kernels.nms import reference

    rng = np.random.default_rng(0)
    with kernels.use("cuda"):
        # 0 boxes, one partial tile, and two tiles (the diagonal and the off-diagonal block)
        for n, dtype in [(0, np.float32), (7, np.float64), (70, np.float32)]:
            boxes, scores = reference.clustered_boxes(n, rng, dtype, image_size=200.0)
            scores[::3] = 0.5  # ties
            idxs = rng.integers(0, 3, n)
            impl = kernels.get("nms", boxes)
            keep = impl.nms(boxes, scores, 0.5)
            assert keep.dtype == np.int64
            np.testing.assert_array_equal(keep, reference.nms(boxes, scores, 0.5))
            np.testing.assert_array_equal(impl.batched_nms(boxes, scores, idxs, 0.3),
                                          reference.batched_nms(boxes, scores, idxs, 0.3))
        edge = np.array([[0, 0, 10, 10], [0, 0, 3, 10], [3, 3, 3, 3], [3, 3, 3, 3]], np.float32)
        np.testing.assert_array_equal(impl.nms(edge, np.array([4, 3, 2, 1.]), 0.3), [0, 2, 3])
    assert kernels.last_used("nms") == "cuda"
    print("nms cuda matches the reference")
""")


def test_cuda_matches_the_reference_on_the_simulator():
    result = run_on_cuda_simulator(SIMULATOR_CHECKS)
    if result.returncode == SIMULATOR_UNAVAILABLE:
        pytest.skip(result.stdout.strip())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nms cuda matches the reference" in result.stdout


def test_cuda_kernels_compile_for_a_real_gpu_with_exact_products():
    from numba import cuda, types
    from numba.cuda.cudadrv.error import NvvmSupportError

    from tinyvision.kernels.nms import cuda as nms_cuda

    for dtype in (types.float32, types.float64):
        kernel = nms_cuda._MASK_KERNELS[np.dtype(str(dtype))]
        signature = (types.Array(dtype, 2, "C"), types.Array(types.int64, 1, "C"), dtype,
                     types.Array(types.uint64, 2, "C"))
        try:
            ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=(8, 0))
        except NvvmSupportError as error:
            pytest.skip(f"no CUDA toolkit NVVM to compile PTX with: {error}")
        suffix = "f32" if dtype == types.float32 else "f64"
        assert f"mul.rn.{suffix}" in ptx and f"div.rn.{suffix}" in ptx  # rounded as the CPU
        assert "fma" not in ptx
        if dtype == types.float32:
            assert ".f64" not in ptx
    sweep = (types.Array(types.uint64, 2, "C"), types.Array(types.uint64, 1, "C"),
             types.Array(types.uint8, 1, "C"))
    ptx, _ = cuda.compile_ptx(nms_cuda._sweep_kernel.py_func, sweep, cc=(8, 0))
    assert "bar.sync" in ptx
