"""Depthwise 2-D convolution in Cython: def wrappers check and allocate, cdef loops fill.

The contract (shapes, formulas) is in reference.py. The forward runs over the N*K output
planes and the input backward over the N*C input planes, the weight backward over the K
filters, a contiguous range per thread (kernels/_threads.py says why these are not OpenMP
threads); each writes only its own planes or filters: no races. For each window tap
(i, j), _first and _end give the output rows and columns that read the image rather than
the padding, so the inner loops are plain strided multiply-adds with no bounds test.
"""
from functools import partial

from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

import numpy as np

from .._threads import parallel_range
from .reference import check_arrays, check_backward, check_geometry

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


cdef void _forward(const real[:, :, :, ::1] x, const real[:, :, :, ::1] w,
                   real[:, :, :, ::1] y, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph,
                   Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t first,
                   Py_ssize_t last) noexcept nogil:
    cdef Py_ssize_t N = y.shape[0], K = y.shape[1], OH = y.shape[2], OW = y.shape[3]
    cdef Py_ssize_t C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t kh = w.shape[2], kw = w.shape[3], m = K // C
    cdef Py_ssize_t nk, n, k, i, j, oh, ow, h0, w0, oh0, oh1, ow0, ow1
    cdef real wij
    cdef const real* xrow
    cdef real* yrow
    for nk in range(first, last):
        n = nk // K
        k = nk % K
        for oh in range(OH):
            for ow in range(OW):
                y[n, k, oh, ow] = 0
        for i in range(kh):
            h0 = i * dh - ph      # output (oh, ow) reads x[oh*sh + h0, ow*sw + w0]
            oh0 = _first(OH, sh, h0)
            oh1 = _end(OH, H, sh, h0, oh0)
            for j in range(kw):
                w0 = j * dw - pw
                ow0 = _first(OW, sw, w0)
                ow1 = _end(OW, W, sw, w0, ow0)
                wij = w[k, 0, i, j]
                for oh in range(oh0, oh1):
                    xrow = &x[n, k // m, oh * sh + h0, 0]
                    yrow = &y[n, k, oh, 0]
                    for ow in range(ow0, ow1):
                        yrow[ow] += wij * xrow[ow * sw + w0]


cdef void _backward_input(const real[:, :, :, ::1] gy, const real[:, :, :, ::1] w,
                          real[:, :, :, ::1] gx, Py_ssize_t sh, Py_ssize_t sw,
                          Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw,
                          Py_ssize_t first, Py_ssize_t last) noexcept nogil:
    cdef Py_ssize_t N = gy.shape[0], K = gy.shape[1], OH = gy.shape[2], OW = gy.shape[3]
    cdef Py_ssize_t C = gx.shape[1], H = gx.shape[2], W = gx.shape[3]
    cdef Py_ssize_t kh = w.shape[2], kw = w.shape[3], m = K // C
    cdef Py_ssize_t nc, n, c, k, i, j, oh, ow, h0, w0, oh0, oh1, ow0, ow1
    cdef real wij
    cdef real* xrow
    cdef const real* yrow
    for nc in range(first, last):
        n = nc // C
        c = nc % C
        for oh in range(H):
            for ow in range(W):
                gx[n, c, oh, ow] = 0
        for k in range(c * m, c * m + m):   # the m output channels that read channel c
            for i in range(kh):
                h0 = i * dh - ph
                oh0 = _first(OH, sh, h0)
                oh1 = _end(OH, H, sh, h0, oh0)
                for j in range(kw):
                    w0 = j * dw - pw
                    ow0 = _first(OW, sw, w0)
                    ow1 = _end(OW, W, sw, w0, ow0)
                    wij = w[k, 0, i, j]
                    for oh in range(oh0, oh1):   # taps in the padding are dropped
                        xrow = &gx[n, c, oh * sh + h0, 0]
                        yrow = &gy[n, k, oh, 0]
                        for ow in range(ow0, ow1):
                            xrow[ow * sw + w0] += wij * yrow[ow]


cdef void _backward_weight(const real[:, :, :, ::1] x, const real[:, :, :, ::1] gy,
                           real[:, :, :, ::1] gw, Py_ssize_t sh, Py_ssize_t sw,
                           Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw,
                           Py_ssize_t first, Py_ssize_t last) noexcept nogil:
    cdef Py_ssize_t N = gy.shape[0], K = gy.shape[1], OH = gy.shape[2], OW = gy.shape[3]
    cdef Py_ssize_t C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t kh = gw.shape[2], kw = gw.shape[3], m = K // C
    cdef Py_ssize_t n, k, i, j, oh, ow, h0, w0, oh0, oh1, ow0, ow1
    cdef double total
    cdef double* column
    cdef const real* xrow
    cdef const real* yrow
    for k in range(first, last):
        # NOTE: each tap sums N*OH*OW products. One partial sum per output column keeps the
        # inner loop vectorisable (no reordered reduction) and the sums short; they are
        # added up in double.
        column = <double*>malloc(OW * sizeof(double))
        for i in range(kh):
            h0 = i * dh - ph
            oh0 = _first(OH, sh, h0)
            oh1 = _end(OH, H, sh, h0, oh0)
            for j in range(kw):
                w0 = j * dw - pw
                ow0 = _first(OW, sw, w0)
                ow1 = _end(OW, W, sw, w0, ow0)
                for ow in range(OW):
                    column[ow] = 0
                for n in range(N):
                    for oh in range(oh0, oh1):
                        xrow = &x[n, k // m, oh * sh + h0, 0]
                        yrow = &gy[n, k, oh, 0]
                        for ow in range(ow0, ow1):
                            column[ow] += yrow[ow] * xrow[ow * sw + w0]
                total = 0
                for ow in range(OW):
                    total = total + column[ow]
                gw[k, 0, i, j] = <real>total
        free(column)


# ---- stride 1: whole planes as flat vectors ---------------------------------------------
# With stride 1, every tap (i, j) of every output reads the zero-padded plane (Hp x Wp) at
# one fixed offset i*dh*Wp + j*dw from the output's "wide" position oh*Wp + ow (a row of Wp,
# of which the first OW are outputs). So a tap is one long multiply-add over the flat plane,
# which gcc vectorises; the generic loops above run ~16 elements at a time.
cdef inline void _pad(const real* src, Py_ssize_t H, Py_ssize_t W, Py_ssize_t ph,
                      Py_ssize_t pw, Py_ssize_t Wp, Py_ssize_t Hp, real* dst) noexcept nogil:
    """dst (Hp x Wp) = the H x W plane at src with ph rows and pw columns of zeros around."""
    cdef Py_ssize_t h
    memset(dst, 0, Hp * Wp * sizeof(real))
    for h in range(H):
        memcpy(&dst[(h + ph) * Wp + pw], &src[h * W], W * sizeof(real))


cdef inline void _widen(const real* src, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t Wp,
                        real* dst) noexcept nogil:
    """dst (OH x Wp) = the OH x OW plane at src, each row followed by Wp − OW zeros."""
    cdef Py_ssize_t h
    memset(dst, 0, OH * Wp * sizeof(real))
    for h in range(OH):
        memcpy(&dst[h * Wp], &src[h * OW], OW * sizeof(real))


cdef inline void _axpy(real a, const real* x, real* y, Py_ssize_t n) noexcept nogil:
    """y[t] += a * x[t], t < n."""
    cdef Py_ssize_t t
    for t in range(n):
        y[t] += a * x[t]


cdef inline double _dot(const real* x, const real* y, Py_ssize_t n) noexcept nogil:
    """Σ_t x[t] y[t] in 16 running partial sums (vectorisable without reordering a single
    sum), added up in double at the end."""
    cdef real part[16]
    cdef Py_ssize_t t, l
    cdef double total = 0
    for l in range(16):
        part[l] = 0
    for t in range(0, n - n % 16, 16):
        for l in range(16):
            part[l] += x[t + l] * y[t + l]
    for t in range(n - n % 16, n):
        total += x[t] * y[t]
    for l in range(16):
        total += part[l]
    return total


cdef void _forward_s1(const real[:, :, :, ::1] x, const real[:, :, :, ::1] w,
                      real[:, :, :, ::1] y, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh,
                      Py_ssize_t dw, Py_ssize_t first, Py_ssize_t last, real* buf) noexcept nogil:
    cdef Py_ssize_t K = y.shape[1], OH = y.shape[2], OW = y.shape[3], C = x.shape[1]
    cdef Py_ssize_t H = x.shape[2], W = x.shape[3], Hp = H + 2 * ph, Wp = W + 2 * pw
    cdef Py_ssize_t kh = w.shape[2], kw = w.shape[3], nk, n, k, i, j, oh
    cdef Py_ssize_t L = OH * Wp - (kw - 1) * dw   # wide positions up to the last output
    cdef real* xpad = buf
    cdef real* wide = &buf[Hp * Wp]
    for nk in range(first, last):
        n, k = nk // K, nk % K
        _pad(&x[n, k // (K // C), 0, 0], H, W, ph, pw, Wp, Hp, xpad)
        memset(wide, 0, OH * Wp * sizeof(real))
        for i in range(kh):
            for j in range(kw):
                _axpy(w[k, 0, i, j], &xpad[i * dh * Wp + j * dw], wide, L)
        for oh in range(OH):
            memcpy(&y[n, k, oh, 0], &wide[oh * Wp], OW * sizeof(real))


cdef void _backward_input_s1(const real[:, :, :, ::1] gy, const real[:, :, :, ::1] w,
                             real[:, :, :, ::1] gx, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh,
                             Py_ssize_t dw, Py_ssize_t first, Py_ssize_t last,
                             real* buf) noexcept nogil:
    cdef Py_ssize_t K = gy.shape[1], OH = gy.shape[2], OW = gy.shape[3], C = gx.shape[1]
    cdef Py_ssize_t H = gx.shape[2], W = gx.shape[3], Hp = H + 2 * ph, Wp = W + 2 * pw
    cdef Py_ssize_t kh = w.shape[2], kw = w.shape[3], m = K // C, nc, n, c, k, i, j, h
    cdef Py_ssize_t L = OH * Wp - (kw - 1) * dw
    cdef real* gxpad = buf
    cdef real* wide = &buf[Hp * Wp]
    for nc in range(first, last):
        n, c = nc // C, nc % C
        memset(gxpad, 0, Hp * Wp * sizeof(real))
        for k in range(c * m, c * m + m):   # the m output channels that read channel c
            _widen(&gy[n, k, 0, 0], OH, OW, Wp, wide)
            for i in range(kh):
                for j in range(kw):             # the adjoint of forward's tap (i, j)
                    _axpy(w[k, 0, i, j], wide, &gxpad[i * dh * Wp + j * dw], L)
        for h in range(H):                      # the padding is dropped
            memcpy(&gx[n, c, h, 0], &gxpad[(h + ph) * Wp + pw], W * sizeof(real))


cdef void _backward_weight_s1(const real[:, :, :, ::1] x, const real[:, :, :, ::1] gy,
                              real[:, :, :, ::1] gw, Py_ssize_t ph, Py_ssize_t pw,
                              Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t first, Py_ssize_t last,
                              real* buf) noexcept nogil:
    cdef Py_ssize_t N = gy.shape[0], K = gy.shape[1], OH = gy.shape[2], OW = gy.shape[3]
    cdef Py_ssize_t C = x.shape[1], H = x.shape[2], W = x.shape[3], Hp = H + 2 * ph
    cdef Py_ssize_t Wp = W + 2 * pw, kh = gw.shape[2], kw = gw.shape[3], n, k, i, j
    cdef Py_ssize_t L = OH * Wp - (kw - 1) * dw
    cdef real* xpad = buf
    cdef real* wide = &buf[Hp * Wp]
    cdef double total[64]                         # one per tap (check_depthwise: kh*kw <= 64)
    for k in range(first, last):
        for i in range(kh * kw):
            total[i] = 0
        for n in range(N):
            _pad(&x[n, k // (K // C), 0, 0], H, W, ph, pw, Wp, Hp, xpad)
            _widen(&gy[n, k, 0, 0], OH, OW, Wp, wide)
            for i in range(kh):
                for j in range(kw):
                    total[i * kw + j] += _dot(wide, &xpad[i * dh * Wp + j * dw], L)
        for i in range(kh):
            for j in range(kw):
                gw[k, 0, i, j] = <real>total[i * kw + j]


# ---- each thread's share, the GIL released -------------------------------------------------
def _forward_part(const real[:, :, :, ::1] x, const real[:, :, :, ::1] w, real[:, :, :, ::1] y,
                  Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh,
                  Py_ssize_t dw, Py_ssize_t first, Py_ssize_t last):
    cdef real* buf
    if sh == 1 and sw == 1 and w.shape[2] * w.shape[3] <= 64:
        buf = <real*>_scratch(x.shape[2] + 2 * ph, x.shape[3] + 2 * pw, sizeof(real))
        with nogil:
            _forward_s1(x, w, y, ph, pw, dh, dw, first, last, buf)
        free(buf)
    else:
        with nogil:
            _forward(x, w, y, sh, sw, ph, pw, dh, dw, first, last)


def _backward_input_part(const real[:, :, :, ::1] gy, const real[:, :, :, ::1] w,
                         real[:, :, :, ::1] gx, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph,
                         Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t first,
                         Py_ssize_t last):
    cdef real* buf
    if sh == 1 and sw == 1 and w.shape[2] * w.shape[3] <= 64:
        buf = <real*>_scratch(gx.shape[2] + 2 * ph, gx.shape[3] + 2 * pw, sizeof(real))
        with nogil:
            _backward_input_s1(gy, w, gx, ph, pw, dh, dw, first, last, buf)
        free(buf)
    else:
        with nogil:
            _backward_input(gy, w, gx, sh, sw, ph, pw, dh, dw, first, last)


def _backward_weight_part(const real[:, :, :, ::1] x, const real[:, :, :, ::1] gy,
                          real[:, :, :, ::1] gw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph,
                          Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t first,
                          Py_ssize_t last):
    cdef real* buf
    if sh == 1 and sw == 1 and gw.shape[2] * gw.shape[3] <= 64:
        buf = <real*>_scratch(x.shape[2] + 2 * ph, x.shape[3] + 2 * pw, sizeof(real))
        with nogil:
            _backward_weight_s1(x, gy, gw, ph, pw, dh, dw, first, last, buf)
        free(buf)
    else:
        with nogil:
            _backward_weight(x, gy, gw, sh, sw, ph, pw, dh, dw, first, last)


cdef void* _scratch(Py_ssize_t Hp, Py_ssize_t Wp, size_t itemsize) except NULL:
    """Room for a padded plane and a wide one (each at most Hp x Wp)."""
    cdef void* buf = malloc(2 * Hp * Wp * itemsize)
    if buf == NULL:
        raise MemoryError("depthwise_conv2d: no memory for a plane's scratch")
    return buf


def depthwise_conv2d(x, w, sh, sw, ph, pw, dh, dw):
    """x (N, C, H, W), w (K, 1, kh, kw) -> y (N, K, OH, OW) (contract: reference.py)."""
    check_arrays("depthwise_conv2d", x=x, w=w)
    OH, OW = check_geometry("depthwise_conv2d", x.shape[1], w.shape[0], *w.shape[2:],
                            *x.shape[2:], sh, sw, ph, pw, dh, dw)
    x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
    y = np.empty((x.shape[0], w.shape[0], OH, OW), x.dtype)
    parallel_range(partial(_forward_part, x, w, y, sh, sw, ph, pw, dh, dw),
                   y.shape[0] * y.shape[1], y.size * w.shape[2] * w.shape[3])
    return y


def depthwise_conv2d_backward_input(gy, w, C, H, W, sh, sw, ph, pw, dh, dw):
    """gy (N, K, OH, OW), w -> gx (N, C, H, W) (contract: reference.py)."""
    check_backward("depthwise_conv2d_backward_input", gy, w, C, H, W, sh, sw, ph, pw, dh, dw)
    gy, w = np.ascontiguousarray(gy), np.ascontiguousarray(w)
    gx = np.empty((gy.shape[0], C, H, W), gy.dtype)
    parallel_range(partial(_backward_input_part, gy, w, gx, sh, sw, ph, pw, dh, dw),
                   gx.shape[0] * C, gy.size * w.shape[2] * w.shape[3])
    return gx


def depthwise_conv2d_backward_weight(x, gy, kh, kw, sh, sw, ph, pw, dh, dw):
    """x (N, C, H, W), gy (N, K, OH, OW) -> gw (K, 1, kh, kw) (contract: reference.py)."""
    check_backward("depthwise_conv2d_backward_weight", gy, x, x.shape[1], *x.shape[2:],
                   sh, sw, ph, pw, dh, dw, kh, kw)
    x, gy = np.ascontiguousarray(x), np.ascontiguousarray(gy)
    gw = np.empty((gy.shape[1], 1, kh, kw), x.dtype)
    parallel_range(partial(_backward_weight_part, x, gy, gw, sh, sw, ph, pw, dh, dw),
                   gy.shape[1], gy.size * kh * kw)
    return gw
