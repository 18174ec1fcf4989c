"""Small helpers the data modules share: random generators, image and target checks.

Every random choice in ``tinyvision.data`` (shuffling, splits, augmentations) comes from a
``numpy.random.Generator``. ``as_generator`` turns what a user passed into one:

    None        the global generator that ``tv.manual_seed`` sets, looked up at call time
    int seed    a private generator seeded with it (the same seed, the same stream)
    Generator   used as it is
"""
import numbers

import numpy as np

from ..random import default_generator
from ..tensor import Tensor


def as_generator(generator, where):
    """A ``numpy.random.Generator`` from None, a seed or a Generator (see module docstring)."""
    if generator is None:
        return default_generator()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool) and generator >= 0:
        return np.random.default_rng(int(generator))
    raise TypeError(f"{where}: generator must be None, a non-negative int seed or a "
                    f"numpy.random.Generator, got {generator!r}")


def unwrap_image(image, where):
    """(array, was_tensor) for a CHW image given as ndarray or Tensor; checks the layout."""
    was_tensor = isinstance(image, Tensor)
    array = image.data if was_tensor else image
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{where}: image must be a (C, H, W) ndarray or Tensor, got "
                        f"{type(image).__name__} (convert PIL images and HWC uint8 arrays with "
                        "ToTensor() first)")
    if array.ndim != 3 or array.shape[0] not in (1, 3) or array.dtype.kind != "f":
        raise ValueError(f"{where}: image must be (C, H, W) float with C = 1 or 3 (values in "
                         f"[0, 1], the canonical layout), got shape {array.shape} dtype "
                         f"{array.dtype} (for an HWC uint8 picture use ToTensor() first)")
    return array, was_tensor


def wrap_image(array, was_tensor):
    """Give the image back in the kind it came as."""
    return Tensor(array) if was_tensor else array


def as_pair(value, name, where):
    """(h, w) from an int or a pair of positive ints."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0
                       for v in value)):
        raise ValueError(f"{where}: {name} must be a positive int or a pair (h, w) of them, "
                         f"got {value!r}")
    return int(value[0]), int(value[1])


def as_range(value, name, where, center=None, bound=(0.0, float("inf"))):
    """A (low, high) float range: a pair, or for a number v the range center ± v."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and center is not None:
        if value < 0:
            raise ValueError(f"{where}: {name} must be non-negative, got {value!r}")
        value = (max(center - value, bound[0]), center + value)   # as torchvision: max(0, 1 − b)
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)
            or not bound[0] <= value[0] <= value[1] <= bound[1]):
        raise ValueError(f"{where}: {name} must be a number or a pair low <= high within "
                         f"[{bound[0]}, {bound[1]}], got {value!r}")
    return float(value[0]), float(value[1])
