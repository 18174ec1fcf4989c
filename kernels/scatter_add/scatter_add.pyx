"""scatter_add in Cython: a def wrapper checks, a cdef nogil loop adds.

The contract is in reference.py.  setup.py compiles this file with boundscheck and
wraparound off: the wrapper checks every index against out's rows first.  The loop is
serial for the reason given in numba_cpu.py (repeated indices would race).
"""
from libc.stdint cimport int64_t

import numpy as np

from .reference import check_scatter_add

ctypedef fused real:
    float
    double


cdef void _scatter_add(real[:, ::1] out, const int64_t[::1] index,
                       const real[:, ::1] src) noexcept nogil:
    cdef Py_ssize_t R = out.shape[0], F = out.shape[1], m, f, r
    for m in range(index.shape[0]):
        r = index[m]
        if r < 0:  # counts from the end, as in NumPy
            r += R
        for f in range(F):
            out[r, f] += src[m, f]


def scatter_add(out, index, src):
    """out[index[m]] += src[m] for every m, repeats accumulating (contract: reference.py)."""
    check_scatter_add(out, index, src)
    index = np.ascontiguousarray(index)
    src = np.ascontiguousarray(src)
    if out.dtype == np.float32:
        _scatter_add[float](out, index, src)
    else:
        _scatter_add[double](out, index, src)
    return out
