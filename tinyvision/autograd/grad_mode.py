"""Switching graph recording on and off: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

While gradients are disabled, ops compute their outputs and record nothing: no backward
node, no saved arrays. Evaluation and optimizer steps run this way, as in PyTorch.
"""
import functools

_enabled = True


def is_grad_enabled():
    """True when new ops record themselves for backward."""
    return _enabled


class set_grad_enabled:
    """Set gradient recording on or off; usable as a call, a context manager or a decorator."""

    def __init__(self, mode):
        global _enabled
        self.prev = _enabled
        _enabled = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        global _enabled
        _enabled = self.prev
        return False


class _GradModeContext:
    mode = None

    def __enter__(self):
        global _enabled
        self.prev = _enabled
        _enabled = self.mode
        return self

    def __exit__(self, *exc):
        global _enabled
        _enabled = self.prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):
    """Context manager and decorator under which no op records a graph.

    Examples
    --------
    >>> with tv.no_grad():
    ...     y = model(x)          # y.requires_grad is False, nothing is saved
    """

    mode = False


class enable_grad(_GradModeContext):
    """Context manager and decorator that turns recording back on inside ``no_grad``."""

    mode = True
