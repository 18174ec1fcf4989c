"""Helpers every op file shares: broadcast reduction, scalar operands, dim checks."""
import numpy as np

from ..tensor import Tensor, as_array


def unbroadcast(g, shape):
    """Sum ``g`` down to ``shape``: the backward of NumPy broadcasting.

    Broadcasting copies x along new leading axes and along axes of size 1, so each element
    of x fed many outputs and its gradient is the sum over those copies.
    Example: x (3, 1) + y (4,) -> z (3, 4); dL/dx = gz.sum(axis=1, keepdims=True).
    """
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


def operand(x, like):
    """Tensor stays; a Python scalar takes the dtype of ``like`` (PyTorch's scalar rule);
    anything else becomes an array by tinyvision's dtype rules."""
    if isinstance(x, (Tensor, np.ndarray)):
        return x
    if isinstance(x, (bool, int, float, np.bool_, np.number)):  # NumPy scalars too, as PyTorch
        ref = like.data.dtype if isinstance(like, Tensor) else np.asarray(like).dtype
        if np.asarray(x).dtype.kind == "f" and ref.kind not in "fc":
            return np.asarray(x, np.float32)  # int tensor * 0.5 is float, as in PyTorch
        return np.asarray(x, ref if ref.kind != "b" else None)
    return as_array(x)


def normalize_dim(dim, ndim, fn):
    """Dims as a tuple of non-negative ints, checked against ``ndim``."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = []
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"{fn}: dim {d} is out of range for a tensor with {ndim} dims")
        out.append(int(d) % max(ndim, 1))
    return tuple(out)


def shape_of(x):
    return x.shape if hasattr(x, "shape") else ()


REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction, fn):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
