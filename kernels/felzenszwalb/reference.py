"""Felzenszwalb-Huttenlocher graph segmentation in plain NumPy and Python: the readable
version and the oracle for the others.

The contract, shared by every implementation in this folder (same names, same arguments):

``felzenszwalb(image, k, sigma, min_size) -> labels``
    image    : (C, H, W) float32 or float64, finite, C, H, W >= 1, H * W < 2**31
    k        : float >= 0, the scale of the threshold below, in the image's own units
    sigma    : float >= 0, the Gaussian smoothing applied first (0: none)
    min_size : int >= 0, segments smaller than this are merged into a neighbour at the end
    labels   : (H, W) int64, segment 0, 1, 2 ... numbered in the order their first pixel
               comes in raster order (so two implementations agree label for label)

    1. Smooth each channel with a Gaussian of ``sigma`` (``gaussian_smooth``).
    2. Build the 8-connected grid graph: one edge per pair of neighbouring pixels, weighted
       by the Euclidean distance between their smoothed colours (``grid_graph``).
    3. Visit the edges by increasing weight (a *stable* sort: equal weights keep
       grid_graph's order).  An edge between two different components C1 and C2 merges
       them when [FH, Sec. 3.1, Algorithm 1]

           w <= MInt(C1, C2) = min(Int(C1) + k / |C1|,  Int(C2) + k / |C2|)

       Int(C), the largest weight of C's minimum spanning tree, is the weight of the edge
       that last merged C (edges come in increasing order), 0 for a single pixel.  The
       term k / |C| lets small components merge easily and big ones only across weak edges.
    4. Visit the edges in the same order again and merge any two components of which one
       is smaller than ``min_size`` pixels (as the authors' code does).

    NOTE: the weights are float32 (the fast implementations radix-sort their bit patterns);
    Int(C) + k / |C| is computed in float64.

References
----------
[FH] P. F. Felzenszwalb and D. P. Huttenlocher, "Efficient Graph-Based Image Segmentation",
    IJCV 59(2), 2004.  The authors' code: https://cs.brown.edu/people/pfelzens/segment/
"""
import numbers

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)
TRUNCATE = 4.0  # the Gaussian's support: radius = int(TRUNCATE * sigma + 0.5), as scipy's


def check_arguments(fn, image, k, sigma, min_size):
    """Check the contract's types, shapes and ranges (the public function converts first)."""
    if (not isinstance(image, np.ndarray) or image.ndim != 3 or image.dtype not in FLOAT_DTYPES
            or 0 in image.shape):
        raise ValueError(f"{fn}: image must be a (C, H, W) float32 or float64 array with C, H, "
                         f"W >= 1, got "
                         f"{type(image).__name__} shape {getattr(image, 'shape', None)}, "
                         f"dtype {getattr(image, 'dtype', None)}")
    if image.shape[1] * image.shape[2] >= 2**31:
        raise ValueError(f"{fn}: image must have fewer than 2**31 pixels, got {image.shape}")
    if not np.isfinite(image).all():
        raise ValueError(f"{fn}: image contains NaN or inf")
    for name, value in (("k", k), ("sigma", sigma)):
        if not isinstance(value, numbers.Real) or not value >= 0 or not np.isfinite(value):
            raise ValueError(f"{fn}: {name} must be a finite number >= 0, got {value!r}")
    if not isinstance(min_size, numbers.Integral) or min_size < 0:
        raise ValueError(f"{fn}: min_size must be an int >= 0, got {min_size!r}")


def gaussian_smooth(image, sigma):
    """(C, H, W) -> (C, H, W) float64: each channel convolved with a Gaussian of ``sigma``.

    Separable: a 1-D kernel g[j] = exp(-j^2 / (2 sigma^2)) / sum, j = -r..r with
    r = int(4 sigma + 0.5), along rows and then along columns.  Borders are mirrored
    (d c b a | a b c d), as scipy.ndimage.gaussian_filter's default mode 'reflect'.
    """
    x = image.astype(np.float64)
    radius = int(TRUNCATE * sigma + 0.5)
    if sigma == 0 or radius == 0:
        return x
    j = np.arange(-radius, radius + 1)
    g = np.exp(-0.5 * (j / sigma) ** 2)
    g /= g.sum()
    H, W = x.shape[1:]
    # out[y] = sum_t g[t] x[y - r + t]: one shifted slice per tap, down the columns...
    x = np.pad(x, ((0, 0), (radius, radius), (0, 0)), mode="symmetric")
    x = sum(g[t] * x[:, t:t + H] for t in range(g.size))
    # ... then along the rows
    x = np.pad(x, ((0, 0), (0, 0), (radius, radius)), mode="symmetric")
    x = sum(g[t] * x[:, :, t:t + W] for t in range(g.size))
    return x


def neighbour_slices(H, W):
    """Per direction of the grid graph (right, down, down-right, up-right, in this order):
    ((rows, columns) of the pixels a, (rows, columns) of their neighbours b)."""
    slices = []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (-1, 1)):
        rows = slice(max(0, -dy), H - max(0, dy))       # the a's whose neighbour exists
        b_rows = slice(rows.start + dy, rows.stop + dy)
        slices.append(((rows, slice(0, W - dx)), (b_rows, slice(dx, W))))
    return slices


def grid_graph(image):
    """The 8-connected grid graph of a (C, H, W) image: (weights, a, b), one entry per edge.

    weights (E,) float32, the Euclidean distance between the colours of pixels a and b
    (computed in float32); a, b (E,) int64 flat pixel indices y * W + x.  Each pair of
    neighbours once, direction by direction (right, down, down-right, up-right: edge d of
    pixel a joins a + (0, 1), (1, 0), (1, 1), (-1, 1)); within each, a in raster order.
    E = 4HW - 3(H + W) + 2.
    """
    C, H, W = image.shape
    pixel = np.arange(H * W, dtype=np.int64).reshape(H, W)
    a = np.concatenate([pixel[sa].ravel() for sa, sb in neighbour_slices(H, W)])
    b = np.concatenate([pixel[sb].ravel() for sa, sb in neighbour_slices(H, W)])
    return grid_weights(image), a, b


def grid_weights(image):
    """The weights of grid_graph alone: (E,) float32, edge by edge in its order."""
    C, H, W = image.shape
    image = image.astype(np.float32)  # the weights' precision, and 4x faster than float64
    weights = []
    for sa, sb in neighbour_slices(H, W):
        diff = image[:, sa[0], sa[1]] - image[:, sb[0], sb[1]]      # (C, h, w)
        weights.append(np.sqrt((diff * diff).sum(axis=0)).ravel())
    return np.concatenate(weights)


def raster_labels(roots):
    """(H, W) component roots -> labels 0, 1, 2 ... in the order each first appears."""
    _, first, inverse = np.unique(roots.ravel(), return_index=True, return_inverse=True)
    number = np.empty(first.size, np.int64)
    number[np.argsort(first)] = np.arange(first.size)   # the earliest-starting root is 0
    return number[inverse].reshape(roots.shape)


class DisjointSets:
    """Union-find over n pixels, with each component's size and internal difference Int."""

    def __init__(self, n):
        self.parent = list(range(n))
        self.size = [1] * n
        self.internal = [0.0] * n

    def find(self, p):
        """The root of p's component (halving the path on the way up)."""
        parent = self.parent
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    def union(self, r1, r2, weight):
        """Merge roots r1 != r2 (the smaller under the larger); Int of the union = weight."""
        if self.size[r1] < self.size[r2]:
            r1, r2 = r2, r1
        self.parent[r2] = r1
        self.size[r1] += self.size[r2]
        self.internal[r1] = weight


def felzenszwalb(image, k, sigma, min_size):
    """Segment labels (H, W) int64 of a (C, H, W) image; see the module docstring."""
    check_arguments("felzenszwalb", image, k, sigma, min_size)
    C, H, W = image.shape
    weights, a, b = grid_graph(gaussian_smooth(image, sigma))
    order = np.argsort(weights, kind="stable")              # step 3: increasing weight
    edges = list(zip(weights[order].tolist(), a[order].tolist(), b[order].tolist()))
    sets = DisjointSets(H * W)
    for w, p, q in edges:
        r1, r2 = sets.find(p), sets.find(q)
        if r1 != r2 and w <= min(sets.internal[r1] + k / sets.size[r1],
                                 sets.internal[r2] + k / sets.size[r2]):
            sets.union(r1, r2, w)
    for w, p, q in edges:                                    # step 4: no tiny segments
        r1, r2 = sets.find(p), sets.find(q)
        if r1 != r2 and (sets.size[r1] < min_size or sets.size[r2] < min_size):
            sets.union(r1, r2, w)
    roots = np.array([sets.find(p) for p in range(H * W)], np.int64).reshape(H, W)
    return raster_labels(roots)
