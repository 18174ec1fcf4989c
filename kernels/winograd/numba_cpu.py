"""Winograd F(4x4, 3x3) transforms with Numba, compiled on first call (per dtype, cached).

The contract (layouts, formulas) is in reference.py; the structure is winograd.pyx's. Each
kernel runs over the N*C (or N*K) image planes, a contiguous range per thread
(kernels/_threads.py; the jitted loops release the GIL), planes going through in blocks of
up to BLOCK tiles held entry-major: entry e of tile k of the block is a[e, k]. A transform
is then, per column (or row) of the 6x6 entries, a unit-stride loop over the block's tiles
from one array into the other, which LLVM vectorises for this very CPU.

NOTE: why not parallel=True. Numba's threading layer here is OpenMP, whose idle threads
spin beside the BLAS threads of the next GEMM (kernels/_threads.py has the figures).
"""
from functools import partial

import numpy as np
from numba import njit

from .._threads import parallel_range
from .reference import (ALPHA, TILE, check_input, check_out, check_tiles,  # noqa: F401
                        check_weight, tile_buffer, tiles)

BLOCK = 128


@njit(cache=True, inline="always")
def _bt(src, dst, r, s, n):
    """dst[r + i*s, k] = Σ_a Bᵀ[i, a] src[r + a*s, k] for i < 6, every tile k < n."""
    for k in range(n):
        v0, v1, v2 = src[r, k], src[r + s, k], src[r + 2 * s, k]
        v3, v4, v5 = src[r + 3 * s, k], src[r + 4 * s, k], src[r + 5 * s, k]
        dst[r, k] = 4 * v0 - 5 * v2 + v4                 # rows of Bᵀ: (4, 0, -5, 0, 1, 0)
        dst[r + s, k] = v3 + v4 - 4 * (v1 + v2)          # (0, -4, -4, 1, 1, 0)
        dst[r + 2 * s, k] = v4 - v3 + 4 * (v1 - v2)      # (0, 4, -4, -1, 1, 0)
        dst[r + 3 * s, k] = v4 - v2 + 2 * (v3 - v1)      # (0, -2, -1, 2, 1, 0)
        dst[r + 4 * s, k] = v4 - v2 + 2 * (v1 - v3)      # (0, 2, -1, -2, 1, 0)
        dst[r + 5 * s, k] = 4 * v1 - 5 * v3 + v5        # (0, 4, 0, -5, 0, 1)


@njit(cache=True, inline="always")
def _b(src, dst, r, s, n):
    """dst[r + i*s, k] = Σ_a B[i, a] src[r + a*s, k], B = (Bᵀ)ᵀ: the adjoint of _bt."""
    for k in range(n):
        v0, v1, v2 = src[r, k], src[r + s, k], src[r + 2 * s, k]
        v3, v4, v5 = src[r + 3 * s, k], src[r + 4 * s, k], src[r + 5 * s, k]
        dst[r, k] = 4 * v0
        dst[r + s, k] = 4 * (v2 - v1 + v5) + 2 * (v4 - v3)
        dst[r + 2 * s, k] = -5 * v0 - 4 * (v1 + v2) - v3 - v4
        dst[r + 3 * s, k] = v1 - v2 + 2 * (v3 - v4) - 5 * v5
        dst[r + 4 * s, k] = v0 + v1 + v2 + v3 + v4
        dst[r + 5 * s, k] = v5


@njit(cache=True, inline="always")
def _at(src, dst, r, s, q, t, n):
    """dst[q + i*t, k] = Σ_a Aᵀ[i, a] src[r + a*s, k] for i < 4, every tile k < n."""
    for k in range(n):
        m0, m1, m2 = src[r, k], src[r + s, k], src[r + 2 * s, k]
        m3, m4, m5 = src[r + 3 * s, k], src[r + 4 * s, k], src[r + 5 * s, k]
        dst[q, k] = m0 + m1 + m2 + m3 + m4               # rows of Aᵀ: (1, 1, 1, 1, 1, 0)
        dst[q + t, k] = m1 - m2 + 2 * (m3 - m4)          # (0, 1, -1, 2, -2, 0)
        dst[q + 2 * t, k] = m1 + m2 + 4 * (m3 + m4)      # (0, 1, 1, 4, 4, 0)
        dst[q + 3 * t, k] = m1 - m2 + 8 * (m3 - m4) + m5  # (0, 1, -1, 8, -8, 1)


@njit(cache=True, inline="always")
def _a(src, dst, r, s, q, t, n):
    """dst[q + a*t, k] = Σ_i Aᵀ[i, a] src[r + i*s, k] for a < 6: the adjoint of _at."""
    for k in range(n):
        g0, g1, g2, g3 = src[r, k], src[r + s, k], src[r + 2 * s, k], src[r + 3 * s, k]
        dst[q, k] = g0
        dst[q + t, k] = g0 + g1 + g2 + g3
        dst[q + 2 * t, k] = g0 - g1 + g2 - g3
        dst[q + 3 * t, k] = g0 + 2 * g1 + 4 * g2 + 8 * g3
        dst[q + 4 * t, k] = g0 - 2 * g1 + 4 * g2 - 8 * g3
        dst[q + 5 * t, k] = g3


@njit(cache=True, inline="always")
def _columns(TW, L, offset):
    """The tile columns tw whose image column TILE*tw + offset lies in [0, L)."""
    first = 0 if offset >= 0 else (-offset + TILE - 1) // TILE
    return first, max(first, min(TW, (L - offset + TILE - 1) // TILE))


@njit(cache=True)
def _blocks(first, last, TT):
    """(p0, planes, t0, tiles) per block: several small planes, or a large one's tiles."""
    per = max(1, BLOCK // TT)
    out = []
    for p in range(first, last, per):
        for t0 in range(0, TT, BLOCK):
            out.append((p, min(per, last - p), t0, min(BLOCK, TT - t0)))
    return out


@njit(cache=True, nogil=True)
def _input(x, V, ph, pw, TH, TW, first, last):
    N, C, H, W = x.shape
    TT = TH * TW
    a, b = np.empty((36, BLOCK), x.dtype), np.empty((36, BLOCK), x.dtype)
    for p0, P, t0, nt in _blocks(first, last, TT):
        a[:, :P * nt] = 0
        for q in range(P):                          # a[6i + j, k] = d[i, j] of tile k
            n, c = (p0 + q) // C, (p0 + q) % C
            for th in range(t0 // TW, (t0 + nt - 1) // TW + 1):
                lo, hi = max(t0 - th * TW, 0), min(t0 + nt - th * TW, TW)
                k0 = q * nt + th * TW - t0
                for i in range(6):
                    h = TILE * th - ph + i
                    if 0 <= h < H:                  # the part inside x; the rest stays 0
                        for j in range(6):
                            first, end = _columns(TW, W, j - pw)
                            for tw in range(max(lo, first), min(hi, end)):
                                a[6 * i + j, k0 + tw] = x[n, c, h, TILE * tw + j - pw]
        for j in range(6):
            _bt(a, b, j, 6, P * nt)                 # columns: Bᵀ d
        for i in range(6):
            _bt(b, a, 6 * i, 1, P * nt)             # rows: (Bᵀ d) B
        for q in range(P):
            n, c = (p0 + q) // C, (p0 + q) % C
            for e in range(36):
                V[e, c, n * TT + t0:n * TT + t0 + nt] = a[e, q * nt:q * nt + nt]


@njit(cache=True, nogil=True)
def _input_backward(gV, gx, ph, pw, TH, TW, first, last):
    N, C, H, W = gx.shape
    TT = TH * TW
    a, b = np.empty((36, BLOCK), gx.dtype), np.empty((36, BLOCK), gx.dtype)
    for p in range(first, last):                    # the tiles overlap: add into zeros
        gx[p // C, p % C] = 0
    for p0, P, t0, nt in _blocks(first, last, TT):
        for q in range(P):
            n, c = (p0 + q) // C, (p0 + q) % C
            for e in range(36):
                a[e, q * nt:q * nt + nt] = gV[e, c, n * TT + t0:n * TT + t0 + nt]
        for i in range(6):
            _b(a, b, 6 * i, 1, P * nt)              # rows: gv Bᵀ
        for j in range(6):
            _b(b, a, j, 6, P * nt)                  # columns: B (gv Bᵀ)
        for q in range(P):                          # add each tile back where it was read
            n, c = (p0 + q) // C, (p0 + q) % C
            for th in range(t0 // TW, (t0 + nt - 1) // TW + 1):
                lo, hi = max(t0 - th * TW, 0), min(t0 + nt - th * TW, TW)
                k0 = q * nt + th * TW - t0
                for i in range(6):
                    h = TILE * th - ph + i
                    if 0 <= h < H:                  # (the padding is dropped)
                        for j in range(6):
                            first, end = _columns(TW, W, j - pw)
                            for tw in range(max(lo, first), min(hi, end)):
                                gx[n, c, h, TILE * tw + j - pw] += a[6 * i + j, k0 + tw]


@njit(cache=True, nogil=True)
def _output(M, y, TH, TW, first, last):
    N, K, OH, OW = y.shape
    TT = TH * TW
    a, b = np.empty((36, BLOCK), y.dtype), np.empty((36, BLOCK), y.dtype)
    for p0, P, t0, nt in _blocks(first, last, TT):
        for q in range(P):
            n, c = (p0 + q) // K, (p0 + q) % K
            for e in range(36):
                a[e, q * nt:q * nt + nt] = M[e, c, n * TT + t0:n * TT + t0 + nt]
        for j in range(6):
            _at(a, b, j, 6, j, 6, P * nt)           # columns: Aᵀ m (4x6)
        for i in range(4):
            _at(b, a, 6 * i, 1, 4 * i, 1, P * nt)   # rows: Aᵀ m A (4x4)
        for q in range(P):                          # drop what lies past the edge
            n, c = (p0 + q) // K, (p0 + q) % K
            for th in range(t0 // TW, (t0 + nt - 1) // TW + 1):
                lo, hi = max(t0 - th * TW, 0), min(t0 + nt - th * TW, TW)
                k0 = q * nt + th * TW - t0
                for i in range(min(TILE, OH - TILE * th)):
                    for j in range(TILE):
                        for tw in range(lo, min(hi, _columns(TW, OW, j)[1])):
                            y[n, c, TILE * th + i, TILE * tw + j] = a[4 * i + j, k0 + tw]


@njit(cache=True, nogil=True)
def _output_backward(gy, gM, TH, TW, first, last):
    N, K, OH, OW = gy.shape
    TT = TH * TW
    a, b = np.empty((36, BLOCK), gy.dtype), np.empty((36, BLOCK), gy.dtype)
    for p0, P, t0, nt in _blocks(first, last, TT):
        a[:16, :P * nt] = 0
        for q in range(P):                          # a[4i + j, k] = g[i, j], 0 past the edge
            n, c = (p0 + q) // K, (p0 + q) % K
            for th in range(t0 // TW, (t0 + nt - 1) // TW + 1):
                lo, hi = max(t0 - th * TW, 0), min(t0 + nt - th * TW, TW)
                k0 = q * nt + th * TW - t0
                for i in range(min(TILE, OH - TILE * th)):
                    for j in range(TILE):
                        for tw in range(lo, min(hi, _columns(TW, OW, j)[1])):
                            a[4 * i + j, k0 + tw] = gy[n, c, TILE * th + i, TILE * tw + j]
        for j in range(4):
            _a(a, b, j, 4, j, 4, P * nt)            # columns: A g (6x4)
        for i in range(6):
            _a(b, a, 4 * i, 1, 6 * i, 1, P * nt)    # rows: A g Aᵀ (6x6)
        for q in range(P):
            n, c = (p0 + q) // K, (p0 + q) % K
            for e in range(36):
                gM[e, c, n * TT + t0:n * TT + t0 + nt] = a[e, q * nt:q * nt + nt]


# Products with 1/6, 1/12, 1/24, not divisions (LLVM may not turn x / 6 into x * (1/6): not
# exact), which made the filter transforms slower than NumPy's GEMM.
R6, R12, R24 = 1 / 6, 1 / 12, 1 / 24


@njit(cache=True, inline="always")
def _g(src, r, s, dst, q, t, n):
    """dst[q + i*t, k] = Σ_j G[i, j] src[r + j*s, k] for i < 6, every filter k < n."""
    for k in range(n):
        v0, v1, v2 = src[r, k], src[r + s, k], src[r + 2 * s, k]
        dst[q, k] = 0.25 * v0                                      # rows of G: (1/4, 0, 0)
        dst[q + t, k] = -R6 * (v0 + v1 + v2)                       # (-1/6, -1/6, -1/6)
        dst[q + 2 * t, k] = R6 * (v1 - v0 - v2)                    # (-1/6, 1/6, -1/6)
        dst[q + 3 * t, k] = R24 * v0 + R12 * v1 + R6 * v2          # (1/24, 1/12, 1/6)
        dst[q + 4 * t, k] = R24 * v0 - R12 * v1 + R6 * v2          # (1/24, -1/12, 1/6)
        dst[q + 5 * t, k] = v2                                     # (0, 0, 1)


@njit(cache=True, inline="always")
def _gt(src, r, s, dst, q, t, n):
    """dst[q + j*t, k] = Σ_i G[i, j] src[r + i*s, k] for j < 3: the adjoint of _g."""
    for k in range(n):
        u0, u1, u2 = src[r, k], src[r + s, k], src[r + 2 * s, k]
        u3, u4, u5 = src[r + 3 * s, k], src[r + 4 * s, k], src[r + 5 * s, k]
        dst[q, k] = 0.25 * u0 - R6 * (u1 + u2) + R24 * (u3 + u4)   # columns of G
        dst[q + t, k] = R6 * (u2 - u1) + R12 * (u3 - u4)
        dst[q + 2 * t, k] = R6 * (u3 + u4 - u1 - u2) + u5


@njit(cache=True, nogil=True)
def _weight(w9, U, first, last):
    """U[:, f] = G w Gᵀ of filter f (w9[f] read as 3x3) for f in [first, last)."""
    a, b = np.empty((9, BLOCK), w9.dtype), np.empty((18, BLOCK), w9.dtype)
    for f0 in range(first, last, BLOCK):
        n = min(BLOCK, last - f0)
        a[:, :n] = w9[f0:f0 + n].T                  # a[3i + j, k] = w[i, j] of filter k
        for i in range(3):
            _g(a, 3 * i, 1, b, 6 * i, 1, n)         # rows: w Gᵀ (3x6)
        u = U[:, f0:f0 + n]
        for j in range(6):
            _g(b, j, 6, u, j, 6, n)                 # columns: G (w Gᵀ) (6x6)


@njit(cache=True, nogil=True)
def _weight_backward(g36, gw, first, last):
    """gw[f] = Gᵀ gu G of filter f (g36[:, f] read as 6x6) for f in [first, last)."""
    a, b = np.empty((9, BLOCK), g36.dtype), np.empty((18, BLOCK), g36.dtype)
    for f0 in range(first, last, BLOCK):
        n = min(BLOCK, last - f0)
        gu = g36[:, f0:f0 + n]
        for j in range(6):
            _gt(gu, j, 6, b, j, 6, n)               # columns: Gᵀ gu (3x6)
        for i in range(3):
            _gt(b, 6 * i, 1, a, 3 * i, 1, n)        # rows: (Gᵀ gu) G (3x3)
        gw[f0:f0 + n] = a[:, :n].T


def winograd_input(x, ph, pw, out=None):
    """x (N, C, H, W) -> V (36, C, T) (contract: reference.py)."""
    OH, OW, TH, TW = check_input(x, ph, pw)
    x = np.ascontiguousarray(x)
    N, C = x.shape[:2]
    V = check_out("winograd_input", out, (ALPHA * ALPHA, C, N * TH * TW), x.dtype)
    V = tile_buffer(C, N * TH * TW, x.dtype) if V is None else V
    parallel_range(partial(_input, x, V, ph, pw, TH, TW), N * C, V.size)
    return V


def winograd_input_backward(gV, N, H, W, ph, pw, out=None):
    """gV (36, C, T) -> gx (N, C, H, W) (contract: reference.py)."""
    OH, OW, TH, TW = tiles(H, W, ph, pw)
    check_tiles("winograd_input_backward", "gV", gV, N * TH * TW)
    C = gV.shape[1]
    gx = check_out("winograd_input_backward", out, (N, C, H, W), gV.dtype)
    gx = np.empty((N, C, H, W), gV.dtype) if gx is None else gx
    parallel_range(partial(_input_backward, gV, gx, ph, pw, TH, TW), N * C, gV.size)
    return gx


def winograd_output(M, N, OH, OW, out=None):
    """M (36, K, T) -> y (N, K, OH, OW) (contract: reference.py)."""
    TH, TW = -(-OH // TILE), -(-OW // TILE)
    check_tiles("winograd_output", "M", M, N * TH * TW)
    K = M.shape[1]
    y = check_out("winograd_output", out, (N, K, OH, OW), M.dtype)
    y = np.empty((N, K, OH, OW), M.dtype) if y is None else y
    parallel_range(partial(_output, M, y, TH, TW), N * K, M.size)
    return y


def winograd_output_backward(gy, out=None):
    """gy (N, K, OH, OW) -> gM (36, K, T) (contract: reference.py)."""
    gy = np.ascontiguousarray(gy)
    N, K, OH, OW = gy.shape
    TH, TW = -(-OH // TILE), -(-OW // TILE)
    gM = check_out("winograd_output_backward", out, (ALPHA * ALPHA, K, N * TH * TW), gy.dtype)
    gM = tile_buffer(K, N * TH * TW, gy.dtype) if gM is None else gM
    parallel_range(partial(_output_backward, gy, gM, TH, TW), N * K, gM.size)
    return gM


def winograd_weight(w):
    """w (K, C, 3, 3) -> U (36, K, C) (contract: reference.py)."""
    check_weight("winograd_weight", "w", w, (None, None, 3, 3))
    K, C = w.shape[:2]
    U = np.empty((ALPHA * ALPHA, K * C), w.dtype)
    parallel_range(partial(_weight, np.ascontiguousarray(w).reshape(K * C, 9), U), K * C,
                   w.size)                                # w: the smaller side
    return U.reshape(ALPHA * ALPHA, K, C)


def winograd_weight_backward(gU):
    """gU (36, K, C) -> gw (K, C, 3, 3) (contract: reference.py)."""
    check_weight("winograd_weight_backward", "gU", gU, (ALPHA * ALPHA, None, None))
    K, C = gU.shape[1:]
    gw = np.empty((K * C, 9), gU.dtype)
    parallel_range(partial(_weight_backward,
                           np.ascontiguousarray(gU).reshape(ALPHA * ALPHA, K * C), gw),
                   K * C, gw.size)
    return gw.reshape(K, C, 3, 3)
