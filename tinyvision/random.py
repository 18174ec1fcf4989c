"""One seeded random generator for everything tinyvision draws: init, dropout, data order.

``tv.manual_seed(n)`` makes a run repeatable, as ``torch.manual_seed`` does (the streams
differ from PyTorch's: only the seeding contract carries over).
"""
import numpy as np

_generator = np.random.default_rng(0)


def manual_seed(seed):
    """Reseed the global generator; returns it."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative int, got {seed!r}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def default_generator():
    """The generator that ``manual_seed`` set (``numpy.random.Generator``)."""
    return _generator
