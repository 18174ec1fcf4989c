"""Winograd F(4x4, 3x3) transforms in Cython: def wrappers check and allocate, cdef loops fill.

The contract (layouts, formulas) is in reference.py. Every kernel runs over the N*C (or
N*K) image planes, a contiguous range of planes per thread (kernels/_threads.py says why
these are not OpenMP threads): a plane's tiles read and write only that plane's part of the
arrays, so threads never race (the overlapping tiles of winograd_input_backward add into
the same plane, one after the other, on one thread).

A plane's tiles go through in blocks of up to BLOCK tiles, held "entry-major" in two local
arrays: entry e (of 36) of tile k of the block is a[e*BLOCK + k]. A transform then is, for
each of 6 columns (or rows) of the 6x6 entries, a loop over the block's tiles that reads
one array and writes the other: unit-stride and free of aliasing, so gcc vectorises it.
NOTE: tile by tile, or in place, gcc vectorised nothing and the kernels ran 3-4x slower.
"""
from functools import partial

from libc.string cimport memset

import numpy as np

from .._threads import parallel_range
from .reference import (ALPHA, check_input, check_out, check_tiles, check_weight, tile_buffer,
                        tiles)

cdef enum:
    TILE = 4      # a tile's 4x4 outputs (reference.TILE); its input is 6x6, tiles 4 apart
    BLOCK = 128   # tiles per block: 2 x 36 x 128 floats stay in L1/L2

ctypedef fused real:
    float
    double


# ---- the transforms of a block's n tiles: one column (stride s) of src -> dst -------------
cdef inline void _bt(const real* src, real* dst, Py_ssize_t s, Py_ssize_t n) noexcept nogil:
    """dst[i*s + k] = Σ_a Bᵀ[i, a] src[a*s + k] for i < 6, every tile k < n."""
    cdef Py_ssize_t k
    for k in range(n):
        dst[k] = 4 * src[k] - 5 * src[2 * s + k] + src[4 * s + k]           # (4, 0, -5, 0, 1, 0)
        dst[s + k] = src[3 * s + k] + src[4 * s + k] - 4 * (src[s + k] + src[2 * s + k])
        dst[2 * s + k] = src[4 * s + k] - src[3 * s + k] + 4 * (src[s + k] - src[2 * s + k])
        dst[3 * s + k] = src[4 * s + k] - src[2 * s + k] + 2 * (src[3 * s + k] - src[s + k])
        dst[4 * s + k] = src[4 * s + k] - src[2 * s + k] + 2 * (src[s + k] - src[3 * s + k])
        dst[5 * s + k] = 4 * src[s + k] - 5 * src[3 * s + k] + src[5 * s + k]  # (0, 4, 0, -5, 0, 1)


cdef inline void _b(const real* src, real* dst, Py_ssize_t s, Py_ssize_t n) noexcept nogil:
    """dst[i*s + k] = Σ_a B[i, a] src[a*s + k], B = (Bᵀ)ᵀ: the adjoint of _bt."""
    cdef Py_ssize_t k
    for k in range(n):
        dst[k] = 4 * src[k]
        dst[s + k] = 4 * (src[2 * s + k] - src[s + k] + src[5 * s + k]) + 2 * (
            src[4 * s + k] - src[3 * s + k])
        dst[2 * s + k] = (-5 * src[k] - 4 * (src[s + k] + src[2 * s + k]) - src[3 * s + k]
                          - src[4 * s + k])
        dst[3 * s + k] = (src[s + k] - src[2 * s + k] + 2 * (src[3 * s + k] - src[4 * s + k])
                          - 5 * src[5 * s + k])
        dst[4 * s + k] = src[k] + src[s + k] + src[2 * s + k] + src[3 * s + k] + src[4 * s + k]
        dst[5 * s + k] = src[5 * s + k]


cdef inline void _at(const real* src, real* dst, Py_ssize_t s, Py_ssize_t t,
                     Py_ssize_t n) noexcept nogil:
    """dst[i*t + k] = Σ_a Aᵀ[i, a] src[a*s + k] for i < 4, every tile k < n."""
    cdef Py_ssize_t k
    for k in range(n):
        dst[k] = src[k] + src[s + k] + src[2 * s + k] + src[3 * s + k] + src[4 * s + k]
        dst[t + k] = src[s + k] - src[2 * s + k] + 2 * (src[3 * s + k] - src[4 * s + k])
        dst[2 * t + k] = src[s + k] + src[2 * s + k] + 4 * (src[3 * s + k] + src[4 * s + k])
        dst[3 * t + k] = (src[s + k] - src[2 * s + k] + 8 * (src[3 * s + k] - src[4 * s + k])
                          + src[5 * s + k])


cdef inline void _a(const real* src, real* dst, Py_ssize_t s, Py_ssize_t t,
                    Py_ssize_t n) noexcept nogil:
    """dst[a*t + k] = Σ_i Aᵀ[i, a] src[i*s + k] for a < 6: the adjoint of _at."""
    cdef Py_ssize_t k
    for k in range(n):
        dst[k] = src[k]
        dst[t + k] = src[k] + src[s + k] + src[2 * s + k] + src[3 * s + k]
        dst[2 * t + k] = src[k] - src[s + k] + src[2 * s + k] - src[3 * s + k]
        dst[3 * t + k] = src[k] + 2 * src[s + k] + 4 * src[2 * s + k] + 8 * src[3 * s + k]
        dst[4 * t + k] = src[k] - 2 * src[s + k] + 4 * src[2 * s + k] - 8 * src[3 * s + k]
        dst[5 * t + k] = src[3 * s + k]


cdef inline Py_ssize_t _first(Py_ssize_t offset) noexcept nogil:
    """First tile column tw whose image column TILE*tw + offset is >= 0."""
    return 0 if offset >= 0 else (-offset + TILE - 1) // TILE


cdef inline Py_ssize_t _end(Py_ssize_t TW, Py_ssize_t L, Py_ssize_t offset) noexcept nogil:
    """End (<= TW) of the tile columns tw whose image column TILE*tw + offset is < L."""
    return max(0, min(TW, (L - offset + TILE - 1) // TILE))


# ---- a block: planes [p0, p0 + P), tiles [t0, t0 + nt) of each; tile k = q*nt + t − t0 ----
cdef void _input_block(const real[:, :, :, ::1] x, real[:, :, :] V, Py_ssize_t ph,
                       Py_ssize_t pw, Py_ssize_t TW, Py_ssize_t p0, Py_ssize_t P,
                       Py_ssize_t t0, Py_ssize_t nt) noexcept nogil:
    """x's 6x6 tiles -> Bᵀ d B, stored in V."""
    cdef Py_ssize_t C = x.shape[1], H = x.shape[2], W = x.shape[3], TT = V.shape[2] // x.shape[0]
    cdef Py_ssize_t step = V.strides[0] // sizeof(real), n = P * nt, q, c, im, th, tw, lo, hi
    cdef Py_ssize_t h, i, j, k
    cdef real a[36 * BLOCK]
    cdef real b[36 * BLOCK]
    cdef real* d
    cdef real* v
    cdef const real* row
    for q in range(P):
        im, c = (p0 + q) // C, (p0 + q) % C
        for th in range(t0 // TW, (t0 + nt - 1) // TW + 1):   # a[(6i + j)*BLOCK + k] = d[i, j]
            lo, hi = max(t0 - th * TW, 0), min(t0 + nt - th * TW, TW)
            for i in range(6):
                h = TILE * th - ph + i
                for j in range(6):
                    d = &a[(6 * i + j) * BLOCK + q * nt + th * TW - t0]
                    for tw in range(lo, hi):
                        d[tw] = 0
                    if 0 <= h < H:                            # the part inside x
                        row = &x[im, c, h, 0]
                        for tw in range(max(lo, _first(j - pw)), min(hi, _end(TW, W, j - pw))):
                            d[tw] = row[TILE * tw + j - pw]
    for j in range(6):
        _bt(&a[j * BLOCK], &b[j * BLOCK], 6 * BLOCK, n)        # columns: Bᵀ d
    for i in range(6):
        _bt(&b[6 * i * BLOCK], &a[6 * i * BLOCK], BLOCK, n)    # rows: (Bᵀ d) B
    for q in range(P):
        im, c = (p0 + q) // C, (p0 + q) % C
        v = &V[0, c, im * TT + t0]
        for i in range(36):
            for k in range(nt):
                v[i * step + k] = a[i * BLOCK + q * nt + k]


cdef void _input_backward_block(const real[:, :, :] gV, real[:, :, :, ::1] gx, Py_ssize_t ph,
                                Py_ssize_t pw, Py_ssize_t TW, Py_ssize_t p0, Py_ssize_t P,
                                Py_ssize_t t0, Py_ssize_t nt) noexcept nogil:
    """gV's tiles -> B gv Bᵀ, added into gx where each tile was read (the padding dropped)."""
    cdef Py_ssize_t C = gx.shape[1], H = gx.shape[2], W = gx.shape[3]
    cdef Py_ssize_t TT = gV.shape[2] // gx.shape[0]
    cdef Py_ssize_t step = gV.strides[0] // sizeof(real), n = P * nt, q, c, im, th, tw, lo, hi
    cdef Py_ssize_t h, i, j, k
    cdef real a[36 * BLOCK]
    cdef real b[36 * BLOCK]
    cdef real* d
    cdef real* row
    cdef const real* v
    for q in range(P):
        im, c = (p0 + q) // C, (p0 + q) % C
        v = &gV[0, c, im * TT + t0]
        for i in range(36):
            for k in range(nt):
                a[i * BLOCK + q * nt + k] = v[i * step + k]
    for i in range(6):
        _b(&a[6 * i * BLOCK], &b[6 * i * BLOCK], BLOCK, n)     # rows: gv Bᵀ
    for j in range(6):
        _b(&b[j * BLOCK], &a[j * BLOCK], 6 * BLOCK, n)         # columns: B (gv Bᵀ)
    for q in range(P):
        im, c = (p0 + q) // C, (p0 + q) % C
        for th in range(t0 // TW, (t0 + nt - 1) // TW + 1):
            lo, hi = max(t0 - th * TW, 0), min(t0 + nt - th * TW, TW)
            for i in range(6):
                h = TILE * th - ph + i
                if h < 0 or h >= H:
                    continue
                row = &gx[im, c, h, 0]
                for j in range(6):
                    d = &a[(6 * i + j) * BLOCK + q * nt + th * TW - t0]
                    for tw in range(max(lo, _first(j - pw)), min(hi, _end(TW, W, j - pw))):
                        row[TILE * tw + j - pw] += d[tw]


cdef void _output_block(const real[:, :, :] M, real[:, :, :, ::1] y, Py_ssize_t TW,
                        Py_ssize_t p0, Py_ssize_t P, Py_ssize_t t0, Py_ssize_t nt) noexcept nogil:
    """M's tiles -> Aᵀ m A, written to y (what lies past the edge dropped)."""
    cdef Py_ssize_t K = y.shape[1], OH = y.shape[2], OW = y.shape[3], TT = M.shape[2] // y.shape[0]
    cdef Py_ssize_t step = M.strides[0] // sizeof(real), n = P * nt, q, c, im, th, tw, lo, hi
    cdef Py_ssize_t h, i, j, k
    cdef real a[36 * BLOCK]
    cdef real b[36 * BLOCK]
    cdef real* d
    cdef real* row
    cdef const real* m
    for q in range(P):
        im, c = (p0 + q) // K, (p0 + q) % K
        m = &M[0, c, im * TT + t0]
        for i in range(36):
            for k in range(nt):
                a[i * BLOCK + q * nt + k] = m[i * step + k]
    for j in range(6):
        _at(&a[j * BLOCK], &b[j * BLOCK], 6 * BLOCK, 6 * BLOCK, n)   # columns: Aᵀ m (4x6)
    for i in range(4):
        _at(&b[6 * i * BLOCK], &a[4 * i * BLOCK], BLOCK, BLOCK, n)   # rows: Aᵀ m A (4x4)
    for q in range(P):
        im, c = (p0 + q) // K, (p0 + q) % K
        for th in range(t0 // TW, (t0 + nt - 1) // TW + 1):
            lo, hi = max(t0 - th * TW, 0), min(t0 + nt - th * TW, TW)
            for i in range(min(TILE, OH - TILE * th)):
                row = &y[im, c, TILE * th + i, 0]
                for j in range(TILE):
                    d = &a[(4 * i + j) * BLOCK + q * nt + th * TW - t0]
                    for tw in range(lo, min(hi, _end(TW, OW, j))):
                        row[TILE * tw + j] = d[tw]


cdef void _output_backward_block(const real[:, :, :, ::1] gy, real[:, :, :] gM, Py_ssize_t TW,
                                 Py_ssize_t p0, Py_ssize_t P, Py_ssize_t t0,
                                 Py_ssize_t nt) noexcept nogil:
    """gy's 4x4 tiles (0 past the edge) -> A g Aᵀ, stored in gM."""
    cdef Py_ssize_t K = gy.shape[1], OH = gy.shape[2], OW = gy.shape[3]
    cdef Py_ssize_t TT = gM.shape[2] // gy.shape[0]
    cdef Py_ssize_t step = gM.strides[0] // sizeof(real), n = P * nt, q, c, im, th, tw, lo, hi
    cdef Py_ssize_t h, i, j, k
    cdef real a[36 * BLOCK]
    cdef real b[36 * BLOCK]
    cdef real* d
    cdef real* m
    cdef const real* row
    for q in range(P):
        im, c = (p0 + q) // K, (p0 + q) % K
        for th in range(t0 // TW, (t0 + nt - 1) // TW + 1):   # a[(4i + j)*BLOCK + k] = g[i, j]
            lo, hi = max(t0 - th * TW, 0), min(t0 + nt - th * TW, TW)
            for i in range(TILE):
                h = TILE * th + i
                for j in range(TILE):
                    d = &a[(4 * i + j) * BLOCK + q * nt + th * TW - t0]
                    for tw in range(lo, hi):
                        d[tw] = 0
                    if h < OH:
                        row = &gy[im, c, h, 0]
                        for tw in range(lo, min(hi, _end(TW, OW, j))):
                            d[tw] = row[TILE * tw + j]
    for j in range(4):
        _a(&a[j * BLOCK], &b[j * BLOCK], 4 * BLOCK, 4 * BLOCK, n)    # columns: A g (6x4)
    for i in range(6):
        _a(&b[4 * i * BLOCK], &a[6 * i * BLOCK], BLOCK, BLOCK, n)    # rows: A g Aᵀ (6x6)
    for q in range(P):
        im, c = (p0 + q) // K, (p0 + q) % K
        m = &gM[0, c, im * TT + t0]
        for i in range(36):
            for k in range(nt):
                m[i * step + k] = a[i * BLOCK + q * nt + k]


# ---- the filters: u = G g Gᵀ per 3x3 filter g, and its adjoint ------------------------------
# A block of up to BLOCK filters is held entry-major like the tiles (entry e of filter k at
# a[e*BLOCK + k]); G (6x3) and Gᵀ are applied to one column (or row) of every filter at once.
# Medians, float32, one thread, machine busy (a training run beside it), forward/backward µs:
#   w (64, 64, 3, 3)      reference (GEMM) 105/114   this 69/34   numba_cpu 90/104
#   w (128, 128, 3, 3)                     357/468       277/151              396/451
# The forward writes U, 4x the size of w, into fresh memory: most of its time.
cdef inline void _g(const real* src, Py_ssize_t s, real* dst, Py_ssize_t t,
                    Py_ssize_t n) noexcept nogil:
    """dst[i*t + k] = Σ_j G[i, j] src[j*s + k] for i < 6, every filter k < n."""
    # NOTE: products with 1/6, 1/12, 1/24, not divisions: gcc may not turn x / 6 into
    # x * (1/6) (not exact), and the divisions made this kernel slower than NumPy's GEMM.
    cdef real q = 0.25, r6 = 1.0 / 6, r12 = 1.0 / 12, r24 = 1.0 / 24, v0, v1, v2
    cdef Py_ssize_t k
    for k in range(n):
        v0, v1, v2 = src[k], src[s + k], src[2 * s + k]
        dst[k] = q * v0                                            # rows of G: (1/4, 0, 0)
        dst[t + k] = -r6 * (v0 + v1 + v2)                          # (-1/6, -1/6, -1/6)
        dst[2 * t + k] = r6 * (v1 - v0 - v2)                       # (-1/6, 1/6, -1/6)
        dst[3 * t + k] = r24 * v0 + r12 * v1 + r6 * v2             # (1/24, 1/12, 1/6)
        dst[4 * t + k] = r24 * v0 - r12 * v1 + r6 * v2             # (1/24, -1/12, 1/6)
        dst[5 * t + k] = v2                                        # (0, 0, 1)


cdef inline void _gt(const real* src, Py_ssize_t s, real* dst, Py_ssize_t t,
                     Py_ssize_t n) noexcept nogil:
    """dst[j*t + k] = Σ_i G[i, j] src[i*s + k] for j < 3: the adjoint of _g."""
    cdef real q = 0.25, r6 = 1.0 / 6, r12 = 1.0 / 12, r24 = 1.0 / 24
    cdef real u0, u1, u2, u3, u4, u5
    cdef Py_ssize_t k
    for k in range(n):
        u0, u1, u2 = src[k], src[s + k], src[2 * s + k]
        u3, u4, u5 = src[3 * s + k], src[4 * s + k], src[5 * s + k]
        dst[k] = q * u0 - r6 * (u1 + u2) + r24 * (u3 + u4)         # columns of G
        dst[t + k] = r6 * (u2 - u1) + r12 * (u3 - u4)
        dst[2 * t + k] = r6 * (u3 + u4 - u1 - u2) + u5


cdef void _weight_part(const real[:, ::1] w, real[:, ::1] U, Py_ssize_t first,
                       Py_ssize_t last) noexcept nogil:
    """U[:, f] = G w[f] Gᵀ (w[f] read as 3x3) for the filters f in [first, last)."""
    cdef real a[9 * BLOCK]
    cdef real b[18 * BLOCK]
    cdef Py_ssize_t F = U.shape[1], f0, n, blk, k, e, i, j
    for blk in range((last - first + BLOCK - 1) // BLOCK):
        f0 = first + blk * BLOCK
        n = min(<Py_ssize_t>BLOCK, last - f0)
        for k in range(n):
            for e in range(9):
                a[e * BLOCK + k] = w[f0 + k, e]
        for i in range(3):
            _g(&a[3 * i * BLOCK], BLOCK, &b[6 * i * BLOCK], BLOCK, n)     # rows: g Gᵀ
        for j in range(6):
            _g(&b[j * BLOCK], 6 * BLOCK, &U[j, f0], 6 * F, n)            # columns: G (g Gᵀ)


cdef void _weight_backward_part(const real[:, ::1] gU, real[:, ::1] gw, Py_ssize_t first,
                                Py_ssize_t last) noexcept nogil:
    """gw[f] = Gᵀ gu G (gu = gU[:, f] read as 6x6) for the filters f in [first, last)."""
    cdef real a[9 * BLOCK]
    cdef real b[18 * BLOCK]
    cdef Py_ssize_t F = gU.shape[1], f0, n, blk, k, e, i, j
    for blk in range((last - first + BLOCK - 1) // BLOCK):
        f0 = first + blk * BLOCK
        n = min(<Py_ssize_t>BLOCK, last - f0)
        for j in range(6):
            _gt(&gU[j, f0], 6 * F, &b[j * BLOCK], 6 * BLOCK, n)          # columns: Gᵀ gu
        for i in range(3):
            _gt(&b[6 * i * BLOCK], BLOCK, &a[3 * i * BLOCK], BLOCK, n)   # rows: (Gᵀ gu) G
        for k in range(n):
            for e in range(9):
                gw[f0 + k, e] = a[e * BLOCK + k]


def _weight(const real[:, ::1] w, real[:, ::1] U, Py_ssize_t first, Py_ssize_t last):
    with nogil:
        _weight_part(w, U, first, last)


def _weight_backward(const real[:, ::1] gU, real[:, ::1] gw, Py_ssize_t first,
                     Py_ssize_t last):
    with nogil:
        _weight_backward_part(gU, gw, first, last)


# ---- each thread's share: planes [first, last), the GIL released ---------------------------
# Small planes go several to a block (all their tiles), large ones a block of tiles at a time.
def _input_part(const real[:, :, :, ::1] x, real[:, :, :] V, Py_ssize_t ph, Py_ssize_t pw,
                Py_ssize_t TH, Py_ssize_t TW, Py_ssize_t first, Py_ssize_t last):
    cdef Py_ssize_t TT = TH * TW, per = max(1, BLOCK // TT), blk, tb, p
    with nogil:
        for blk in range((last - first + per - 1) // per):
            p = first + blk * per
            for tb in range((TT + BLOCK - 1) // BLOCK):
                _input_block(x, V, ph, pw, TW, p, min(per, last - p), tb * BLOCK,
                             min(<Py_ssize_t>BLOCK, TT - tb * BLOCK))


def _input_backward_part(const real[:, :, :] gV, real[:, :, :, ::1] gx, Py_ssize_t ph,
                         Py_ssize_t pw, Py_ssize_t TH, Py_ssize_t TW, Py_ssize_t first,
                         Py_ssize_t last):
    cdef Py_ssize_t TT = TH * TW, per = max(1, BLOCK // TT), blk, tb, p, q
    with nogil:
        for p in range(first, last):        # the tiles overlap: add into zeros
            memset(&gx[p // gx.shape[1], p % gx.shape[1], 0, 0], 0,
                   gx.shape[2] * gx.shape[3] * sizeof(real))
        for blk in range((last - first + per - 1) // per):
            p = first + blk * per
            for tb in range((TT + BLOCK - 1) // BLOCK):
                _input_backward_block(gV, gx, ph, pw, TW, p, min(per, last - p), tb * BLOCK,
                                      min(<Py_ssize_t>BLOCK, TT - tb * BLOCK))


def _output_part(const real[:, :, :] M, real[:, :, :, ::1] y, Py_ssize_t TH, Py_ssize_t TW,
                 Py_ssize_t first, Py_ssize_t last):
    cdef Py_ssize_t TT = TH * TW, per = max(1, BLOCK // TT), blk, tb, p
    with nogil:
        for blk in range((last - first + per - 1) // per):
            p = first + blk * per
            for tb in range((TT + BLOCK - 1) // BLOCK):
                _output_block(M, y, TW, p, min(per, last - p), tb * BLOCK,
                              min(<Py_ssize_t>BLOCK, TT - tb * BLOCK))


def _output_backward_part(const real[:, :, :, ::1] gy, real[:, :, :] gM, Py_ssize_t TH,
                          Py_ssize_t TW, Py_ssize_t first, Py_ssize_t last):
    cdef Py_ssize_t TT = TH * TW, per = max(1, BLOCK // TT), blk, tb, p
    with nogil:
        for blk in range((last - first + per - 1) // per):
            p = first + blk * per
            for tb in range((TT + BLOCK - 1) // BLOCK):
                _output_backward_block(gy, gM, TW, p, min(per, last - p), tb * BLOCK,
                                       min(<Py_ssize_t>BLOCK, TT - tb * BLOCK))


# ---- the contract's functions --------------------------------------------------------------
def winograd_input(x, ph, pw, out=None):
    """x (N, C, H, W) -> V (36, C, T) (contract: reference.py)."""
    OH, OW, TH, TW = check_input(x, ph, pw)
    x = np.ascontiguousarray(x)
    N, C = x.shape[:2]
    V = check_out("winograd_input", out, (ALPHA * ALPHA, C, N * TH * TW), x.dtype)
    V = tile_buffer(C, N * TH * TW, x.dtype) if V is None else V
    parallel_range(partial(_input_part, x, V, ph, pw, TH, TW), N * C, V.size)
    return V


def winograd_input_backward(gV, N, H, W, ph, pw, out=None):
    """gV (36, C, T) -> gx (N, C, H, W) (contract: reference.py)."""
    OH, OW, TH, TW = tiles(H, W, ph, pw)
    check_tiles("winograd_input_backward", "gV", gV, N * TH * TW)
    C = gV.shape[1]
    gx = check_out("winograd_input_backward", out, (N, C, H, W), gV.dtype)
    gx = np.empty((N, C, H, W), gV.dtype) if gx is None else gx
    parallel_range(partial(_input_backward_part, gV, gx, ph, pw, TH, TW), N * C, gV.size)
    return gx


def winograd_output(M, N, OH, OW, out=None):
    """M (36, K, T) -> y (N, K, OH, OW) (contract: reference.py)."""
    TH, TW = -(-OH // TILE), -(-OW // TILE)
    check_tiles("winograd_output", "M", M, N * TH * TW)
    K = M.shape[1]
    y = check_out("winograd_output", out, (N, K, OH, OW), M.dtype)
    y = np.empty((N, K, OH, OW), M.dtype) if y is None else y
    parallel_range(partial(_output_part, M, y, TH, TW), N * K, M.size)
    return y


def winograd_output_backward(gy, out=None):
    """gy (N, K, OH, OW) -> gM (36, K, T) (contract: reference.py)."""
    gy = np.ascontiguousarray(gy)
    N, K, OH, OW = gy.shape
    TH, TW = -(-OH // TILE), -(-OW // TILE)
    gM = check_out("winograd_output_backward", out, (ALPHA * ALPHA, K, N * TH * TW), gy.dtype)
    gM = tile_buffer(K, N * TH * TW, gy.dtype) if gM is None else gM
    parallel_range(partial(_output_backward_part, gy, gM, TH, TW), N * K, gM.size)
    return gM


def winograd_weight(w):
    """w (K, C, 3, 3) -> U (36, K, C) (contract: reference.py)."""
    check_weight("winograd_weight", "w", w, (None, None, 3, 3))
    K, C = w.shape[:2]
    w9 = np.ascontiguousarray(w).reshape(K * C, 9)
    U = np.empty((ALPHA * ALPHA, K * C), w.dtype)
    parallel_range(partial(_weight, w9, U), K * C, w.size)   # w: the smaller side
    return U.reshape(ALPHA * ALPHA, K, C)


def winograd_weight_backward(gU):
    """gU (36, K, C) -> gw (K, C, 3, 3) (contract: reference.py)."""
    check_weight("winograd_weight_backward", "gU", gU, (ALPHA * ALPHA, None, None))
    K, C = gU.shape[1:]
    g36 = np.ascontiguousarray(gU).reshape(ALPHA * ALPHA, K * C)
    gw = np.empty((K * C, 9), gU.dtype)
    parallel_range(partial(_weight_backward, g36, gw), K * C, gw.size)
    return gw.reshape(K, C, 3, 3)
