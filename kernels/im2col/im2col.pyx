"""im2col and col2im in Cython: a def wrapper checks and allocates, a cdef nogil loop fills.

The contract (shapes, layout, output-size formula) is in reference.py.  setup.py compiles
this file with boundscheck and wraparound off, so every index below must be in range: the
wrappers check the arguments first.  Both loops run over the N*C image planes, a contiguous
range of planes per thread (kernels/_threads.py says why these are not OpenMP threads: those
sat spinning beside the next GEMM): each plane writes only its own part of the output, so
the threads never race.

For each window tap (i, j), _first and _end work out which output rows and columns read the
image rather than the padding, so the inner loops run without a bounds test (with gcc,
2x faster than testing every tap as numba_cpu.py does).
"""
from functools import partial

import numpy as np

from .._threads import parallel_range
from .reference import check_col2im, check_im2col

ctypedef fused real:
    float
    double


cdef inline Py_ssize_t _first(Py_ssize_t O, Py_ssize_t s, Py_ssize_t offset) noexcept nogil:
    """First output o in [0, O] whose tap o*s + offset is >= 0."""
    return 0 if offset >= 0 else min(O, (-offset + s - 1) // s)


cdef inline Py_ssize_t _end(Py_ssize_t O, Py_ssize_t L, Py_ssize_t s, Py_ssize_t offset,
                            Py_ssize_t first) noexcept nogil:
    """End (>= first) of the outputs o < O whose tap o*s + offset is < L."""
    return max(first, min(O, (L - offset + s - 1) // s)) if L > offset else first


cdef void _im2col(const real[:, :, :, ::1] x, real[:, :, :, :, :, ::1] cols,
                  Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                  Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t first,
                  Py_ssize_t last) noexcept nogil:
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t kh = cols.shape[2], kw = cols.shape[3], OH = cols.shape[4], OW = cols.shape[5]
    cdef Py_ssize_t nc, n, c, i, j, oh, ow, h0, w0, oh0, oh1, ow0, ow1
    cdef const real* xrow
    cdef real* colrow
    for nc in range(first, last):
        n = nc // C
        c = nc % C
        for i in range(kh):
            h0 = i * dh - ph  # tap (i, j) of output (oh, ow) reads x[oh*sh + h0, ow*sw + w0]
            oh0 = _first(OH, sh, h0)
            oh1 = _end(OH, H, sh, h0, oh0)
            for j in range(kw):
                w0 = j * dw - pw
                ow0 = _first(OW, sw, w0)
                ow1 = _end(OW, W, sw, w0, ow0)
                for oh in range(OH):
                    colrow = &cols[n, c, i, j, oh, 0]
                    if oh < oh0 or oh >= oh1:  # the whole row reads padding
                        for ow in range(OW):
                            colrow[ow] = 0
                    else:
                        xrow = &x[n, c, oh * sh + h0, 0]
                        for ow in range(ow0):
                            colrow[ow] = 0
                        for ow in range(ow0, ow1):
                            colrow[ow] = xrow[ow * sw + w0]
                        for ow in range(ow1, OW):
                            colrow[ow] = 0


cdef void _col2im(const real[:, :, :, :, :, ::1] cols, real[:, :, :, ::1] x,
                  Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                  Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t first,
                  Py_ssize_t last) noexcept nogil:
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t kh = cols.shape[2], kw = cols.shape[3], OH = cols.shape[4], OW = cols.shape[5]
    cdef Py_ssize_t nc, n, c, i, j, oh, ow, h0, w0, oh0, oh1, ow0, ow1
    cdef real* xrow
    cdef const real* colrow
    for nc in range(first, last):
        n = nc // C
        c = nc % C
        for i in range(kh):
            h0 = i * dh - ph
            oh0 = _first(OH, sh, h0)
            oh1 = _end(OH, H, sh, h0, oh0)
            for j in range(kw):
                w0 = j * dw - pw
                ow0 = _first(OW, sw, w0)
                ow1 = _end(OW, W, sw, w0, ow0)
                for oh in range(oh0, oh1):  # taps in the padding are dropped
                    xrow = &x[n, c, oh * sh + h0, 0]
                    colrow = &cols[n, c, i, j, oh, 0]
                    for ow in range(ow0, ow1):
                        xrow[ow * sw + w0] += colrow[ow]


def _im2col_part(const real[:, :, :, ::1] x, real[:, :, :, :, :, ::1] cols, Py_ssize_t sh,
                 Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw,
                 Py_ssize_t first, Py_ssize_t last):
    """Planes [first, last) (plane nc = n*C + c): one thread's share, the GIL released."""
    with nogil:
        _im2col(x, cols, sh, sw, ph, pw, dh, dw, first, last)


def _col2im_part(const real[:, :, :, :, :, ::1] cols, real[:, :, :, ::1] x, Py_ssize_t sh,
                 Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw,
                 Py_ssize_t first, Py_ssize_t last):
    """Planes [first, last) (plane nc = n*C + c): one thread's share, the GIL released."""
    with nogil:
        _col2im(cols, x, sh, sw, ph, pw, dh, dw, first, last)


def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw):
    """Unfold (N, C, H, W) x into (N, C, kh, kw, OH, OW) cols (contract: reference.py)."""
    OH, OW = check_im2col(x, kh, kw, sh, sw, ph, pw, dh, dw)
    x = np.ascontiguousarray(x)
    cols = np.empty(x.shape[:2] + (kh, kw, OH, OW), dtype=x.dtype)
    parallel_range(partial(_im2col_part, x, cols, sh, sw, ph, pw, dh, dw),
                   x.shape[0] * x.shape[1], cols.size)
    return cols


def col2im(cols, H, W, sh, sw, ph, pw, dh, dw):
    """Fold (N, C, kh, kw, OH, OW) cols into an (N, C, H, W) x (contract: reference.py)."""
    check_col2im(cols, H, W, sh, sw, ph, pw, dh, dw)
    cols = np.ascontiguousarray(cols)
    x = np.zeros(cols.shape[:2] + (H, W), dtype=cols.dtype)
    parallel_range(partial(_col2im_part, cols, x, sh, sw, ph, pw, dh, dw),
                   x.shape[0] * x.shape[1], cols.size)
    return x
