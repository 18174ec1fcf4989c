"""Batch normalization in Cython: nogil loops over rows of x, float32 and float64.

The contract is in reference.py; rows.py checks the arguments, allocates, runs these loops
on the kernel threads (kernels/_threads.py says why not OpenMP) and adds up their per-row
sums.  x is viewed as P = N*C rows of L values (row p = n*C + c holds channel c of image
n); each loop takes a range [first, last) of rows and writes only those rows' outputs, so
threads never race.

Passes over memory: forward, one to read x for the statistics (each row is read twice,
for its mean and then its squared deviations, but the second read hits the cache) and one
to write y; backward, one to read gy and x for the two sums and one to write gx.

NOTE: the float64 sums run in LANES independent accumulators.  A single running sum is
one chain of dependent adds (4 cycles each), and gcc may not reorder float adds by itself
(no -ffast-math); independent lanes let it keep several adds in flight and pack them into
SIMD registers.  And Σ gy and Σ gy·(x − μ) take one loop each over the row (the second
read hits L1): with both sums in one loop, gcc 12 vectorised neither (0.9 against 0.7 ms
for the two sums over (64, 16, 32, 32) float32).
"""
from . import rows

cdef enum:
    LANES = 8

ctypedef fused real:
    float
    double


# ---- one row of L values --------------------------------------------------------------------
cdef double _row_sum(const real* a, Py_ssize_t L) noexcept nogil:
    """Σ a[l] in float64."""
    cdef double s[LANES]
    cdef double total = 0
    cdef Py_ssize_t l, j, blk, body = L - L % LANES
    for j in range(LANES):
        s[j] = 0
    for blk in range(body // LANES):
        l = blk * LANES
        for j in range(LANES):
            s[j] += a[l + j]
    for l in range(body, L):
        total += a[l]
    for j in range(LANES):
        total += s[j]
    return total


cdef double _row_squares(const real* a, double mu, Py_ssize_t L) noexcept nogil:
    """Σ (a[l] − mu)² in float64."""
    cdef double s[LANES]
    cdef double total = 0, d
    cdef Py_ssize_t l, j, blk, body = L - L % LANES
    for j in range(LANES):
        s[j] = 0
    for blk in range(body // LANES):
        l = blk * LANES
        for j in range(LANES):
            d = a[l + j] - mu
            s[j] += d * d
    for l in range(body, L):
        d = a[l] - mu
        total += d * d
    for j in range(LANES):
        total += s[j]
    return total


cdef double _row_centred_dot(const real* g, const real* x, double mu,
                             Py_ssize_t L) noexcept nogil:
    """Σ g[l]·(x[l] − mu) in float64."""
    cdef double s[LANES]
    cdef double total = 0
    cdef Py_ssize_t l, j, blk, body = L - L % LANES
    for j in range(LANES):
        s[j] = 0
    for blk in range(body // LANES):
        l = blk * LANES
        for j in range(LANES):
            s[j] += g[l + j] * (x[l + j] - mu)
    for l in range(body, L):
        total += g[l] * (x[l] - mu)
    for j in range(LANES):
        total += s[j]
    return total


# ---- each thread's share: rows [first, last), the GIL released ------------------------------
def _stats_part(const real[:, ::1] x, double[::1] row_mean, double[::1] row_m2,
                Py_ssize_t first, Py_ssize_t last):
    """Each row's mean, then Σ (x − row mean)² while the row is still in cache."""
    cdef Py_ssize_t L = x.shape[1], p
    cdef double mu
    with nogil:
        for p in range(first, last):
            mu = _row_sum(&x[p, 0], L) / L
            row_mean[p] = mu
            row_m2[p] = _row_squares(&x[p, 0], mu, L)


def _forward_part(const real[:, ::1] x, real[:, ::1] y, const real[::1] mean,
                  const real[::1] scale, const real[::1] shift, Py_ssize_t first,
                  Py_ssize_t last):
    """y = (x − μ)·s + β, row by row."""
    cdef Py_ssize_t L = x.shape[1], C = mean.shape[0], p, l, c = first % C
    cdef const real* xrow
    cdef real* yrow
    cdef real mu, s, b
    with nogil:
        for p in range(first, last):      # row p is channel c, stepped along (no division)
            mu, s, b = mean[c], scale[c], shift[c]
            xrow, yrow = &x[p, 0], &y[p, 0]
            for l in range(L):
                yrow[l] = (xrow[l] - mu) * s + b
            c = c + 1 if c + 1 < C else 0


def _grad_sums_part(const real[:, ::1] gy, const real[:, ::1] x, const double[::1] mean,
                    double[::1] row_g, double[::1] row_gx, Py_ssize_t first, Py_ssize_t last):
    """Each row's Σ gy and Σ gy·(x − μ)."""
    cdef Py_ssize_t L = x.shape[1], C = mean.shape[0], p, c = first % C
    with nogil:
        for p in range(first, last):
            row_g[p] = _row_sum(&gy[p, 0], L)
            row_gx[p] = _row_centred_dot(&gy[p, 0], &x[p, 0], mean[c], L)
            c = c + 1 if c + 1 < C else 0


def _grad_input_part(const real[:, ::1] gy, const real[:, ::1] x, const real[::1] mean,
                     const real[::1] a, const real[::1] k, const real[::1] b, real[:, ::1] gx,
                     bint training, Py_ssize_t first, Py_ssize_t last):
    """gx = a·gy − k·(x − μ) − b (training), a·gy (eval), row by row."""
    cdef Py_ssize_t L = x.shape[1], C = mean.shape[0], p, l, c = first % C
    cdef const real* grow
    cdef const real* xrow
    cdef real* out
    cdef real mu, ac, kc, bc
    with nogil:
        for p in range(first, last):
            mu, ac, kc, bc = mean[c], a[c], k[c], b[c]
            grow, xrow, out = &gy[p, 0], &x[p, 0], &gx[p, 0]
            if training:
                for l in range(L):
                    out[l] = grow[l] * ac - (xrow[l] - mu) * kc - bc
            else:
                for l in range(L):
                    out[l] = grow[l] * ac
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
