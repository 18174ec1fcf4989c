"""Depthwise 2-D convolution with Numba, compiled on first call (per dtype, cached).

The contract (shapes, formulas) is in reference.py; the structure is depthwise_conv2d.pyx's.
The forward runs over the N*K output planes, the input backward over the N*C input planes,
the weight backward over the K filters, a contiguous range per thread (kernels/_threads.py;
the jitted loops release the GIL; see winograd/numba_cpu.py for why not parallel=True).

With stride 1 a plane is handled as one flat vector: tap (i, j) of the output at the "wide"
position oh*Wp + ow reads the zero-padded plane (Hp x Wp) at that position plus
i*dh*Wp + j*dw, so each tap is one long multiply-add; other strides loop over outputs and
test every tap against the image borders.
"""
from functools import partial

import numpy as np
from numba import njit

from .._threads import parallel_range
from .reference import check_arrays, check_backward, check_geometry


@njit(cache=True, inline="always")
def _pad(plane, ph, pw, out):
    """out (Hp, Wp) = the plane with ph rows and pw columns of zeros around it."""
    H, W = plane.shape
    out[:] = 0
    out[ph:ph + H, pw:pw + W] = plane


@njit(cache=True, inline="always")
def _dot(x, y, n):
    """Σ_t x[t] y[t] for t < n, in 16 running partial sums (vectorisable without reordering
    one long sum), added up in float64."""
    part = np.zeros(16, x.dtype)
    for t in range(0, n - n % 16, 16):
        for lane in range(16):
            part[lane] += x[t + lane] * y[t + lane]
    total = 0.0
    for t in range(n - n % 16, n):
        total += x[t] * y[t]
    return total + part.astype(np.float64).sum()


@njit(cache=True, inline="always")
def _axpy(a, x, y, n):
    """y[t] += a * x[t] for t < n (x, y flat)."""
    for t in range(n):
        y[t] += a * x[t]


@njit(cache=True, nogil=True)
def _forward(x, w, y, sh, sw, ph, pw, dh, dw, first, last):
    N, K, OH, OW = y.shape
    C, H, W = x.shape[1:]
    kh, kw = w.shape[2:]
    Hp, Wp = H + 2 * ph, W + 2 * pw
    L = OH * Wp - (kw - 1) * dw             # stride 1: wide positions up to the last output
    xpad, wide = np.empty((Hp, Wp), x.dtype), np.empty((OH, Wp), x.dtype)
    for nk in range(first, last):
        n, k = nk // K, nk % K
        c = k // (K // C)                   # the input channel that output channel k filters
        if sh == 1 and sw == 1:
            _pad(x[n, c], ph, pw, xpad)
            wide[:] = 0
            flat_x, flat_y = xpad.reshape(-1), wide.reshape(-1)
            for i in range(kh):
                for j in range(kw):
                    _axpy(w[k, 0, i, j], flat_x[i * dh * Wp + j * dw:], flat_y, L)
            y[n, k] = wide[:, :OW]
            continue
        for oh in range(OH):
            for ow in range(OW):
                total = y.dtype.type(0)
                for i in range(kh):
                    h = oh * sh - ph + i * dh
                    for j in range(kw):
                        w_ = ow * sw - pw + j * dw
                        if 0 <= h < H and 0 <= w_ < W:   # taps in the padding read 0
                            total += w[k, 0, i, j] * x[n, c, h, w_]
                y[n, k, oh, ow] = total


@njit(cache=True, nogil=True)
def _backward_input(gy, w, gx, sh, sw, ph, pw, dh, dw, first, last):
    N, K, OH, OW = gy.shape
    C, H, W = gx.shape[1:]
    kh, kw = w.shape[2:]
    m, Hp, Wp = K // C, H + 2 * ph, W + 2 * pw
    L = OH * Wp - (kw - 1) * dw
    gxpad, wide = np.empty((Hp, Wp), gx.dtype), np.zeros((OH, Wp), gx.dtype)
    for nc in range(first, last):
        n, c = nc // C, nc % C
        gxpad[:] = 0
        flat_x, flat_y = gxpad.reshape(-1), wide.reshape(-1)
        for k in range(c * m, c * m + m):   # the m output channels that read channel c
            if sh == 1 and sw == 1:
                wide[:, :OW] = gy[n, k]         # its columns past OW stay 0
                for i in range(kh):
                    for j in range(kw):         # the adjoint of the forward's tap (i, j)
                        _axpy(w[k, 0, i, j], flat_y, flat_x[i * dh * Wp + j * dw:], L)
                continue
            for i in range(kh):
                for j in range(kw):
                    for oh in range(OH):
                        for ow in range(OW):
                            tap = (oh * sh + i * dh, ow * sw + j * dw)
                            gxpad[tap] += w[k, 0, i, j] * gy[n, k, oh, ow]
        gx[n, c] = gxpad[ph:ph + H, pw:pw + W]  # the padding is dropped


@njit(cache=True, nogil=True)
def _backward_weight(x, gy, gw, sh, sw, ph, pw, dh, dw, first, last):
    N, K, OH, OW = gy.shape
    C, H, W = x.shape[1:]
    kh, kw = gw.shape[2:]
    Hp, Wp = H + 2 * ph, W + 2 * pw
    L = OH * Wp - (kw - 1) * dw
    xpad, wide = np.empty((Hp, Wp), x.dtype), np.zeros((OH, Wp), x.dtype)
    for k in range(first, last):
        c = k // (K // C)
        # NOTE: a sum of N*OH*OW products per tap: short partial sums, added in float64.
        total = np.zeros((kh, kw), np.float64)
        for n in range(N):
            _pad(x[n, c], ph, pw, xpad)
            flat_x = xpad.reshape(-1)
            if sh == 1 and sw == 1:
                wide[:, :OW] = gy[n, k]
                flat_y = wide.reshape(-1)[:L]
                for i in range(kh):
                    for j in range(kw):
                        off = i * dh * Wp + j * dw
                        total[i, j] += _dot(flat_y, flat_x[off:], L)
                continue
            for i in range(kh):
                for j in range(kw):
                    for oh in range(OH):
                        for ow in range(OW):
                            tap = (oh * sh + i * dh, ow * sw + j * dw)
                            total[i, j] += gy[n, k, oh, ow] * xpad[tap]
        gw[k, 0] = total


def depthwise_conv2d(x, w, sh, sw, ph, pw, dh, dw):
    """x (N, C, H, W), w (K, 1, kh, kw) -> y (N, K, OH, OW) (contract: reference.py)."""
    check_arrays("depthwise_conv2d", x=x, w=w)
    OH, OW = check_geometry("depthwise_conv2d", x.shape[1], w.shape[0], *w.shape[2:],
                            *x.shape[2:], sh, sw, ph, pw, dh, dw)
    x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
    y = np.empty((x.shape[0], w.shape[0], OH, OW), x.dtype)
    parallel_range(partial(_forward, x, w, y, sh, sw, ph, pw, dh, dw),
                   y.shape[0] * y.shape[1], y.size * w.shape[2] * w.shape[3])
    return y


def depthwise_conv2d_backward_input(gy, w, C, H, W, sh, sw, ph, pw, dh, dw):
    """gy (N, K, OH, OW), w -> gx (N, C, H, W) (contract: reference.py)."""
    check_backward("depthwise_conv2d_backward_input", gy, w, C, H, W, sh, sw, ph, pw, dh, dw)
    gy, w = np.ascontiguousarray(gy), np.ascontiguousarray(w)
    gx = np.empty((gy.shape[0], C, H, W), gy.dtype)
    parallel_range(partial(_backward_input, gy, w, gx, sh, sw, ph, pw, dh, dw),
                   gx.shape[0] * C, gy.size * w.shape[2] * w.shape[3])
    return gx


def depthwise_conv2d_backward_weight(x, gy, kh, kw, sh, sw, ph, pw, dh, dw):
    """x (N, C, H, W), gy (N, K, OH, OW) -> gw (K, 1, kh, kw) (contract: reference.py)."""
    check_backward("depthwise_conv2d_backward_weight", gy, x, x.shape[1], *x.shape[2:],
                   sh, sw, ph, pw, dh, dw, kh, kw)
    x, gy = np.ascontiguousarray(x), np.ascontiguousarray(gy)
    gw = np.empty((gy.shape[1], 1, kh, kw), x.dtype)
    parallel_range(partial(_backward_weight, x, gy, gw, sh, sw, ph, pw, dh, dw),
                   gy.shape[1], gy.size * kh * kw)
    return gw
