"""im2col and col2im as Numba CUDA kernels, one GPU thread per output element.

The contract (shapes, layout, output-size formula) is in reference.py.  The launchers take
CuPy arrays (the kernels read and write GPU memory in place through
``__cuda_array_interface__``, and results are CuPy arrays) or NumPy arrays (Numba copies
them to the GPU and back: slow, but it is how the tests run these kernels under the CUDA
simulator, NUMBA_ENABLE_CUDASIM=1).  Importing this file needs no GPU; launching does.

im2col: thread t fills cols.flat[t], so it splits t into (n, c, i, j, oh, ow).
col2im: thread t owns x.flat[t] = (n, c, h, w) and gathers every cols entry that read it:
tap (i, j) of output (oh, ow) read (h, w) when h = oh*sh - ph + i*dh, i.e. when
h + ph - i*dh is a multiple of sh and the quotient oh lies in [0, OH) (same for w).  As
each thread writes only its own element, no atomics are needed.
"""
from numba import cuda

from .._gpu import array_module, launch_config
from .reference import check_col2im, check_im2col


@cuda.jit
def _im2col_kernel(x, cols, sh, sw, ph, pw, dh, dw):
    N, C, H, W = x.shape
    kh, kw, OH, OW = cols.shape[2:]
    t = cuda.grid(1)
    if t >= cols.size:
        return
    ow = t % OW  # t = ((((n*C + c)*kh + i)*kw + j)*OH + oh)*OW + ow
    oh = t // OW % OH
    j = t // (OW * OH) % kw
    i = t // (OW * OH * kw) % kh
    c = t // (OW * OH * kw * kh) % C
    n = t // (OW * OH * kw * kh * C)
    h = oh * sh - ph + i * dh
    w = ow * sw - pw + j * dw
    if 0 <= h < H and 0 <= w < W:
        cols[n, c, i, j, oh, ow] = x[n, c, h, w]
    else:  # the tap falls in the zero padding
        cols[n, c, i, j, oh, ow] = 0


@cuda.jit
def _col2im_kernel(cols, x, sh, sw, ph, pw, dh, dw):
    N, C, H, W = x.shape
    kh, kw, OH, OW = cols.shape[2:]
    t = cuda.grid(1)
    if t >= x.size:
        return
    w = t % W  # t = ((n*C + c)*H + h)*W + w
    h = t // W % H
    c = t // (W * H) % C
    n = t // (W * H * C)
    total = x.dtype.type(0)
    for i in range(kh):
        oh_sh = h + ph - i * dh  # = oh * sh when tap i of output row oh read row h
        if oh_sh < 0 or oh_sh % sh != 0 or oh_sh // sh >= OH:
            continue
        for j in range(kw):
            ow_sw = w + pw - j * dw
            if ow_sw < 0 or ow_sw % sw != 0 or ow_sw // sw >= OW:
                continue
            total += cols[n, c, i, j, oh_sh // sh, ow_sw // sw]
    x[n, c, h, w] = total


def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw):
    """Unfold (N, C, H, W) x into (N, C, kh, kw, OH, OW) cols (contract: reference.py)."""
    OH, OW = check_im2col(x, kh, kw, sh, sw, ph, pw, dh, dw)
    xp = array_module(x)
    x = xp.ascontiguousarray(x)
    cols = xp.empty(x.shape[:2] + (kh, kw, OH, OW), dtype=x.dtype)
    if cols.size:
        _im2col_kernel[launch_config(cols.size)](x, cols, sh, sw, ph, pw, dh, dw)
    return cols


def col2im(cols, H, W, sh, sw, ph, pw, dh, dw):
    """Fold (N, C, kh, kw, OH, OW) cols into an (N, C, H, W) x (contract: reference.py)."""
    check_col2im(cols, H, W, sh, sw, ph, pw, dh, dw)
    xp = array_module(cols)
    cols = xp.ascontiguousarray(cols)
    x = xp.empty(cols.shape[:2] + (H, W), dtype=cols.dtype)
    if x.size:
        _col2im_kernel[launch_config(x.size)](cols, x, sh, sw, ph, pw, dh, dw)
    return x
