"""Gradient clipping, as ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``.

Norm clipping (Pascanu et al. 2013) rescales all gradients together so their
joint norm is at most ``max_norm``, keeping the update's direction:

    ‖g‖ = ( Σ_params ‖g_p‖^q )^(1/q)          (q = norm_type; q = ∞: max_p max|g_p|)
    c   = min(1, max_norm / (‖g‖ + 1e-6))
    g_p ← c · g_p                              for every parameter p

Value clipping clamps each gradient element to [−clip_value, clip_value],
which changes the direction.

References
----------
- Pascanu, Mikolov & Bengio (2013). On the difficulty of training recurrent
  neural networks. ICML.
- PyTorch documentation, ``torch.nn.utils.clip_grad_norm_``.
"""
import math

import numpy as np

from ..tensor import Tensor


def _grads(parameters):
    if hasattr(parameters, "grad"):  # a single parameter
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _vector_norm(x, norm_type):
    """The q-norm of all elements of ``x``, as ``torch.linalg.vector_norm``."""
    if norm_type == math.inf:
        return np.abs(x).max() if x.size else np.zeros((), x.dtype)
    if norm_type == 2:
        return np.sqrt((x * x).sum())
    return (np.abs(x) ** norm_type).sum() ** (1.0 / norm_type)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale the gradients in place so that their total norm is at most ``max_norm``.

    Parameters
    ----------
    parameters : Parameter or iterable of Parameters (those with ``.grad`` None are skipped)
    max_norm : float
    norm_type : float or 'inf', q of the q-norm (default 2)
    error_if_nonfinite : bool, raise if the total norm is nan or inf (otherwise
        the gradients are scaled by the non-finite coefficient, as in PyTorch)

    Returns
    -------
    total_norm : 0-d Tensor
        The norm of all the gradients *before* clipping, in their dtype.
    """
    norm_type = float(norm_type)
    if not (norm_type == math.inf or norm_type > 0):
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 or inf, got {norm_type!r}")
    grads = _grads(parameters)
    if not grads:
        return _as_tensor(np.zeros((), np.float32))

    # Norm of the per-parameter norms = norm of all elements together.
    norms = np.stack([_vector_norm(g, norm_type) for g in grads])
    total_norm = _vector_norm(norms, norm_type)
    if error_if_nonfinite and not np.isfinite(total_norm):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           f"gradients is non-finite ({float(total_norm)}), so it cannot be "
                           f"clipped; pass error_if_nonfinite=False to scale by it anyway")
    # NOTE: the 1e-6 keeps the division finite for all-zero gradients; the
    # coefficient is clamped at 1 (never scale up) but applied always, so a
    # nan norm turns the gradients into nan, as in PyTorch.
    clip_coef = np.minimum(max_norm / (total_norm + 1e-6), 1.0)
    for g in grads:
        g *= clip_coef.astype(g.dtype)
    return _as_tensor(total_norm)


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element to [−clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)


def _as_tensor(value):
    """A 0-d Tensor holding ``value``, in the gradients' dtype, as PyTorch returns."""
    if not hasattr(value, "__cuda_array_interface__"):  # a CuPy result stays on the GPU
        value = np.asarray(value)  # a 0-d ndarray keeps its dtype (a NumPy scalar would not)
    return Tensor(value)
