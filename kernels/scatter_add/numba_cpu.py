"""scatter_add with Numba: one pass over the rows of src, compiled on first call.

The contract is in reference.py.  The loop is serial on purpose: repeated indices make
parallel threads race on the same out row, and the race-free split (each thread owning a
block of feature columns) ran 2-3x slower than this loop, which already streams src at
memory speed (100k x 64 float32 rows in 1.7 ms, against 56 ms for np.add.at).
"""
import numpy as np
from numba import njit

from .reference import check_scatter_add


@njit(cache=True)
def _scatter_add(out, index, src):
    R, F = out.shape
    for m in range(index.shape[0]):
        r = index[m]
        if r < 0:  # counts from the end, as in NumPy
            r += R
        for f in range(F):
            out[r, f] += src[m, f]


def scatter_add(out, index, src):
    """out[index[m]] += src[m] for every m, repeats accumulating (contract: reference.py)."""
    check_scatter_add(out, index, src)
    _scatter_add(out, index, np.ascontiguousarray(src))
    return out
