"""scatter_add as a Numba CUDA kernel, one GPU thread per element of src.

The contract is in reference.py.  Thread t adds src.flat[t] = src[m, f] into
out[index[m], f] with an atomic add, so threads whose rows share an index (repeated
indices) accumulate instead of overwriting each other.  The launcher takes CuPy arrays
(used in place through ``__cuda_array_interface__``) or NumPy arrays (copied to the GPU and
back, as under the CUDA simulator, NUMBA_ENABLE_CUDASIM=1).  Importing this file needs no
GPU; launching does.

NOTE: atomic float adds land in no fixed order, so on a real GPU the float sums can differ
from run to run in the last bits.
"""
from numba import cuda

from .._gpu import array_module, launch_config
from .reference import check_scatter_add


@cuda.jit
def _scatter_add_kernel(out, index, src):
    R, F = out.shape
    t = cuda.grid(1)
    if t >= src.size:
        return
    m, f = t // F, t % F
    r = index[m]
    if r < 0:  # counts from the end, as in NumPy
        r += R
    cuda.atomic.add(out, (r, f), src[m, f])


def scatter_add(out, index, src):
    """out[index[m]] += src[m] for every m, repeats accumulating (contract: reference.py)."""
    check_scatter_add(out, index, src)
    xp = array_module(out)
    index, src = xp.ascontiguousarray(index), xp.ascontiguousarray(src)
    if src.size:
        _scatter_add_kernel[launch_config(src.size)](out, index, src)
    return out
