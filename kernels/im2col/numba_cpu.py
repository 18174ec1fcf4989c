"""im2col and col2im with Numba, compiled on first call (one version per dtype, cached).

The contract (shapes, layout, output-size formula) is in reference.py.  The outer loop runs
over the N*C image planes, a contiguous range of planes per thread (kernels/_threads.py;
the jitted loops release the GIL): each plane writes only its own part of the output, so
the threads never race.  (Not parallel=True: Numba's threading layer here is OpenMP, whose
idle threads spin beside the GEMM that follows; see kernels/_threads.py.)

NOTE: the loops test every tap against the image borders.  im2col.pyx instead works out
first which output rows and columns of each tap lie inside the image, which gcc needs to
reach this speed; LLVM already makes the plain loops as fast (measured equal), while the
range-based form ran 2-4x slower under Numba 0.68.
"""
from functools import partial

import numpy as np
from numba import njit

from .._threads import parallel_range
from .reference import check_col2im, check_im2col


@njit(cache=True, nogil=True)
def _im2col(x, cols, sh, sw, ph, pw, dh, dw, first, last):
    N, C, H, W = x.shape
    kh, kw, OH, OW = cols.shape[2:]
    for nc in range(first, last):
        n, c = nc // C, nc % C
        for i in range(kh):
            for j in range(kw):
                for oh in range(OH):
                    h = oh * sh - ph + i * dh
                    for ow in range(OW):
                        w = ow * sw - pw + j * dw
                        if 0 <= h < H and 0 <= w < W:
                            cols[n, c, i, j, oh, ow] = x[n, c, h, w]
                        else:  # the tap falls in the zero padding
                            cols[n, c, i, j, oh, ow] = 0


@njit(cache=True, nogil=True)
def _col2im(cols, x, sh, sw, ph, pw, dh, dw, first, last):
    N, C, H, W = x.shape
    kh, kw, OH, OW = cols.shape[2:]
    for nc in range(first, last):
        n, c = nc // C, nc % C
        for i in range(kh):
            for j in range(kw):
                for oh in range(OH):
                    h = oh * sh - ph + i * dh
                    for ow in range(OW):
                        w = ow * sw - pw + j * dw
                        if 0 <= h < H and 0 <= w < W:  # taps in the padding are dropped
                            x[n, c, h, w] += cols[n, c, i, j, oh, ow]


def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw):
    """Unfold (N, C, H, W) x into (N, C, kh, kw, OH, OW) cols (contract: reference.py)."""
    OH, OW = check_im2col(x, kh, kw, sh, sw, ph, pw, dh, dw)
    x = np.ascontiguousarray(x)
    cols = np.empty(x.shape[:2] + (kh, kw, OH, OW), dtype=x.dtype)
    parallel_range(partial(_im2col, x, cols, sh, sw, ph, pw, dh, dw), x.shape[0] * x.shape[1],
                   cols.size)
    return cols


def col2im(cols, H, W, sh, sw, ph, pw, dh, dw):
    """Fold (N, C, kh, kw, OH, OW) cols into an (N, C, H, W) x (contract: reference.py)."""
    check_col2im(cols, H, W, sh, sw, ph, pw, dh, dw)
    cols = np.ascontiguousarray(cols)
    x = np.zeros(cols.shape[:2] + (H, W), dtype=cols.dtype)
    parallel_range(partial(_col2im, cols, x, sh, sw, ph, pw, dh, dw), x.shape[0] * x.shape[1],
                   cols.size)
    return x
