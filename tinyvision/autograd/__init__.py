"""Autograd: ``Function`` (write an op), the backward engine, and gradient-mode switches."""
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled

__all__ = ["Function", "enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled"]


def __getattr__(name):  # Function imports Tensor, which imports this package: load it late
    if name in ("Function", "Context"):
        from . import function
        return getattr(function, name)
    raise AttributeError(name)
