"""``DataLoader``: a data set in batches, shuffled each epoch from a seeded generator.

    loader = DataLoader(ShapesScenes("train"), batch_size=8, shuffle=True, generator=0)
    for images, targets in loader:    # images: Tensor (8, 3, 128, 128); targets: 8 dicts
        ...

Single process on purpose. PyTorch forks worker processes to load data in parallel; here the
kernels run OpenMP and Numba thread pools, and forking a process after such a pool has started
is unsafe (the child inherits locks held by threads that do not exist in it, and can hang).
The data sets tinyvision ships make a sample in about a millisecond, so one process keeps up.

Order is deterministic: with ``shuffle=True`` each pass (epoch) draws a fresh permutation from
the generator, so epochs differ from each other while a rerun with the same seed repeats them.
"""
import numbers

import numpy as np

from ..tensor import Tensor
from ._util import as_generator


def _stack(arrays, where):
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"default_collate: cannot stack {where} of different shapes "
                         f"{sorted(shapes)}; pad them in a transform or pass a collate_fn "
                         "(e.g. collate_fn=lambda batch: tuple(zip(*batch)))")
    return Tensor(np.stack(arrays))


def _to_tensors(target):
    """A target dict with its arrays as Tensors (other values, e.g. ints, as they are)."""
    return {key: Tensor(value) if isinstance(value, np.ndarray) else value
            for key, value in target.items()}


def default_collate(batch):
    """Merge a list of samples into a batch, as ``torch.utils.data.default_collate``.

    Per position of the samples:

    - ndarrays / Tensors   -> one Tensor stacked on a new first axis (same shapes needed)
    - ints / bools         -> an int64 / bool Tensor (N,); floats -> float32 (N,)
      (a NumPy scalar keeps its dtype)
    - dicts                -> a list of N dicts, arrays inside made Tensors. Dicts are
      detection targets (torchvision's convention: ``boxes`` (K, 4), ``labels`` (K,),
      ``masks`` (K, H, W) with K different per image), which cannot be stacked. NOTE: PyTorch
      collates dicts key by key instead; its detection code passes a collate_fn that gives
      lists, which is what this does by default.
    - tuples / lists       -> a list, each position collated on its own
    - strings, None, other -> a list of them
    """
    if not isinstance(batch, (list, tuple)) or not batch:
        raise ValueError(f"default_collate: expected a non-empty list of samples, got {batch!r}")
    elem = batch[0]
    if isinstance(elem, (np.ndarray, Tensor)):
        return _stack([b.data if isinstance(b, Tensor) else np.asarray(b) for b in batch],
                      "arrays")
    if isinstance(elem, np.generic):
        return Tensor(np.array(batch, dtype=elem.dtype))
    if isinstance(elem, bool):
        return Tensor(np.array(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        return Tensor(np.array(batch, dtype=np.int64))
    if isinstance(elem, numbers.Real):
        return Tensor(np.array(batch, dtype=np.float32))
    if isinstance(elem, dict):
        return [_to_tensors(b) for b in batch]
    if isinstance(elem, (tuple, list)):
        if len({len(b) for b in batch}) != 1:
            raise ValueError("default_collate: every sample must have the same number of "
                             f"items, got lengths {sorted({len(b) for b in batch})}")
        return [default_collate(list(items)) for items in zip(*batch)]
    return list(batch)


class DataLoader:
    """Iterate over ``dataset`` in batches.

    Parameters
    ----------
    dataset : a map-style data set (``__getitem__`` and ``__len__``)
    batch_size : int, samples per batch
    shuffle : bool, a new random order each epoch
    num_workers : must be 0 (single process; see the module docstring for why)
    collate_fn : callable(list of samples) -> batch; ``default_collate`` if None
    drop_last : bool, drop the last batch when it is smaller than ``batch_size``
    generator : None (``tv.manual_seed``'s generator, read at the start of each epoch), an int
        seed (a private generator made once, so epochs differ but reruns repeat) or a numpy
        Generator.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, *, num_workers=0, collate_fn=None,
                 drop_last=False, generator=None):
        if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(f"DataLoader: dataset must have __getitem__ and __len__ (a map-style "
                            f"data set), got {type(dataset).__name__}")
        if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        for name, value in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"DataLoader: {name} must be True or False, got {value!r}")
        if num_workers != 0:
            raise ValueError(f"DataLoader: num_workers must be 0, got {num_workers!r}: "
                             "tinyvision loads data in the main process (forking after the "
                             "kernels' thread pools started is unsafe)")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {collate_fn!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.num_workers = 0
        self.collate_fn = collate_fn or default_collate
        # An int seed becomes one generator now, so that each epoch continues its stream.
        self.generator = generator if generator is None else as_generator(generator, "DataLoader")

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self):
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return as_generator(self.generator, "DataLoader").permutation(n)

    def __iter__(self):
        order = self._order()
        stop = len(self) * self.batch_size
        for start in range(0, min(stop, len(order)), self.batch_size):
            batch = [self.dataset[int(i)] for i in order[start:start + self.batch_size]]
            yield self.collate_fn(batch)
