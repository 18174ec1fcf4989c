"""felzenszwalb kernels: every implementation against reference.py (hypothesis draws with
many tied weights, and real ShapesScenes images), the contract's rules on cases worked by
hand, the shared NumPy steps (smoothing against scipy, the grid graph against a loop over
pixels), the argument checks, and the registry's answer for an op with no CUDA form.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from tinyvision import kernels
from tinyvision.data import ShapesScenes
from tinyvision.kernels.felzenszwalb import numba_cpu, reference

IMPLEMENTATIONS = ["reference", "cython", "numba"]


def implementation(name, image):
    with kernels.use(name):
        return kernels.get("felzenszwalb", image)


@st.composite
def images(draw):
    """(C, H, W) images: smooth noise, or a few grey levels (many exactly equal weights)."""
    C, H, W = draw(st.integers(1, 3)), draw(st.integers(1, 12)), draw(st.integers(1, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        image = rng.random((C, H, W))
    else:
        image = rng.integers(0, draw(st.integers(1, 4)), (C, H, W)) / 3
    return image.astype(draw(st.sampled_from([np.float32, np.float64])))


params = st.tuples(st.sampled_from([0.0, 0.05, 0.3, 1.0, 5.0]),   # k
                   st.sampled_from([0.0, 0.5, 0.8, 1.5]),          # sigma
                   st.sampled_from([0, 1, 3, 10]))                 # min_size


@pytest.mark.parametrize("name", IMPLEMENTATIONS[1:])
@given(image=images(), args=params)
def test_matches_the_reference(name, image, args):
    labels = implementation(name, image).felzenszwalb(image, *args)
    assert labels.dtype == np.int64 and labels.shape == image.shape[1:]
    np.testing.assert_array_equal(labels, reference.felzenszwalb(image, *args))


@pytest.mark.parametrize("name", IMPLEMENTATIONS[1:])
def test_matches_the_reference_on_shapes_scenes(name):
    data = ShapesScenes("test", n=2)
    for i, (k, sigma, min_size) in enumerate([(100, 0.8, 10), (300, 0.5, 25)]):
        image = data[i][0]
        expected = reference.felzenszwalb(image, k / 255, sigma, min_size)
        assert 5 < expected.max() + 1 < 500  # a real segmentation, not one segment per pixel
        np.testing.assert_array_equal(
            implementation(name, image).felzenszwalb(image, k / 255, sigma, min_size), expected)


def connected_parts(labels):
    """Number of 8-connected parts of each segment, by repeated min over the neighbours."""
    H, W = labels.shape
    ids = np.arange(H * W, dtype=np.int64).reshape(H, W)
    big = H * W
    while True:
        padded = np.pad(ids, 1, constant_values=big)
        same = np.pad(labels, 1, constant_values=-1)
        best = ids.copy()
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                neighbour = padded[1 + dy:1 + dy + H, 1 + dx:1 + dx + W]
                mine = same[1 + dy:1 + dy + H, 1 + dx:1 + dx + W] == labels
                best = np.minimum(best, np.where(mine, neighbour, big))
        if (best == ids).all():
            return np.bincount(labels[ids == np.arange(H * W).reshape(H, W)].ravel())
        ids = best


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
@given(image=images(), args=params)
def test_segments_are_connected_numbered_in_raster_order_and_not_too_small(name, image, args):
    k, sigma, min_size = args
    labels = implementation(name, image).felzenszwalb(image, k, sigma, min_size)
    flat = labels.ravel()
    _, first = np.unique(flat, return_index=True)
    np.testing.assert_array_equal(flat[np.sort(first)], np.arange(flat.max() + 1))
    assert (connected_parts(labels) == 1).all()
    if labels.size >= min_size:
        assert np.bincount(flat).min() >= min_size


def two_halves(W=6):
    image = np.zeros((3, 4, W))
    image[0, :, W // 2:] = 1.0
    return image


# (image, k, sigma, min_size, expected labels) -- each a rule of the contract
EDGES = {
    "a constant image is one segment, even for k = 0 (w = 0 <= Int + 0)": (
        np.full((3, 5, 4), 0.3), 0.0, 0.8, 0, np.zeros((5, 4))),
    "k = 0 and distinct colours: every pixel alone": (
        np.arange(12.0).reshape(1, 3, 4) ** 1.5, 0.0, 0.0, 0, np.arange(12).reshape(3, 4)),
    "a strong edge splits, numbered left to right": (
        two_halves(), 0.5, 0.0, 0, np.repeat([[0, 0, 0, 1, 1, 1]], 4, axis=0)),
    "large k merges across it": (two_halves(), 100.0, 0.0, 0, np.zeros((4, 6))),
    "min_size merges the halves (12 pixels each) when it is 13": (
        two_halves(), 0.5, 0.0, 13, np.zeros((4, 6))),
    "one pixel": (np.ones((2, 1, 1)), 1.0, 0.8, 5, np.zeros((1, 1))),
}


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
@pytest.mark.parametrize("case", list(EDGES))
def test_edge_cases(name, case):
    image, k, sigma, min_size, expected = EDGES[case]
    labels = implementation(name, image).felzenszwalb(image, k, sigma, min_size)
    np.testing.assert_array_equal(labels, expected.astype(np.int64))


def test_the_threshold_is_inclusive():
    """Two pixels at distance exactly k / 1 merge (w <= MInt), and not one ulp beyond it."""
    image = np.array([[[0.0, 0.5]]], np.float32)
    for name in IMPLEMENTATIONS:
        impl = implementation(name, image)
        assert impl.felzenszwalb(image, 0.5, 0.0, 0).max() == 0
        assert impl.felzenszwalb(image, np.nextafter(0.5, 0.0), 0.0, 0).max() == 1


def test_gaussian_smooth_matches_scipy():
    ndimage = pytest.importorskip("scipy.ndimage", reason="scipy is the oracle for the smoothing")
    rng = np.random.default_rng(0)
    for shape in [(3, 5, 7), (1, 1, 1), (2, 2, 9), (3, 40, 33)]:
        x = rng.random(shape)
        for sigma in (0.5, 0.8, 1.7, 3.0):
            np.testing.assert_allclose(reference.gaussian_smooth(x, sigma),
                                       ndimage.gaussian_filter(x, (0, sigma, sigma)),
                                       rtol=0, atol=1e-14)
    np.testing.assert_array_equal(reference.gaussian_smooth(x, 0.0), x)


@pytest.mark.parametrize("H, W", [(1, 1), (1, 5), (4, 1), (3, 4)])
def test_grid_graph_lists_each_pair_of_neighbours_once_in_its_order(H, W):
    image = np.random.default_rng(1).random((2, H, W))
    weights, a, b = reference.grid_graph(image)
    expected = []
    for dy, dx in [(0, 1), (1, 0), (1, 1), (-1, 1)]:  # right, down, down-right, up-right
        for y in range(H):
            for x in range(W):
                if 0 <= y + dy < H and 0 <= x + dx < W:
                    expected.append((y * W + x, (y + dy) * W + x + dx))
    assert len(expected) == 4 * H * W - 3 * (H + W) + 2
    np.testing.assert_array_equal(np.stack([a, b], 1).reshape(-1, 2),
                                  np.array(expected).reshape(-1, 2))
    flat = image.reshape(2, -1).astype(np.float32)
    assert weights.dtype == np.float32
    np.testing.assert_allclose(weights, np.sqrt(((flat[:, a] - flat[:, b]) ** 2).sum(0)), rtol=1e-6)


def test_the_native_sort_is_stable_and_keeps_each_edge_with_its_weight():
    H, W = 7, 5
    _, a, b = reference.grid_graph(np.zeros((1, H, W)))
    direction = np.select([b - a == 1, b - a == W, b - a == W + 1], [0, 1, 2], 3)
    rng = np.random.default_rng(2)
    tied = rng.integers(0, 5, a.size).astype(np.float32) / 4             # ties everywhere
    extremes = tied.copy()
    extremes[:6] = [0.0, 3e38, 1e-45, 0.0, 1.0, 1e-45]
    for weights in [rng.random(a.size).astype(np.float32), tied, extremes]:
        order = np.argsort(weights, kind="stable")
        sorted_weights, edges = numba_cpu._sorted_edges(weights, H, W)
        np.testing.assert_array_equal(sorted_weights, weights[order])
        np.testing.assert_array_equal(edges, a[order] * 4 + direction[order])


BAD = [
    (np.zeros((4, 4)), 1.0, 0.8, 5, "image must be a \\(C, H, W\\) float32 or float64"),
    (np.zeros((3, 4, 4), np.int64), 1.0, 0.8, 5, "float32 or float64"),
    (np.zeros((3, 0, 4)), 1.0, 0.8, 5, "C, H, W >= 1"),
    (np.full((3, 4, 4), np.nan), 1.0, 0.8, 5, "NaN or inf"),
    (np.zeros((3, 4, 4)), -1.0, 0.8, 5, "k must be a finite number >= 0, got -1.0"),
    (np.zeros((3, 4, 4)), 1.0, float("inf"), 5, "sigma must be a finite number >= 0"),
    (np.zeros((3, 4, 4)), 1.0, 0.8, 2.5, "min_size must be an int >= 0, got 2.5"),
]


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
@pytest.mark.parametrize("image, k, sigma, min_size, message", BAD)
def test_bad_arguments_name_the_argument(name, image, k, sigma, min_size, message):
    impl = kernels._load("felzenszwalb", name)
    with pytest.raises(ValueError, match="felzenszwalb: .*" + message):
        impl.felzenszwalb(image, k, sigma, min_size)


class FakeGpuArray:
    __cuda_array_interface__ = {}


def test_the_registry_reports_no_cuda_form_and_refuses_gpu_arrays():
    why = "ImportError: felzenszwalb has no CUDA implementation"
    assert kernels.status()["felzenszwalb"]["cuda"].startswith(why)
    assert kernels.status()["felzenszwalb"]["cython"] == "ok"
    with pytest.raises(kernels.KernelUnavailableError, match="'cuda' implementation of "
                                                             "'felzenszwalb' is not available"):
        kernels.get("felzenszwalb", FakeGpuArray())
