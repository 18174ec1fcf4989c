"""``digits()``: the UCI handwritten digits that scikit-learn ships (a real data set, no
download).

1,797 digits from 43 writers (Alpaydin & Kaynak, UCI ML repository, 1998): each was scanned as
a 32x32 bitmap and reduced to 8x8 by counting the ink pixels in each 4x4 block (values 0..16).
Upsampling back to 32x32 (``size=32``, bilinear) gives LeNet-5 the input size it was designed
for (LeCun et al., 1998), with the strokes as smooth ramps.

The split is fixed: per class, a seeded permutation puts 20 % of the digits into ``test``
(stratified, so both splits hold each class in the same proportion): 1,438 train / 359 test.
Pixels are scaled to [0, 1] and then standardised with the training split's mean and standard
deviation (the same numbers for both splits: test data must not leak into preprocessing).

scikit-learn is an optional extra (``pip install tinyvision[data]``); nothing else here needs it.
"""
import functools

import numpy as np

from .dataset import TensorDataset
from .transforms.interp import resize_bilinear

CLASSES = tuple(str(d) for d in range(10))
TEST_FRACTION = 0.2


@functools.lru_cache(maxsize=1)
def _load():
    """(images (1797, 8, 8) float32 in [0, 1], labels (1797,) int64) from scikit-learn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("digits: the UCI digits come with scikit-learn, which is not "
                          "installed: pip install 'tinyvision[data]' (or pip install "
                          "scikit-learn)") from None
    bunch = load_digits()
    return (bunch.images.astype(np.float32) / np.float32(16.0)), bunch.target.astype(np.int64)


def stratified_split(labels, test_fraction, seed):
    """(train indices, test indices): per class, a seeded permutation, the first
    round(test_fraction · n_class) to test. Both sorted."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(test_fraction * len(members)))
        test.append(members[:n_test])
        train.append(members[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def digits(split="train", size=8, seed=0, normalize=True):
    """The UCI digits as a ``TensorDataset`` of images (N, 1, size, size) float32 and labels
    (N,) int64 in 0..9.

    Parameters
    ----------
    split : 'train' (1,438 digits) or 'test' (359)
    size : 8 (the data as shipped) or 32 (bilinear upsampling, for LeNet-5)
    seed : seed of the stratified split (0 is the fixed default split)
    normalize : standardise with the training split's mean and std (else values in [0, 1])

    The returned data set also carries ``classes``, ``mean`` and ``std`` (the numbers used,
    (0.0, 1.0) without normalisation); ``ds.tensors`` are the two arrays, for fast training.
    """
    if split not in ("train", "test"):
        raise ValueError(f"digits: split must be 'train' or 'test', got {split!r}")
    if size not in (8, 32):
        raise ValueError(f"digits: size must be 8 or 32, got {size!r}")
    images, labels = _load()
    train, test = stratified_split(labels, TEST_FRACTION, seed)
    if size != 8:
        images = resize_bilinear(images, (size, size))
    mean, std = 0.0, 1.0
    if normalize:
        mean, std = float(images[train].mean()), float(images[train].std())
    chosen = train if split == "train" else test
    x = ((images[chosen] - np.float32(mean)) / np.float32(std))[:, None].astype(np.float32)
    dataset = TensorDataset(x, labels[chosen])
    dataset.classes, dataset.mean, dataset.std = CLASSES, mean, std
    return dataset
