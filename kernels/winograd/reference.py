"""Winograd's minimal filtering F(4x4, 3x3) in plain NumPy: the readable version and the oracle.

A 3x3 convolution (stride 1, dilation 1) computes each 4x4 block of outputs from a 6x6 tile
of input (tiles overlap by 2). Written as Winograd's transforms [Lavin & Gray 2016, Eq. (8)]::

    Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A        d: 6x6 input tile, g: 3x3 filter, Y: 4x4 outputs

it takes 36 multiplications instead of 144. Summed over input channels, the elementwise
product becomes 36 independent GEMMs, one per tile coordinate ξ = 6a + b:

    U[ξ] = (G g Gᵀ)[a, b]      (36, K, C)    weights, transformed once per call
    V[ξ] = (Bᵀ d B)[a, b]      (36, C, T)    input tiles, T = N·TH·TW tiles
    M[ξ] = U[ξ] @ V[ξ]         (36, K, T)    4x fewer FLOPs than im2col's GEMM
    y    = Aᵀ M A              (N, K, OH, OW)

NOTE: the price is rounding. Bᵀ and G mix values with weights up to 5 and 1/24, so in float32
the outputs carry ~10x the rounding error of a direct convolution (relative ~1e-6 rms,
~1e-5 worst case at C = 256, here); float64 is exact to ~1e-14. F(2x2, 3x3) rounds like a
direct convolution but saves only 2.25x. cuDNN and NNPACK make the same trade.

The contract, shared by every implementation in this folder (same names, same arguments);
x is float32 or float64, (ph, pw) the convolution's zero padding:

``winograd_input(x, ph, pw, out=None) -> V``
    x (N, C, H, W) -> V (36, C, T): V[6a+b, c, t] = (Bᵀ d B)[a, b], where t = (n·TH + th)·TW
    + tw and d[i, j] = x[n, c, 4th − ph + i, 4tw − pw + j] (0 outside x).
    OH = H + 2ph − 2, OW = W + 2pw − 2 (the output-size formula at K = 3), TH = ⌈OH/4⌉,
    TW = ⌈OW/4⌉.
``winograd_output(M, N, OH, OW, out=None) -> y``
    M (36, K, T) -> y (N, K, OH, OW): y[n, k, 4th + i, 4tw + j] = (Aᵀ m A)[i, j] with
    m[a, b] = M[6a+b, k, t]; the rows and columns of a tile past OH, OW are dropped.
``winograd_output_backward(gy, out=None) -> gM``
``winograd_input_backward(gV, N, H, W, ph, pw, out=None) -> gx``
    The adjoints of the two above: gM = A g Aᵀ per 4x4 tile g of gy (0 past the edge), and
    gx = Σ over the tiles that read a pixel of (B gv Bᵀ) at that pixel (overlapping tiles add).
``winograd_weight(w) -> U`` and ``winograd_weight_backward(gU) -> gw``
    w (K, C, 3, 3) <-> U (36, K, C): U[6a+b, k, c] = (G w[k, c] Gᵀ)[a, b], and its adjoint
    gw[k, c] = Gᵀ gu G with gu[a, b] = gU[6a+b, k, c]. Here one GEMM each with the (36, 9)
    matrix G ⊗ G (CuPy shares these); the CPU kernels apply G to the rows, then to the columns
    of each filter, 162 multiply-adds instead of 324, run at every forward and backward.

V, M and gM are (36, rows, T) arrays contiguous along T (``tile_buffer`` makes them). Each
function writes into ``out`` when given (V, y, gM, gx as above; e.g. a slice of the batch,
so that the caller can work through a large batch a few images at a time) and returns it.

References
----------
A. Lavin, S. Gray. Fast Algorithms for Convolutional Neural Networks. CVPR 2016.
"""
import numpy as np

from .._gpu import array_module

FLOAT_DTYPES = (np.float32, np.float64)
ALPHA, TILE = 6, 4              # input tile 6x6 -> output tile 4x4

BT = np.array([[4, 0, -5, 0, 1, 0],       # Bᵀ: input tile -> transformed tile (6x6)
               [0, -4, -4, 1, 1, 0],
               [0, 4, -4, -1, 1, 0],
               [0, -2, -1, 2, 1, 0],
               [0, 2, -1, -2, 1, 0],
               [0, 4, 0, -5, 0, 1]])
G = np.array([[1 / 4, 0, 0],              # G: 3x3 filter -> 6x6 transformed filter
              [-1 / 6, -1 / 6, -1 / 6],
              [-1 / 6, 1 / 6, -1 / 6],
              [1 / 24, 1 / 12, 1 / 6],
              [1 / 24, -1 / 12, 1 / 6],
              [0, 0, 1]])
AT = np.array([[1, 1, 1, 1, 1, 0],        # Aᵀ: 6x6 product -> 4x4 outputs
               [0, 1, -1, 2, -2, 0],
               [0, 1, 1, 4, 4, 0],
               [0, 1, -1, 8, -8, 1]])


def tiles(H, W, ph, pw):
    """(OH, OW, TH, TW) of a 3x3, stride-1 convolution of an H x W input padded by (ph, pw)."""
    OH, OW = H + 2 * ph - 2, W + 2 * pw - 2
    return OH, OW, -(-OH // TILE), -(-OW // TILE)


def tile_buffer(rows, T, dtype, xp=np):
    """An uninitialised (36, rows, T) array whose rows are L >= T elements apart.

    NOTE: with N = 32 and power-of-two images, T is a power of two and so are the strides of
    a dense (36, rows, T) array: the rows that BLAS packs, and the 36 streams a transform
    writes, then map to the same cache sets (OpenBLAS's SGEMM ran at 41-110 GFLOP/s instead of
    130-180, the transforms 2-3x slower). One cache line of slack per row and per ξ breaks
    the aliasing.
    """
    L = _skewed(T, dtype)                  # row stride
    S = _skewed(rows * L, dtype)           # stride from V[ξ] to V[ξ + 1]
    return xp.empty((ALPHA * ALPHA, S), dtype)[:, :rows * L].reshape(-1, rows, L)[:, :, :T]


def _skewed(n, dtype):
    """n, plus one cache line when n elements span a multiple of 1 KiB."""
    itemsize = np.dtype(dtype).itemsize
    return n + 64 // itemsize if (n * itemsize) % 1024 == 0 else n


def check_input(x, ph, pw):
    """Check winograd_input's arguments; return (OH, OW, TH, TW)."""
    if x.ndim != 4 or x.dtype not in FLOAT_DTYPES:
        raise ValueError("winograd_input: x must be a 4-D float32/float64 array, "
                         f"got shape {tuple(x.shape)}, dtype {x.dtype}")
    OH, OW, TH, TW = tiles(x.shape[2], x.shape[3], ph, pw)
    if min(ph, pw) < 0 or OH < 1 or OW < 1:
        raise ValueError(f"winograd_input: a 3x3 window does not fit the {x.shape[2]}x"
                         f"{x.shape[3]} input padded by ({ph}, {pw})")
    return OH, OW, TH, TW


def check_tiles(fn, name, a, T):
    if a.ndim != 3 or a.shape[0] != ALPHA * ALPHA or a.shape[2] != T or a.dtype not in FLOAT_DTYPES:
        raise ValueError(f"{fn}: {name} must be a (36, rows, {T}) float32/float64 array, "
                         f"got shape {tuple(a.shape)}, dtype {a.dtype}")
    if a.strides[2] != a.itemsize:
        raise ValueError(f"{fn}: {name} must be contiguous along its last axis")


def check_out(fn, out, shape, dtype):
    """``out`` checked to be a ``shape`` array of ``dtype`` contiguous along its last axis
    (C-contiguous if 4-D); None stays None."""
    if out is None:
        return None
    if tuple(out.shape) != tuple(shape) or out.dtype != dtype or out.strides[-1] != out.itemsize:
        raise ValueError(f"{fn}: out must be a {tuple(shape)} {np.dtype(dtype)} array contiguous "
                         f"along its last axis, got shape {tuple(out.shape)}, dtype {out.dtype}")
    if len(shape) == 4 and not out.flags.c_contiguous:
        raise ValueError(f"{fn}: out must be C-contiguous")
    return out


def _windows(xpad, TH, TW):
    """(6, 6, N, C, TH, TW): element (i, j) of every 6x6 tile, tiles 4 apart."""
    return np.stack([np.stack([xpad[:, :, i:i + TILE * TH:TILE, j:j + TILE * TW:TILE]
                               for j in range(ALPHA)]) for i in range(ALPHA)])


def winograd_input(x, ph, pw, out=None):
    """x (N, C, H, W) -> V (36, C, T) = Bᵀ d B for every 6x6 tile d; see the module docstring."""
    OH, OW, TH, TW = check_input(x, ph, pw)
    N, C, H, W = x.shape
    V = check_out("winograd_input", out, (ALPHA * ALPHA, C, N * TH * TW), x.dtype)
    xpad = np.zeros((N, C, TILE * TH + 2, TILE * TW + 2), x.dtype)   # every tile fits inside
    xpad[:, :, ph:ph + H, pw:pw + W] = x
    d = _windows(xpad, TH, TW)                                       # (6, 6, N, C, TH, TW)
    bt = BT.astype(x.dtype)
    v = np.einsum("ai,bj,ijncuv->abcnuv", bt, bt, d, optimize=True)  # Bᵀ d B per tile
    V = tile_buffer(C, N * TH * TW, x.dtype) if V is None else V
    V[...] = v.reshape(ALPHA * ALPHA, C, N * TH * TW)               # t = (n·TH + th)·TW + tw
    return V


def winograd_input_backward(gV, N, H, W, ph, pw, out=None):
    """gV (36, C, T) -> gx (N, C, H, W): the adjoint of winograd_input (tiles overlap: add)."""
    OH, OW, TH, TW = tiles(H, W, ph, pw)
    check_tiles("winograd_input_backward", "gV", gV, N * TH * TW)
    C = gV.shape[1]
    gx = check_out("winograd_input_backward", out, (N, C, H, W), gV.dtype)
    bt = BT.astype(gV.dtype)
    gv = gV.reshape(ALPHA, ALPHA, C, N, TH, TW)
    gd = np.einsum("ai,bj,abcnuv->ijncuv", bt, bt, gv, optimize=True)  # B gv Bᵀ per tile
    gxpad = np.zeros((N, C, TILE * TH + 2, TILE * TW + 2), gV.dtype)
    for i in range(ALPHA):
        for j in range(ALPHA):
            gxpad[:, :, i:i + TILE * TH:TILE, j:j + TILE * TW:TILE] += gd[i, j]
    if gx is None:
        return np.ascontiguousarray(gxpad[:, :, ph:ph + H, pw:pw + W])
    gx[...] = gxpad[:, :, ph:ph + H, pw:pw + W]
    return gx


def winograd_output(M, N, OH, OW, out=None):
    """M (36, K, T) -> y (N, K, OH, OW) = Aᵀ m A per tile; see the module docstring."""
    TH, TW = -(-OH // TILE), -(-OW // TILE)
    check_tiles("winograd_output", "M", M, N * TH * TW)
    K = M.shape[1]
    y = check_out("winograd_output", out, (N, K, OH, OW), M.dtype)
    at = AT.astype(M.dtype)
    m = M.reshape(ALPHA, ALPHA, K, N, TH, TW)
    tiles_y = np.einsum("ia,jb,abknuv->nkuivj", at, at, m, optimize=True)  # (N, K, TH, 4, TW, 4)
    full = tiles_y.reshape(N, K, TILE * TH, TILE * TW)[:, :, :OH, :OW]
    if y is None:
        return np.ascontiguousarray(full)
    y[...] = full
    return y


def winograd_output_backward(gy, out=None):
    """gy (N, K, OH, OW) -> gM (36, K, T): the adjoint of winograd_output."""
    N, K, OH, OW = gy.shape
    TH, TW = -(-OH // TILE), -(-OW // TILE)
    gM = check_out("winograd_output_backward", out, (ALPHA * ALPHA, K, N * TH * TW), gy.dtype)
    g = np.zeros((N, K, TILE * TH, TILE * TW), gy.dtype)          # 0 past the edge
    g[:, :, :OH, :OW] = gy
    g = g.reshape(N, K, TH, TILE, TW, TILE)
    at = AT.astype(gy.dtype)
    gm = np.einsum("ia,jb,nkuivj->abknuv", at, at, g, optimize=True)  # A g Aᵀ per tile
    gM = tile_buffer(K, N * TH * TW, gy.dtype) if gM is None else gM
    gM[...] = gm.reshape(ALPHA * ALPHA, K, N * TH * TW)
    return gM


GG = np.kron(G, G)                        # (36, 9): GG[6a+b, 3i+j] = G[a, i]·G[b, j]


def check_weight(fn, name, a, shape):
    """``a`` checked to be a float32/float64 array of ``shape`` (None: any size)."""
    if a.ndim != len(shape) or a.dtype not in FLOAT_DTYPES or any(
            n is not None and m != n for m, n in zip(a.shape, shape)):
        expected = "(" + ", ".join("any" if n is None else str(n) for n in shape) + ")"
        raise ValueError(f"{fn}: {name} must be a {expected} float32/float64 array, got shape "
                         f"{tuple(a.shape)}, dtype {a.dtype}")


def winograd_weight(w):
    """w (K, C, 3, 3) -> U (36, K, C): U[6a+b] = (G w Gᵀ)[a, b] = Σ_ij G[a, i] w[i, j] G[b, j]
    for every filter w[k, c]."""
    check_weight("winograd_weight", "w", w, (None, None, 3, 3))
    xp = array_module(w)
    K, C = w.shape[:2]
    # One GEMM for all K·C filters, (36, 9) @ (9, K·C), which lands in U's layout.
    return (xp.asarray(GG, dtype=w.dtype) @ w.reshape(K * C, 9).T).reshape(ALPHA * ALPHA, K, C)


def winograd_weight_backward(gU):
    """gU (36, K, C) -> gw (K, C, 3, 3) = Gᵀ gu G: the adjoint of winograd_weight."""
    check_weight("winograd_weight_backward", "gU", gU, (ALPHA * ALPHA, None, None))
    xp = array_module(gU)
    K, C = gU.shape[1:]
    GGT = xp.asarray(GG.T, dtype=gU.dtype)
    return xp.ascontiguousarray((GGT @ gU.reshape(ALPHA * ALPHA, K * C)).T).reshape(K, C, 3, 3)
