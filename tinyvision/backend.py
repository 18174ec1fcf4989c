"""The array-module switch: ``xp`` is NumPy for host arrays, CuPy for GPU arrays (as Chainer).

CuPy is optional and never imported unless a GPU array is asked for.
"""
import numpy as np


def get_array_module(array):
    """``numpy`` or ``cupy``, whichever owns ``array``."""
    if isinstance(array, np.ndarray) or not hasattr(array, "__cuda_array_interface__"):
        return np
    import cupy
    return cupy


def move_to(tensor, device):
    """A copy of ``tensor`` on ``device`` ('cpu' or 'cuda'), differentiable through the copy."""
    from .tensor import Tensor
    if device == "cpu":
        data = tensor.data.get()
    else:
        try:
            import cupy
        except ImportError:
            raise RuntimeError("to('cuda'): CuPy is not installed; install tinyvision[cuda] on a "
                               "machine with an NVIDIA GPU") from None
        data = cupy.asarray(tensor.data)
    out = Tensor._make(data, tensor.requires_grad)
    return out
