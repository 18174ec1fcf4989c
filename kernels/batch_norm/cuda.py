"""Batch normalization as Numba CUDA kernels: a block per channel for the sums, a thread per
element for the rest.

The contract is in reference.py.  x is viewed as (N, C, L).  The launchers take CuPy
arrays (used in place through ``__cuda_array_interface__``; results are CuPy arrays) or
NumPy arrays (copied to the GPU and back: how the tests run them under Numba's simulator,
NUMBA_ENABLE_CUDASIM=1).  Importing this file needs no GPU.

Sums (the statistics; Σ gy and Σ gy·(x − μ) of the backward): block c owns channel c.
Each of its T threads (a power of two, up to MAX_THREADS) adds up every T-th of the
channel's m = N·L values (in float64: these kernels read one value per add, so memory, not
float64 arithmetic, sets their speed), then the block adds the threads' partial sums in
shared memory (sized at launch), halving the active threads each step (log2(T) steps).
One block writes each channel's result: no atomics.  The statistics take two such sweeps,
the mean and then the squared deviations from it, as reference.py says.  (The halving
loop is written out in each kernel: a device function would need a GPU to compile.)

Elementwise (y, gx): thread t owns element t of the (N, C, L) array, channel (t // L) % C,
and applies that channel's coefficients, computed on the host side (a few (C,) vectors).
"""
import numpy as np
from numba import cuda, float64

from .._gpu import array_module, launch_config
from .reference import (backward_coefficients, check_gy, check_stats, check_vectors, check_x,
                        forward_coefficients, rows_shape)

MAX_THREADS = 256  # per block of the channel sums


def _threads_for(m):
    """Threads per block for sums over m values: a power of two (for the halving steps), no
    more than m needs, at most MAX_THREADS."""
    return min(MAX_THREADS, 1 << max(0, int(m) - 1).bit_length())


@cuda.jit
def _stats_kernel(x, mean, var):
    """Block c: μ_c, then σ²_c = mean of (x − μ_c)², over x[:, c, :]."""
    N, C, L = x.shape
    c, t, threads, m = cuda.blockIdx.x, cuda.threadIdx.x, cuda.blockDim.x, N * L
    partial = cuda.shared.array(0, float64)  # `threads` of them, sized at launch
    mu, squares = 0.0, 0.0
    for sweep in range(2):                   # 0: Σ x, for μ; 1: Σ (x − μ)², for σ²
        total = 0.0
        for i in range(t, m, threads):
            d = x[i // L, c, i % L] - mu
            total += d if sweep == 0 else d * d
        partial[t] = total
        cuda.syncthreads()
        step = threads // 2
        while step > 0:                      # the block's sum, halving the threads each step
            if t < step:
                partial[t] += partial[t + step]
            cuda.syncthreads()
            step //= 2
        if sweep == 0:
            mu = partial[0] / m
        else:
            squares = partial[0]
        cuda.syncthreads()                   # all have read partial[0] before it changes
    if t == 0:
        mean[c], var[c] = mu, squares / m


@cuda.jit
def _grad_sums_kernel(gy, x, mean, sum_g, sum_gx):
    """Block c: Σ gy and Σ gy·(x − μ_c) over channel c."""
    N, C, L = x.shape
    c, t, threads = cuda.blockIdx.x, cuda.threadIdx.x, cuda.blockDim.x
    partial = cuda.shared.array(0, float64)  # 2·threads: the Σ gy, then the Σ gy·(x − μ)
    mu = mean[c]
    total_g, total_gx = 0.0, 0.0
    for i in range(t, N * L, threads):
        g = float64(gy[i // L, c, i % L])
        total_g += g
        total_gx += g * (x[i // L, c, i % L] - mu)
    partial[t], partial[threads + t] = total_g, total_gx
    cuda.syncthreads()
    step = threads // 2
    while step > 0:
        if t < step:
            partial[t] += partial[t + step]
            partial[threads + t] += partial[threads + t + step]
        cuda.syncthreads()
        step //= 2
    if t == 0:
        sum_g[c], sum_gx[c] = partial[0], partial[threads]


@cuda.jit
def _forward_kernel(x, y, mean, scale, shift):
    """y = (x − μ)·s + β, one element per thread of the (P, L) rows, P = N*C."""
    P, L = y.shape
    t = cuda.grid(1)
    if t >= y.size:
        return
    p, l = t // L, t % L
    c = p % mean.shape[0]
    y[p, l] = (x[p, l] - mean[c]) * scale[c] + shift[c]


@cuda.jit
def _grad_input_kernel(gy, x, mean, a, k, b, gx, training):
    """gx = a·gy − k·(x − μ) − b (training), a·gy (eval), one element per thread of the rows."""
    P, L = gx.shape
    t = cuda.grid(1)
    if t >= gx.size:
        return
    p, l = t // L, t % L
    c = p % mean.shape[0]
    if training:
        gx[p, l] = gy[p, l] * a[c] - (x[p, l] - mean[c]) * k[c] - b[c]
    else:
        gx[p, l] = gy[p, l] * a[c]


# ---- launchers: the contract's functions (reference.py) ----------------------------------------
def _view(xp, a, *shape):
    return xp.ascontiguousarray(a).reshape(*shape)


def batch_norm_stats(x):
    """(mean, var), float64 (C,) (contract: reference.py)."""
    check_stats("batch_norm_stats", x)
    xp = array_module(x)
    N, C, L = rows_shape(x)
    mean, var = xp.empty(C, np.float64), xp.empty(C, np.float64)
    threads = _threads_for(N * L)
    _stats_kernel[C, threads, 0, threads * 8](_view(xp, x, N, C, L), mean, var)
    return mean, var


def batch_norm_forward(x, mean, invstd, weight, bias):
    """y = (x − μ)·γ·invstd + β (contract: reference.py)."""
    check_x("batch_norm_forward", x)
    xp = array_module(x)
    N, C, L = rows_shape(x)
    check_vectors("batch_norm_forward", C, mean=mean, invstd=invstd, weight=weight, bias=bias)
    y = xp.empty((N * C, L), x.dtype)
    if y.size:
        vectors = [xp.ascontiguousarray(v) for v in
                   forward_coefficients(mean, invstd, weight, bias, x.dtype)]   # μ, s, β
        _forward_kernel[launch_config(y.size)](_view(xp, x, N * C, L), y, *vectors)
    return y.reshape(x.shape)


def batch_norm_backward(gy, x, mean, invstd, weight, training, grad_input=True,
                        grad_params=True):
    """(gx, gweight, gbias) (contract: reference.py)."""
    check_x("batch_norm_backward", x)
    check_gy("batch_norm_backward", gy, x)
    xp = array_module(x)
    N, C, L = rows_shape(x)
    check_vectors("batch_norm_backward", C, mean=mean, invstd=invstd, weight=weight)
    gx = gweight = gbias = sum_g = sum_gx = None
    if grad_params or (grad_input and training):               # pass 1: the two sums
        sum_g, sum_gx = xp.zeros(C, np.float64), xp.zeros(C, np.float64)
        if C:
            threads = _threads_for(N * L)
            _grad_sums_kernel[C, threads, 0, 2 * threads * 8](
                _view(xp, gy, N, C, L), _view(xp, x, N, C, L),
                xp.ascontiguousarray(mean, np.float64), sum_g, sum_gx)
        sum_gx = sum_gx * invstd                                  # Σ gy·x̂
        if grad_params:
            gweight, gbias = sum_gx.astype(x.dtype), sum_g.astype(x.dtype)
    if grad_input:                                             # pass 2: gx
        coefficients = backward_coefficients(sum_gx, sum_g, invstd, weight, N * L, training)
        out = xp.empty((N * C, L), x.dtype)
        if out.size:
            vectors = [xp.ascontiguousarray(v, x.dtype) for v in (mean, *coefficients)]
            _grad_input_kernel[launch_config(out.size)](
                _view(xp, gy, N * C, L), _view(xp, x, N * C, L), *vectors, out, bool(training))
        gx = out.reshape(x.shape)
    return gx, gweight, gbias
