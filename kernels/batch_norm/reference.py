"""Batch normalization's passes in plain NumPy: the readable version and the oracle.

Every implementation views x (N, C, *) as rows (N, C, L), L the product of the trailing
dims (1 for an (N, C) input), and works per channel c over its m = N·L values.  The
contract, shared by every implementation in this folder (same names, same arguments);
x and gy float32 or float64, results C-contiguous:

``batch_norm_stats(x) -> (mean, var)``
    float64 (C,) each, accumulated in float64 whatever x's dtype::

        μ_c = (1/m) Σ_{n,l} x[n, c, l]        σ²_c = (1/m) Σ_{n,l} (x[n, c, l] − μ_c)²

    (the *biased* variance of Alg. 1 of [IS15]; the caller makes the running one unbiased).
    Needs m >= 1.  NOTE: Σx² − m·μ² cancels catastrophically when |μ| >> σ; every
    implementation sums squares of deviations from a mean instead.

``batch_norm_forward(x, mean, invstd, weight, bias) -> y``
    mean, invstd, weight (γ), bias (β): (C,); weight and bias may be None (γ = 1, β = 0).
    Computed in x's dtype, as ``y = (x − μ_c)·(γ_c·invstd_c) + β_c`` (x − μ first: that
    difference is exact for x near μ, where x·s − μ·s would cancel).

``batch_norm_backward(gy, x, mean, invstd, weight, training, grad_input=True,
grad_params=True) -> (gx, gweight, gbias)``
    The gradients of y above, for gy (the shape of x)::

        x̂ = (x − μ)·invstd          gbias_c = Σ gy,   gweight_c = Σ gy·x̂    (float64 sums)
        training (μ, invstd are the batch's, functions of x):
            gx = γ·invstd·(gy − gbias/m − x̂·gweight/m)
        eval (μ, invstd are constants):
            gx = γ·invstd·gy

    x̂ is recomputed from x: the forward keeps x rather than x̂ (same memory, one write fewer
    in the forward, x̂ costs one subtraction and one product in the backward; PyTorch's
    kernel does the same).  gx is None unless grad_input; gweight and gbias (x's dtype,
    gweight given even where weight is None) are None unless grad_params.

The fast implementations make two passes over memory each way: the forward one pass for
the statistics (each row, while in cache, gives its mean and squared deviations; the
rows are then combined exactly with ``combine_rows``) and one to write y; the backward one
pass for the two sums and one to write gx, with the per-channel coefficients of
``backward_coefficients`` in between.

References
----------
[IS15] S. Ioffe, C. Szegedy. Batch Normalization: Accelerating Deep Network Training by
       Reducing Internal Covariate Shift. ICML 2015.
"""
import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


# ---- checks and helpers every implementation shares -----------------------------------------
def check_x(fn, x, name="x"):
    """x must be float32/float64 of shape (N, C, *)."""
    if x.ndim < 2:
        raise ValueError(f"{fn}: {name} must be (N, C, *), got shape {tuple(x.shape)}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{fn}: {name} must be float32 or float64, got {x.dtype}")


def check_stats(fn, x):
    """x as for check_x, with at least one value per channel."""
    check_x(fn, x)
    N, C, L = rows_shape(x)
    if N * L == 0:
        raise ValueError(f"{fn}: needs at least one value per channel, got shape "
                         f"{tuple(x.shape)}")


def check_vectors(fn, C, **vectors):
    """Each vector given must be (C,); None is allowed."""
    for name, v in vectors.items():
        if v is not None and tuple(v.shape) != (C,):
            raise ValueError(f"{fn}: {name} must have shape ({C},) for {C} channels, "
                             f"got {tuple(v.shape)}")


def check_gy(fn, gy, x):
    check_x(fn, gy, "gy")
    if gy.shape != x.shape or gy.dtype != x.dtype:
        raise ValueError(f"{fn}: gy must match x, {tuple(x.shape)} {x.dtype}; got "
                         f"{tuple(gy.shape)} {gy.dtype}")


def rows_shape(x):
    """(N, C, L): x seen as rows of L values."""
    N, C = x.shape[:2]
    return N, C, (x.size // (N * C) if N * C else 0)


def combine_rows(row_mean, row_m2, L):
    """(mean, var) (C,) from each row's mean and Σ (x − row mean)², (N, C) arrays of rows of
    L values each: μ = mean of the row means; m·σ² = Σ row_m2 + L·Σ (row mean − μ)²
    (the law of total variance: exact, no cancellation)."""
    mean = row_mean.mean(axis=0)
    m2 = row_m2.sum(axis=0) + L * ((row_mean - mean) ** 2).sum(axis=0)
    return mean, m2 / (row_mean.shape[0] * L)


def forward_coefficients(mean, invstd, weight, bias, dtype):
    """Per-channel (μ, s, β) in x's dtype with y = (x − μ)·s + β, s = γ·invstd.  Works on
    NumPy or CuPy vectors alike (arithmetic and astype only)."""
    scale = (invstd if weight is None else weight * invstd).astype(dtype)
    shift = 0 * scale if bias is None else bias.astype(dtype)
    return mean.astype(dtype), scale, shift


def backward_coefficients(gweight_sum, gbias_sum, invstd, weight, m, training):
    """Per-channel (a, k, b) with gx = a·gy − k·(x − μ) − b, from the float64 sums.

    a = γ·invstd; training: k = a·invstd·Σgy·x̂/m (x̂ = (x − μ)·invstd), b = a·Σgy/m;
    eval: k = b = 0.  Works on NumPy or CuPy vectors alike (arithmetic only)."""
    a = invstd if weight is None else weight * invstd
    if not training:
        return a, 0 * a, 0 * a
    return a, a * invstd * (gweight_sum / m), a * (gbias_sum / m)


# ---- the contract ----------------------------------------------------------------------------
def batch_norm_stats(x):
    """(mean, var), float64 (C,): per channel over N and every spatial position."""
    check_stats("batch_norm_stats", x)
    N, C, L = rows_shape(x)
    rows = x.reshape(N, C, L).astype(np.float64)
    mean = rows.mean(axis=(0, 2))
    var = ((rows - mean[:, None]) ** 2).mean(axis=(0, 2))
    return mean, var


def batch_norm_forward(x, mean, invstd, weight, bias):
    """y = (x − μ)·γ·invstd + β, x's shape and dtype."""
    check_x("batch_norm_forward", x)
    N, C, L = rows_shape(x)
    check_vectors("batch_norm_forward", C, mean=mean, invstd=invstd, weight=weight, bias=bias)
    mean, scale, shift = forward_coefficients(mean, invstd, weight, bias, x.dtype)
    y = (x.reshape(N, C, L) - mean[:, None]) * scale[:, None] + shift[:, None]
    return np.ascontiguousarray(y, x.dtype).reshape(x.shape)


def batch_norm_backward(gy, x, mean, invstd, weight, training, grad_input=True,
                        grad_params=True):
    """(gx, gweight, gbias); see the module docstring."""
    check_x("batch_norm_backward", x)
    check_gy("batch_norm_backward", gy, x)
    N, C, L = rows_shape(x)
    check_vectors("batch_norm_backward", C, mean=mean, invstd=invstd, weight=weight)
    dtype = x.dtype
    g = gy.reshape(N, C, L).astype(np.float64)
    xhat = (x.reshape(N, C, L).astype(np.float64) - mean[:, None]) * invstd[:, None]
    gbias, gweight = g.sum(axis=(0, 2)), (g * xhat).sum(axis=(0, 2))   # float64 (C,)
    gx = None
    if grad_input:
        scale = invstd if weight is None else weight * invstd           # γ·invstd
        if training:
            m = N * L
            gx = scale[:, None] * (g - gbias[:, None] / m - xhat * gweight[:, None] / m)
        else:
            gx = scale[:, None] * g
        gx = np.ascontiguousarray(gx, dtype).reshape(x.shape)
    if not grad_params:
        return gx, None, None
    return gx, gweight.astype(dtype), gbias.astype(dtype)
