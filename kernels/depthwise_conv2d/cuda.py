"""Depthwise 2-D convolution as Numba CUDA kernels, one GPU thread per output element.

The contract (shapes, formulas) is in reference.py. The launchers take CuPy arrays (read
and written in place through ``__cuda_array_interface__``) or NumPy arrays (Numba copies
them to the GPU and back: how the tests run these kernels on the simulator,
NUMBA_ENABLE_CUDASIM=1). Importing this file needs no GPU; launching does.

forward: thread (n, k, oh, ow) sums its kh*kw taps.
backward_input: thread (n, c, h, w) owns gx[n, c, h, w] and gathers every (k, tap, output)
that read it: tap i of output row oh read row h when h + ph − i·dh = oh·sh (same for w).
backward_weight: thread (n, k, i, j) sums one image's products; the launcher adds the
images up (short sums in the kernel's dtype), so no atomics are needed anywhere.
"""
from numba import cuda

from .._gpu import array_module, launch_config
from .reference import check_arrays, check_backward, check_geometry


@cuda.jit
def _forward_kernel(x, w, y, sh, sw, ph, pw, dh, dw):
    N, K, OH, OW = y.shape
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    kh, kw = w.shape[2], w.shape[3]
    t = cuda.grid(1)
    if t >= y.size:
        return
    ow, oh, k, n = t % OW, t // OW % OH, t // (OW * OH) % K, t // (OW * OH * K)
    c = k // (K // C)
    total = y.dtype.type(0)
    for i in range(kh):
        h = oh * sh - ph + i * dh
        if 0 <= h < H:
            for j in range(kw):
                w_ = ow * sw - pw + j * dw
                if 0 <= w_ < W:
                    total += w[k, 0, i, j] * x[n, c, h, w_]
    y[n, k, oh, ow] = total


@cuda.jit
def _backward_input_kernel(gy, w, gx, sh, sw, ph, pw, dh, dw):
    N, K, OH, OW = gy.shape
    C, H, W = gx.shape[1], gx.shape[2], gx.shape[3]
    kh, kw = w.shape[2], w.shape[3]
    t = cuda.grid(1)
    if t >= gx.size:
        return
    w_, h, c, n = t % W, t // W % H, t // (W * H) % C, t // (W * H * C)
    m = K // C
    total = gx.dtype.type(0)
    for k in range(c * m, c * m + m):
        for i in range(kh):
            oh_sh = h + ph - i * dh          # = oh * sh when tap i of output row oh read h
            if oh_sh < 0 or oh_sh % sh != 0 or oh_sh // sh >= OH:
                continue
            for j in range(kw):
                ow_sw = w_ + pw - j * dw
                if ow_sw < 0 or ow_sw % sw != 0 or ow_sw // sw >= OW:
                    continue
                total += w[k, 0, i, j] * gy[n, k, oh_sh // sh, ow_sw // sw]
    gx[n, c, h, w_] = total


@cuda.jit
def _backward_weight_kernel(x, gy, partial, sh, sw, ph, pw, dh, dw):
    N, K, OH, OW = gy.shape
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    kh, kw = partial.shape[2], partial.shape[3]
    t = cuda.grid(1)
    if t >= partial.size:
        return
    j, i, k, n = t % kw, t // kw % kh, t // (kw * kh) % K, t // (kw * kh * K)
    c = k // (K // C)
    total = x.dtype.type(0)   # one image's OH*OW products: the images add up on the host
    for oh in range(OH):
        h = oh * sh - ph + i * dh
        if 0 <= h < H:
            for ow in range(OW):
                w_ = ow * sw - pw + j * dw
                if 0 <= w_ < W:
                    total += gy[n, k, oh, ow] * x[n, c, h, w_]
    partial[n, k, i, j] = total


def depthwise_conv2d(x, w, sh, sw, ph, pw, dh, dw):
    """x (N, C, H, W), w (K, 1, kh, kw) -> y (N, K, OH, OW) (contract: reference.py)."""
    check_arrays("depthwise_conv2d", x=x, w=w)
    OH, OW = check_geometry("depthwise_conv2d", x.shape[1], w.shape[0], *w.shape[2:],
                            *x.shape[2:], sh, sw, ph, pw, dh, dw)
    xp = array_module(x)
    x, w = xp.ascontiguousarray(x), xp.ascontiguousarray(w)
    y = xp.empty((x.shape[0], w.shape[0], OH, OW), x.dtype)
    if y.size:
        _forward_kernel[launch_config(y.size)](x, w, y, sh, sw, ph, pw, dh, dw)
    return y


def depthwise_conv2d_backward_input(gy, w, C, H, W, sh, sw, ph, pw, dh, dw):
    """gy (N, K, OH, OW), w -> gx (N, C, H, W) (contract: reference.py)."""
    check_backward("depthwise_conv2d_backward_input", gy, w, C, H, W, sh, sw, ph, pw, dh, dw)
    xp = array_module(gy)
    gy, w = xp.ascontiguousarray(gy), xp.ascontiguousarray(w)
    gx = xp.empty((gy.shape[0], C, H, W), gy.dtype)
    if gx.size:
        _backward_input_kernel[launch_config(gx.size)](gy, w, gx, sh, sw, ph, pw, dh, dw)
    return gx


def depthwise_conv2d_backward_weight(x, gy, kh, kw, sh, sw, ph, pw, dh, dw):
    """x (N, C, H, W), gy (N, K, OH, OW) -> gw (K, 1, kh, kw) (contract: reference.py)."""
    check_backward("depthwise_conv2d_backward_weight", gy, x, x.shape[1], *x.shape[2:],
                   sh, sw, ph, pw, dh, dw, kh, kw)
    xp = array_module(x)
    x, gy = xp.ascontiguousarray(x), xp.ascontiguousarray(gy)
    partial = xp.empty((x.shape[0], gy.shape[1], kh, kw), x.dtype)   # one sum per image
    if partial.size:
        _backward_weight_kernel[launch_config(partial.size)](x, gy, partial,
                                                             sh, sw, ph, pw, dh, dw)
    return partial.sum(axis=0)[:, None]
