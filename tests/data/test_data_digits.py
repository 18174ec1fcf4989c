"""digits(): sizes, stratified fixed split, determinism, normalisation, and the error that
names the extra to install when scikit-learn is missing."""
import importlib
import sys

import numpy as np
import pytest

from tinyvision.data import DataLoader, digits

digits_module = importlib.import_module("tinyvision.data.digits")  # the name `digits` is the function

sklearn = pytest.importorskip("sklearn", reason="digits() reads the data scikit-learn ships")


def test_sizes_and_types():
    train, test = digits("train"), digits("test")
    x, y = train.tensors
    assert x.shape == (1438, 1, 8, 8) and x.dtype == np.float32 and y.dtype == np.int64
    assert len(test) == 359 and len(train) + len(test) == 1797
    big = digits("test", size=32)
    assert big.tensors[0].shape == (359, 1, 32, 32)
    images, labels = next(iter(DataLoader(big, batch_size=16)))
    assert images.shape == (16, 1, 32, 32) and labels.shape == (16,)


def test_split_is_stratified_disjoint_and_fixed():
    labels = digits_module._load()[1]
    train_idx, test_idx = digits_module.stratified_split(labels, 0.2, 0)
    assert not set(train_idx) & set(test_idx) and len(train_idx) + len(test_idx) == 1797
    per_class = np.bincount(labels)
    np.testing.assert_array_equal(np.bincount(labels[test_idx]), np.round(0.2 * per_class))
    again = digits_module.stratified_split(labels, 0.2, 0)[1]
    np.testing.assert_array_equal(again, test_idx)
    assert not np.array_equal(digits_module.stratified_split(labels, 0.2, 1)[1], test_idx)
    np.testing.assert_array_equal(digits("test").tensors[1], labels[test_idx])


def test_normalised_with_training_statistics():
    train, test = digits("train"), digits("test")
    x = train.tensors[0]
    assert abs(x.mean()) < 1e-4 and abs(x.std() - 1) < 1e-4
    assert (test.mean, test.std) == (train.mean, train.std)
    raw = digits("train", normalize=False).tensors[0]
    assert raw.min() == 0 and raw.max() == 1
    np.testing.assert_allclose((raw - train.mean) / train.std, x, atol=1e-5)


def test_upsampling_keeps_the_picture():
    small = digits("train", normalize=False).tensors[0][:5]
    big = digits("train", size=32, normalize=False).tensors[0][:5]
    # Each 4x4 block of the upsampled digit, averaged, follows the original pixel (bilinear
    # blurs a little, so not exactly).
    blocks = big.reshape(5, 1, 8, 4, 8, 4).mean(axis=(3, 5))
    assert np.corrcoef(blocks.ravel(), small.ravel())[0, 1] > 0.95


def test_bad_arguments():
    with pytest.raises(ValueError, match="size must be 8 or 32"):
        digits(size=28)
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        digits("val")


def test_missing_scikit_learn_names_the_extra(monkeypatch):
    digits_module._load.cache_clear()
    monkeypatch.setitem(sys.modules, "sklearn", None)         # import sklearn -> ImportError
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    try:
        with pytest.raises(ImportError, match=r"scikit-learn.*pip install 'tinyvision\[data\]'"):
            digits()
    finally:
        digits_module._load.cache_clear()
