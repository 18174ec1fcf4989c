"""Batch normalization with Numba, compiled on first call (one version per dtype, cached).

The contract is in reference.py; the structure is batch_norm.pyx's, line for line: x seen
as P = N*C rows of L values (row p = n*C + c), a contiguous range of rows per thread
(kernels/_threads.py; the jitted loops release the GIL; not parallel=True, see
im2col/numba_cpu.py), each row writing only its own outputs; NumPy adds up the (N, C)
per-row partial sums.

The float64 sums are compiled with fastmath={"reassoc"}: LLVM may then reorder one running
sum into several SIMD lanes (AVX-512 here: 8 float64 adds at once).  Only the order of the
float64 additions changes; NaN and inf keep their IEEE meaning (no "nnan"/"ninf" flags).
"""
import numpy as np
from numba import njit

from . import rows

_SUMS = dict(cache=True, nogil=True, fastmath={"reassoc"})


@njit(**_SUMS)
def _stats_part(x, row_mean, row_m2, first, last):
    """Each row's mean, then Σ (x − row mean)² while the row is still in cache."""
    L = x.shape[1]
    for p in range(first, last):
        total = 0.0
        for l in range(L):
            total += np.float64(x[p, l])
        mu = total / L
        squares = 0.0
        for l in range(L):
            d = np.float64(x[p, l]) - mu
            squares += d * d
        row_mean[p], row_m2[p] = mu, squares


@njit(cache=True, nogil=True)
def _forward_part(x, y, mean, scale, shift, first, last):
    """y = (x − μ)·s + β, row by row."""
    L, C = x.shape[1], mean.shape[0]
    c = first % C                        # row p's channel, stepped along (no division per row)
    for p in range(first, last):
        mu, s, b = mean[c], scale[c], shift[c]
        for l in range(L):
            y[p, l] = (x[p, l] - mu) * s + b
        c = c + 1 if c + 1 < C else 0


@njit(**_SUMS)
def _grad_sums_part(gy, x, mean, row_g, row_gx, first, last):
    """Each row's Σ gy and Σ gy·(x − μ)."""
    L, C = x.shape[1], mean.shape[0]
    c = first % C
    for p in range(first, last):
        mu = mean[c]
        sum_g, sum_gx = 0.0, 0.0
        for l in range(L):
            g = np.float64(gy[p, l])
            sum_g += g
            sum_gx += g * (np.float64(x[p, l]) - mu)
        row_g[p], row_gx[p] = sum_g, sum_gx
        c = c + 1 if c + 1 < C else 0


@njit(cache=True, nogil=True)
def _grad_input_part(gy, x, mean, a, k, b, gx, training, first, last):
    """gx = a·gy − k·(x − μ) − b (training), a·gy (eval), row by row."""
    L, C = x.shape[1], mean.shape[0]
    c = first % C
    for p in range(first, last):
        mu, ac, kc, bc = mean[c], a[c], k[c], b[c]
        if training:
            for l in range(L):
                gx[p, l] = gy[p, l] * ac - (x[p, l] - mu) * kc - bc
        else:
            for l in range(L):
                gx[p, l] = gy[p, l] * ac
        c = c + 1 if c + 1 < C else 0


# ---- the contract's functions (reference.py), around these loops (rows.py) -----------------
def batch_norm_stats(x):
    """(mean, var), float64 (C,) (contract: reference.py)."""
    return rows.stats(_stats_part, x)


def batch_norm_forward(x, mean, invstd, weight, bias):
    """y = (x − μ)·γ·invstd + β (contract: reference.py)."""
    return rows.forward(_forward_part, x, mean, invstd, weight, bias)


def batch_norm_backward(gy, x, mean, invstd, weight, training, grad_input=True,
                        grad_params=True):
    """(gx, gweight, gbias) (contract: reference.py)."""
    return rows.backward(_grad_sums_part, _grad_input_part, gy, x, mean, invstd, weight,
                         training, grad_input, grad_params)
