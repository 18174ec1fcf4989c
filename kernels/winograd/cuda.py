"""Winograd F(4x4, 3x3) transforms as Numba CUDA kernels, one GPU thread per output element.

The contract (layouts, formulas) is in reference.py. The launchers take CuPy arrays (read
and written in place through ``__cuda_array_interface__``) or NumPy arrays (Numba copies
them to the GPU and back: how the tests run these kernels on the simulator,
NUMBA_ENABLE_CUDASIM=1). Importing this file needs no GPU; launching does.

Each thread writes one element as a sum over the transform matrices' entries (Bᵀ and Aᵀ,
module-level arrays that Numba compiles in as constants):

    winograd_input            V[6a+b, c, t] = Σ_ij Bᵀ[a, i] Bᵀ[b, j] d[i, j]
    winograd_output           y[n, k, 4th+i, 4tw+j] = Σ_ab Aᵀ[i, a] Aᵀ[j, b] m[a, b]
    winograd_output_backward  gM[6a+b, k, t] = Σ_ij Aᵀ[i, a] Aᵀ[j, b] g[i, j]
    winograd_input_backward   gx[n, c, h, w] = Σ over the (up to 2x2) tiles that read (h, w)
                              of Σ_ab Bᵀ[a, i] Bᵀ[b, j] gv[a, b]: a gather, so no atomics.
"""
import numpy as np
from numba import cuda

from .._gpu import array_module, launch_config
from .reference import (ALPHA, TILE, check_input, check_out, check_tiles,  # noqa: F401
                        tile_buffer, tiles, winograd_weight, winograd_weight_backward)
from .reference import AT as _AT_INT
from .reference import BT as _BT_INT

_BT = _BT_INT.astype(np.float32)   # constants in the kernels; float32, so that a float32
_AT = _AT_INT.astype(np.float32)   # kernel does no float64 arithmetic (the entries are exact)


@cuda.jit
def _input_kernel(x, V, ph, pw, TH, TW):
    N, C, H, W = x.shape
    T = V.shape[2]
    u = cuda.grid(1)
    if u >= V.shape[0] * C * T:
        return
    xi, c, t = u // (C * T), u // T % C, u % T     # xi = 6a + b; t = (n*TH + th)*TW + tw
    a, b = xi // 6, xi % 6
    tw, th, n = t % TW, t // TW % TH, t // (TW * TH)
    total = x.dtype.type(0)
    for i in range(6):
        h = TILE * th - ph + i
        if 0 <= h < H and _BT[a, i] != 0:
            for j in range(6):
                w = TILE * tw - pw + j
                if 0 <= w < W and _BT[b, j] != 0:
                    total += _BT[a, i] * _BT[b, j] * x[n, c, h, w]
    V[xi, c, t] = total


@cuda.jit
def _input_backward_kernel(gV, gx, ph, pw, TH, TW):
    N, C, H, W = gx.shape
    u = cuda.grid(1)
    if u >= gx.size:
        return
    w, h, c, n = u % W, u // W % H, u // (W * H) % C, u // (W * H * C)
    total = gx.dtype.type(0)
    for i in range(6):            # tile row th read row h as its element i: 4th − ph + i = h
        if (h + ph - i) % TILE != 0 or not 0 <= (h + ph - i) // TILE < TH:
            continue
        th = (h + ph - i) // TILE
        for j in range(6):
            if (w + pw - j) % TILE != 0 or not 0 <= (w + pw - j) // TILE < TW:
                continue
            t = (n * TH + th) * TW + (w + pw - j) // TILE
            for a in range(6):    # gd[i, j] = Σ_ab B[i, a] gv[a, b] B[j, b], B = (Bᵀ)ᵀ
                if _BT[a, i] != 0:
                    for b in range(6):
                        if _BT[b, j] != 0:
                            total += _BT[a, i] * _BT[b, j] * gV[6 * a + b, c, t]
    gx[n, c, h, w] = total


@cuda.jit
def _output_kernel(M, y, TH, TW):
    N, K, OH, OW = y.shape
    u = cuda.grid(1)
    if u >= y.size:
        return
    ow, oh, k, n = u % OW, u // OW % OH, u // (OW * OH) % K, u // (OW * OH * K)
    th, i, tw, j = oh // TILE, oh % TILE, ow // TILE, ow % TILE
    t = (n * TH + th) * TW + tw
    total = y.dtype.type(0)
    for a in range(6):
        if _AT[i, a] != 0:
            for b in range(6):
                if _AT[j, b] != 0:
                    total += _AT[i, a] * _AT[j, b] * M[6 * a + b, k, t]
    y[n, k, oh, ow] = total


@cuda.jit
def _output_backward_kernel(gy, gM, TH, TW):
    N, K, OH, OW = gy.shape
    T = gM.shape[2]
    u = cuda.grid(1)
    if u >= gM.shape[0] * K * T:
        return
    xi, k, t = u // (K * T), u // T % K, u % T
    a, b = xi // 6, xi % 6
    tw, th, n = t % TW, t // TW % TH, t // (TW * TH)
    total = gy.dtype.type(0)
    for i in range(TILE):         # the tile's 4x4 gy, 0 past the edge
        if TILE * th + i < OH and _AT[i, a] != 0:
            for j in range(TILE):
                if TILE * tw + j < OW and _AT[j, b] != 0:
                    total += _AT[i, a] * _AT[j, b] * gy[n, k, TILE * th + i, TILE * tw + j]
    gM[xi, k, t] = total


def winograd_input(x, ph, pw, out=None):
    """x (N, C, H, W) -> V (36, C, T) (contract: reference.py)."""
    OH, OW, TH, TW = check_input(x, ph, pw)
    xp = array_module(x)
    x = xp.ascontiguousarray(x)
    shape = (ALPHA * ALPHA, x.shape[1], x.shape[0] * TH * TW)
    V = check_out("winograd_input", out, shape, x.dtype)
    V = tile_buffer(shape[1], shape[2], x.dtype, xp) if V is None else V
    if V.size:
        _input_kernel[launch_config(V.size)](x, V, ph, pw, TH, TW)
    return V


def winograd_input_backward(gV, N, H, W, ph, pw, out=None):
    """gV (36, C, T) -> gx (N, C, H, W) (contract: reference.py)."""
    OH, OW, TH, TW = tiles(H, W, ph, pw)
    check_tiles("winograd_input_backward", "gV", gV, N * TH * TW)
    xp = array_module(gV)
    shape = (N, gV.shape[1], H, W)
    gx = check_out("winograd_input_backward", out, shape, gV.dtype)
    gx = xp.empty(shape, gV.dtype) if gx is None else gx
    if gx.size:
        _input_backward_kernel[launch_config(gx.size)](gV, gx, ph, pw, TH, TW)
    return gx


def winograd_output(M, N, OH, OW, out=None):
    """M (36, K, T) -> y (N, K, OH, OW) (contract: reference.py)."""
    TH, TW = -(-OH // TILE), -(-OW // TILE)
    check_tiles("winograd_output", "M", M, N * TH * TW)
    xp = array_module(M)
    shape = (N, M.shape[1], OH, OW)
    y = check_out("winograd_output", out, shape, M.dtype)
    y = xp.empty(shape, M.dtype) if y is None else y
    if y.size:
        _output_kernel[launch_config(y.size)](M, y, TH, TW)
    return y


def winograd_output_backward(gy, out=None):
    """gy (N, K, OH, OW) -> gM (36, K, T) (contract: reference.py)."""
    xp = array_module(gy)
    gy = xp.ascontiguousarray(gy)
    N, K, OH, OW = gy.shape
    TH, TW = -(-OH // TILE), -(-OW // TILE)
    gM = check_out("winograd_output_backward", out, (ALPHA * ALPHA, K, N * TH * TW), gy.dtype)
    gM = tile_buffer(K, N * TH * TW, gy.dtype, xp) if gM is None else gM
    if gM.size:
        _output_backward_kernel[launch_config(gM.size)](gy, gM, TH, TW)
    return gM
