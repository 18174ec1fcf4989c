"""Felzenszwalb-Huttenlocher segmentation in Cython: a def wrapper checks and computes the
weights, cdef nogil loops sort the edges and merge.

The contract is in reference.py, and so are the two NumPy steps every implementation shares
(Gaussian smoothing and the grid graph's weights, so all sort the very same float32s).  The
native part, for the E edges of an H x W image::

    edges    = each edge as one int64, a * 4 + d (pixel a, direction d of reference.py's
               grid_graph: b = a + step[d]), listed in grid_graph's order
    sort     = (weight, edge) pairs by weight, stable: an LSD radix sort of the weights'
               bit patterns (for floats >= 0 they sort as the values), 4 passes of 8 bits,
               a pass skipped where every key has the same byte
    for each edge in order:   merge when w <= min(Int(C1) + k/|C1|, Int(C2) + k/|C2|)
    for each edge in order:   merge when |C1| < min_size or |C2| < min_size
    labels   = the roots, numbered in the order their first pixel comes (raster order)

Union-find with path halving and union by size: nearly constant time per edge, so the
whole native part is linear in E.  The edges travel through the sort with their weights
(no index into other arrays) and the union-find arrays are int32: the sweep's reads are
then the parents alone, which is what made a 512x512 image 4x faster than sorting indices
into separate (a, b, weight) arrays.  Serial: each merge decides the next.  numba_cpu.py
is this file line for line.
"""
from libc.stdint cimport int32_t, int64_t, uint32_t

import numpy as np

from .reference import check_arguments, gaussian_smooth, grid_weights


cdef void _sorted_edges(uint32_t[::1] keys, uint32_t[::1] spare_keys, int64_t[::1] edges,
                        int64_t[::1] spare_edges, Py_ssize_t H, Py_ssize_t W) noexcept nogil:
    """Sort (keys, edges) by key, stable, in place: edge = a * 4 + d (pixel a, direction d)."""
    cdef Py_ssize_t n = keys.shape[0], e = 0, i, j, d, y, x, first_row, last_row, columns
    cdef Py_ssize_t shift, digit
    cdef int64_t count[257]
    cdef uint32_t* k_src = &keys[0]
    cdef uint32_t* k_dst = &spare_keys[0]
    cdef int64_t* e_src = &edges[0]
    cdef int64_t* e_dst = &spare_edges[0]
    for d in range(4):  # reference.grid_graph's order: right, down, down-right, up-right
        first_row = 1 if d == 3 else 0
        last_row = H if d == 0 or d == 3 else H - 1
        columns = W if d == 1 else W - 1
        for y in range(first_row, last_row):
            for x in range(columns):
                e_src[e] = (y * W + x) * 4 + d
                e += 1
    for shift in range(0, 32, 8):
        for digit in range(257):
            count[digit] = 0
        for i in range(n):
            count[((k_src[i] >> shift) & 255) + 1] += 1
        if _all_in_one_bucket(count, n):
            continue  # every key has the same byte here: this pass would change nothing
        for digit in range(256):
            count[digit + 1] += count[digit]  # count[digit]: where its first key goes
        for i in range(n):
            digit = (k_src[i] >> shift) & 255
            j = count[digit]
            k_dst[j] = k_src[i]
            e_dst[j] = e_src[i]
            count[digit] = j + 1
        k_src, k_dst = k_dst, k_src
        e_src, e_dst = e_dst, e_src
    if k_src != &keys[0]:  # an odd number of passes ran: the result is in the spares
        for i in range(n):
            keys[i] = k_src[i]
            edges[i] = e_src[i]


cdef bint _all_in_one_bucket(const int64_t* count, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t digit
    for digit in range(257):
        if count[digit] == n:
            return True
    return False


cdef inline int32_t _find(int32_t* parent, int32_t p) noexcept nogil:
    """The root of p's component (halving the path on the way up)."""
    while parent[p] != p:
        parent[p] = parent[parent[p]]
        p = parent[p]
    return p


cdef inline void _union(int32_t* parent, int32_t* size, double* internal, int32_t r1,
                        int32_t r2, double w) noexcept nogil:
    """Merge roots r1 != r2 (the smaller under the larger); Int of the union = w."""
    cdef int32_t swap
    if size[r1] < size[r2]:
        swap = r1
        r1 = r2
        r2 = swap
    parent[r2] = r1
    size[r1] += size[r2]
    internal[r1] = w


cdef void _segment(const float* weights, const int64_t* edges, Py_ssize_t E, Py_ssize_t W,
                   double k, int64_t min_size, int32_t* parent, int32_t* size,
                   double* internal, int64_t* number, int64_t* labels,
                   Py_ssize_t n_pixels) noexcept nogil:
    """Steps 3 and 4 of reference.py over the sorted edges, then labels in raster order."""
    cdef int64_t step[4]
    cdef Py_ssize_t i, p
    cdef int64_t a, n_segments = 0
    cdef int32_t r1, r2
    cdef double w, t1, t2
    step[0] = 1  # b - a for each direction
    step[1] = W
    step[2] = W + 1
    step[3] = 1 - W
    for p in range(n_pixels):
        parent[p] = <int32_t>p
        size[p] = 1
        internal[p] = 0
        number[p] = -1
    for i in range(E):
        a = edges[i] >> 2
        r1 = _find(parent, <int32_t>a)
        r2 = _find(parent, <int32_t>(a + step[edges[i] & 3]))
        w = weights[i]
        t1 = internal[r1] + k / size[r1]
        t2 = internal[r2] + k / size[r2]
        if r1 != r2 and w <= (t1 if t1 < t2 else t2):
            _union(parent, size, internal, r1, r2, w)
    for i in range(E):
        a = edges[i] >> 2
        r1 = _find(parent, <int32_t>a)
        r2 = _find(parent, <int32_t>(a + step[edges[i] & 3]))
        if r1 != r2 and (size[r1] < min_size or size[r2] < min_size):
            _union(parent, size, internal, r1, r2, weights[i])
    # labels in raster order: a root gets the next number when its first pixel comes
    for p in range(n_pixels):
        r1 = _find(parent, <int32_t>p)
        if number[r1] < 0:
            number[r1] = n_segments
            n_segments += 1
        labels[p] = number[r1]


def felzenszwalb(image, k, sigma, min_size):
    """Segment labels (H, W) int64 of a (C, H, W) image; see reference.py."""
    check_arguments("felzenszwalb", image, k, sigma, min_size)
    C, H, W = image.shape
    keys = grid_weights(gaussian_smooth(image, sigma)).view(np.uint32)
    E, n = keys.shape[0], H * W
    labels = np.empty(n, np.int64)
    _sort_and_merge(keys, np.empty(E, np.uint32), np.empty(E, np.int64), np.empty(E, np.int64),
                    H, W, k, min_size, np.empty(n, np.int32), np.empty(n, np.int32),
                    np.empty(n, np.float64), np.empty(n, np.int64), labels)
    return labels.reshape(H, W)


def _sort_and_merge(uint32_t[::1] keys, uint32_t[::1] spare_keys, int64_t[::1] edges,
                    int64_t[::1] spare_edges, Py_ssize_t H, Py_ssize_t W, double k,
                    int64_t min_size, int32_t[::1] parent, int32_t[::1] size,
                    double[::1] internal, int64_t[::1] number, int64_t[::1] labels):
    """The native part (module docstring) on typed views, without the GIL."""
    cdef Py_ssize_t E = keys.shape[0]
    with nogil:
        if E > 0:
            _sorted_edges(keys, spare_keys, edges, spare_edges, H, W)
            _segment(<float*>&keys[0], &edges[0], E, W, k, min_size, &parent[0], &size[0],
                     &internal[0], &number[0], &labels[0], H * W)
        else:  # one pixel, or none: no edge
            _segment(NULL, NULL, 0, W, k, min_size, &parent[0], &size[0], &internal[0],
                     &number[0], &labels[0], H * W)
