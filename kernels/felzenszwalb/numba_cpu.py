"""Felzenszwalb-Huttenlocher segmentation with Numba, compiled on first call (cached on disk).

The contract is in reference.py, and so are the two NumPy steps every implementation shares
(Gaussian smoothing and the grid graph's weights, so all sort the very same float32s).  The
native part is felzenszwalb.pyx's, line for line (see its docstring): the edges radix-sorted
as (weight bits, a * 4 + direction), the union-find sweep, the min_size sweep, and labels
numbered in raster order.  Serial: each merge decides the next.
"""
import numpy as np
from numba import njit

from .reference import check_arguments, gaussian_smooth, grid_weights


@njit(cache=True)
def _sorted_edges(weights, H, W):
    """(weights, edges) sorted by weight, stable: edge = a * 4 + d (pixel a, direction d)."""
    n = weights.size
    keys, spare_keys = weights.view(np.uint32).copy(), np.empty(n, np.uint32)
    edges, spare_edges = np.empty(n, np.int64), np.empty(n, np.int64)
    e = 0
    for d in range(4):  # reference.grid_graph's order: right, down, down-right, up-right
        first_row = 1 if d == 3 else 0
        last_row = H if d == 0 or d == 3 else H - 1
        columns = W if d == 1 else W - 1
        for y in range(first_row, last_row):
            for x in range(columns):
                edges[e] = (y * W + x) * 4 + d
                e += 1
    # LSD radix sort, 4 passes of 8 bits: for floats >= 0 the bit patterns sort as the values
    count = np.empty(257, np.int64)
    for shift in range(0, 32, 8):
        count[:] = 0
        for i in range(n):
            count[((keys[i] >> shift) & 255) + 1] += 1
        if count.max() == n:
            continue  # every key has the same byte here: this pass would change nothing
        for digit in range(256):
            count[digit + 1] += count[digit]  # count[digit]: where its first key goes
        for i in range(n):
            digit = (keys[i] >> shift) & 255
            j = count[digit]
            spare_keys[j], spare_edges[j] = keys[i], edges[i]
            count[digit] = j + 1
        keys, spare_keys = spare_keys, keys
        edges, spare_edges = spare_edges, edges
    return keys.view(np.float32), edges


@njit(cache=True)
def _find(parent, p):
    """The root of p's component (halving the path on the way up)."""
    while parent[p] != p:
        parent[p] = parent[parent[p]]
        p = parent[p]
    return p


@njit(cache=True)
def _union(parent, size, internal, r1, r2, w):
    """Merge roots r1 != r2 (the smaller under the larger); Int of the union = w."""
    if size[r1] < size[r2]:
        r1, r2 = r2, r1
    parent[r2] = r1
    size[r1] += size[r2]
    internal[r1] = w


@njit(cache=True)
def _segment(weights, H, W, k, min_size):
    """Flat labels (H * W,) int64 of the grid graph; steps 3 and 4 of reference.py."""
    weights, edges = _sorted_edges(weights, H, W)
    step = np.array([1, W, W + 1, 1 - W], np.int64)  # b - a for each direction
    n_pixels = H * W
    parent = np.arange(n_pixels).astype(np.int32)
    size = np.ones(n_pixels, np.int32)
    internal = np.zeros(n_pixels, np.float64)
    for i in range(edges.size):
        a = edges[i] >> 2
        r1, r2 = _find(parent, a), _find(parent, a + step[edges[i] & 3])
        w = np.float64(weights[i])
        if r1 != r2 and w <= min(internal[r1] + k / size[r1], internal[r2] + k / size[r2]):
            _union(parent, size, internal, r1, r2, w)
    for i in range(edges.size):
        a = edges[i] >> 2
        r1, r2 = _find(parent, a), _find(parent, a + step[edges[i] & 3])
        if r1 != r2 and (size[r1] < min_size or size[r2] < min_size):
            _union(parent, size, internal, r1, r2, np.float64(weights[i]))
    # labels in raster order: a root gets the next number when its first pixel comes
    number = np.full(n_pixels, -1, np.int64)
    labels = np.empty(n_pixels, np.int64)
    n_segments = 0
    for p in range(n_pixels):
        r = _find(parent, p)
        if number[r] < 0:
            number[r] = n_segments
            n_segments += 1
        labels[p] = number[r]
    return labels


def felzenszwalb(image, k, sigma, min_size):
    """Segment labels (H, W) int64 of a (C, H, W) image; see reference.py."""
    check_arguments("felzenszwalb", image, k, sigma, min_size)
    C, H, W = image.shape
    weights = grid_weights(gaussian_smooth(image, sigma))
    return _segment(weights, H, W, float(k), int(min_size)).reshape(H, W)
