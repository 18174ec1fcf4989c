"""Map-style data sets, as ``torch.utils.data``: anything with ``__getitem__`` and ``__len__``.

A data set answers "give me sample i" and "how many are there"; a ``DataLoader`` decides the
order and groups samples into batches. Keeping the two apart lets the same data set be
shuffled, split (``random_split``, ``Subset``) or joined (``ConcatDataset``) without copying.
"""
import bisect
import math
import numbers

import numpy as np

from ..tensor import Tensor
from ._util import as_generator


class Dataset:
    """Base class of a map-style data set: subclasses define ``__getitem__`` and ``__len__``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __add__(self, other):
        return ConcatDataset([self, other])


def check_index(index, length, where):
    """A Python int in [0, length) from an int-like index (negative counts from the end)."""
    if not isinstance(index, numbers.Integral) or isinstance(index, bool):
        raise TypeError(f"{where}: index must be an int, got {type(index).__name__}")
    if not -length <= index < length:
        raise IndexError(f"{where}: index {index} is out of range for {length} samples")
    return int(index) % length


class TensorDataset(Dataset):
    """Samples are rows of equally long arrays: ``ds[i] == (a[i], b[i], ...)``.

    Parameters
    ----------
    *tensors : ndarrays or Tensors with the same first dimension N (e.g. images (N, C, H, W)
        and labels (N,)). ``ds.tensors`` gives them back as given; rows come out as ndarrays
        (a DataLoader's collate makes Tensors of the batch).
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: give at least one array")
        arrays = []
        for k, t in enumerate(tensors):
            a = t.data if isinstance(t, Tensor) else t
            if not isinstance(a, np.ndarray) or a.ndim == 0:
                raise TypeError(f"TensorDataset: argument {k} must be an ndarray or Tensor with "
                                f"at least 1 dim, got {type(t).__name__}")
            arrays.append(a)
        lengths = [len(a) for a in arrays]
        if len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset: every array needs the same first dimension, got "
                             f"{[a.shape for a in arrays]}")
        self.tensors = tuple(tensors)
        self._arrays = arrays

    def __getitem__(self, index):
        i = check_index(index, len(self), "TensorDataset")
        return tuple(a[i] for a in self._arrays)

    def __len__(self):
        return len(self._arrays[0])


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order (no copy)."""

    def __init__(self, dataset, indices):
        n = len(dataset)
        indices = np.asarray(indices)
        if indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu"):
            raise TypeError(f"Subset: indices must be a 1-D sequence of ints, got {indices!r}")
        if indices.size and (indices.min() < 0 or indices.max() >= n):
            raise IndexError(f"Subset: indices must lie in [0, {n}), got min {indices.min()} "
                             f"max {indices.max()}")
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, index):
        return self.dataset[self.indices[check_index(index, len(self), "Subset")]]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several data sets one after another (e.g. train + val for a final fit)."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: give at least one data set")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __getitem__(self, index):
        i = check_index(index, len(self), "ConcatDataset")
        k = bisect.bisect_right(self.cumulative_sizes, i)
        return self.datasets[k][i - (self.cumulative_sizes[k - 1] if k else 0)]

    def __len__(self):
        return self.cumulative_sizes[-1]


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` at random into non-overlapping ``Subset``s of the given lengths.

    Parameters
    ----------
    lengths : ints summing to ``len(dataset)``, or fractions summing to 1 (then each gets
        ``floor(f * n)`` and the remainder is dealt out one by one from the first, as PyTorch).
    generator : None (``tv.manual_seed``'s generator), an int seed or a numpy Generator.
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths or not all(isinstance(x, numbers.Real) and not isinstance(x, bool) and x >= 0
                              for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative numbers, got {lengths!r}")
    if all(isinstance(x, numbers.Integral) for x in lengths):
        if sum(lengths) != n:
            raise ValueError(f"random_split: lengths sum to {sum(lengths)}, but the data set "
                             f"has {n} samples")
    else:
        if not math.isclose(sum(lengths), 1.0, abs_tol=1e-6):
            raise ValueError(f"random_split: fractions must sum to 1, got {sum(lengths)}")
        counts = [math.floor(f * n) for f in lengths]
        for k in range(n - sum(counts)):
            counts[k % len(counts)] += 1
        lengths = counts
    order = as_generator(generator, "random_split").permutation(n)
    ends = np.cumsum(lengths)
    return [Subset(dataset, order[end - size:end]) for size, end in zip(lengths, ends)]
