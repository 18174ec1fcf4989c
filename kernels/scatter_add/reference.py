"""scatter_add in plain NumPy: the readable version and the oracle for the others.

The contract, shared by every implementation in this folder (same name, same arguments):

``scatter_add(out, index, src) -> out``
    Add each row of src into the row of out that index names, in place::

        out   : (R, F)  float32 or float64, C-contiguous, updated in place and returned
        index : (M,)    int64, each in [-R, R) (negative counts from the end, as in NumPy)
        src   : (M, F)  same dtype as out
        for m in range(M):  out[index[m]] += src[m]

    Repeated indices accumulate (unlike ``out[index] += src``, which keeps only one of
    them).  It is the backward of a row gather ``y = w[index]`` (embedding lookup,
    advanced indexing): ``gw = zeros_like(w); scatter_add(gw, index, gy)``.
"""
import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def check_scatter_add(out, index, src):
    """Check scatter_add's arguments against the contract (index range included)."""
    if out.ndim != 2 or out.dtype not in FLOAT_DTYPES or not out.flags.c_contiguous:
        raise ValueError("scatter_add: out must be a C-contiguous 2-D float32/float64 array, "
                         f"got shape {tuple(out.shape)}, dtype {out.dtype}")
    if index.ndim != 1 or index.dtype != np.int64:
        raise ValueError("scatter_add: index must be a 1-D int64 array, "
                         f"got shape {tuple(index.shape)}, dtype {index.dtype}")
    if src.shape != (index.shape[0], out.shape[1]) or src.dtype != out.dtype:
        raise ValueError(f"scatter_add: src must have shape {(index.shape[0], out.shape[1])} "
                         f"and dtype {out.dtype} (from index and out), "
                         f"got shape {tuple(src.shape)}, dtype {src.dtype}")
    R = out.shape[0]
    if index.size and not (-R <= int(index.min()) and int(index.max()) < R):
        raise IndexError(f"scatter_add: index values must lie in [{-R}, {R}) for an out of "
                         f"{R} rows, got values from {int(index.min())} to {int(index.max())}")


def scatter_add(out, index, src):
    """out[index[m]] += src[m] for every m, repeats accumulating; see the module docstring."""
    check_scatter_add(out, index, src)
    np.add.at(out, index, src)  # unbuffered: repeated rows all count
    return out
