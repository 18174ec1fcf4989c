"""What the two CPU implementations share: the contract's functions around their row loops.

batch_norm.pyx and numba_cpu.py each compile four loops over a range [first, last) of the
P = N*C rows of x (row p = n*C + c holds channel c of image n, L values):

    stats_part(x, row_mean, row_m2, first, last)            each row's mean and Σ (x − mean)²
    forward_part(x, y, mean, scale, shift, first, last)      y = (x − μ)·s + β
    grad_sums_part(gy, x, mean, row_g, row_gx, first, last)  each row's Σ gy and Σ gy·(x − μ)
    grad_input_part(gy, x, mean, a, k, b, gx, training, first, last)
                                                             gx = a·gy − k·(x − μ) − b

and the functions here check the arguments, allocate, run the loops on the kernel threads
(kernels/_threads.py: one contiguous range of rows per thread, so no two threads write the
same row's outputs) and combine the (N, C) per-row sums into per-channel ones.
"""
from functools import partial

import numpy as np

from .._threads import parallel_range
from .reference import (backward_coefficients, check_gy, check_stats, check_vectors, check_x,
                        combine_rows, forward_coefficients, rows_shape)


def as_rows(a):
    """a (N, C, *) as C-contiguous (N*C, L) rows (a copy only where a is not contiguous)."""
    N, C, L = rows_shape(a)
    return np.ascontiguousarray(a).reshape(N * C, L)


def stats(stats_part, x):
    """batch_norm_stats (contract: reference.py) with the given row loop."""
    check_stats("batch_norm_stats", x)
    N, C, L = rows_shape(x)
    if L == 1:  # (N, C): rows of one value are their own means (NumPy is faster than a loop)
        return combine_rows(x.reshape(N, C).astype(np.float64), np.zeros((N, C)), 1)
    row_mean, row_m2 = np.empty((N, C)), np.empty((N, C))
    parallel_range(partial(stats_part, as_rows(x), row_mean.reshape(-1), row_m2.reshape(-1)),
                   N * C, x.size)
    return combine_rows(row_mean, row_m2, L)


def forward(forward_part, x, mean, invstd, weight, bias):
    """batch_norm_forward (contract: reference.py) with the given row loop."""
    check_x("batch_norm_forward", x)
    N, C, L = rows_shape(x)
    check_vectors("batch_norm_forward", C, mean=mean, invstd=invstd, weight=weight, bias=bias)
    y = np.empty((N * C, L), x.dtype)
    if y.size:
        vectors = forward_coefficients(mean, invstd, weight, bias, x.dtype)   # μ, s, β
        parallel_range(partial(forward_part, as_rows(x), y, *map(np.ascontiguousarray, vectors)),
                       N * C, y.size)
    return y.reshape(x.shape)


def backward(grad_sums_part, grad_input_part, gy, x, mean, invstd, weight, training,
             grad_input=True, grad_params=True):
    """batch_norm_backward (contract: reference.py) with the given row loops."""
    check_x("batch_norm_backward", x)
    check_gy("batch_norm_backward", gy, x)
    N, C, L = rows_shape(x)
    check_vectors("batch_norm_backward", C, mean=mean, invstd=invstd, weight=weight)
    g, rows = as_rows(gy), as_rows(x)
    gx = gweight = gbias = sum_g = sum_gx = None
    if grad_params or (grad_input and training):               # pass 1: the two sums
        mean64 = np.ascontiguousarray(mean, np.float64)
        if L == 1:  # (N, C): rows of one value are their own sums
            row_g = g.reshape(N, C).astype(np.float64)
            row_gx = row_g * (rows.reshape(N, C) - mean64)
        else:
            row_g, row_gx = np.empty((N, C)), np.empty((N, C))
            parallel_range(partial(grad_sums_part, g, rows, mean64, row_g.reshape(-1),
                                   row_gx.reshape(-1)), N * C, x.size)
        sum_g, sum_gx = row_g.sum(axis=0), row_gx.sum(axis=0) * invstd   # Σ gy, Σ gy·x̂
        if grad_params:
            gweight, gbias = sum_gx.astype(x.dtype), sum_g.astype(x.dtype)
    if grad_input:                                             # pass 2: gx
        coefficients = backward_coefficients(sum_gx, sum_g, invstd, weight, N * L, training)
        out = np.empty((N * C, L), x.dtype)
        if out.size:
            vectors = [np.ascontiguousarray(v, x.dtype) for v in (mean, *coefficients)]
            parallel_range(partial(grad_input_part, g, rows, *vectors, out, bool(training)),
                           N * C, out.size)
        gx = out.reshape(x.shape)
    return gx, gweight, gbias
