"""What the cuda.py launchers share: telling GPU arrays apart, and the launch grid."""
import numpy as np

THREADS_PER_BLOCK = 256


def is_gpu_array(a):
    """True for arrays in GPU memory (CuPy, Numba device arrays): they expose this interface."""
    return hasattr(a, "__cuda_array_interface__")


def array_module(a):
    """CuPy for GPU arrays, NumPy otherwise.  CuPy is optional: imported only when needed."""
    if is_gpu_array(a):
        import cupy
        return cupy
    return np


def launch_config(size):
    """(blocks, threads per block) for a kernel that runs one thread per element of `size`."""
    return (size + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK, THREADS_PER_BLOCK
