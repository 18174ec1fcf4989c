"""Dataset, Subset, random_split, DataLoader and default_collate: batching, order, seeds."""
import numpy as np
import pytest

import tinyvision as tv
from tinyvision.data import (ConcatDataset, DataLoader, Dataset, Subset, TensorDataset,
                             default_collate, random_split)


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full((2, 3), i, np.float32), i


class Scenes(Dataset):
    """Detection-style samples: K = i % 3 objects."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        k = i % 3
        return (np.zeros((3, 4, 4), np.float32),
                {"boxes": np.full((k, 4), i, np.float32), "labels": np.arange(k) + 1,
                 "image_id": i})


def labels_of(loader):
    return [b[1].numpy().tolist() for b in loader]


def test_tensor_dataset_rows_and_errors():
    ds = TensorDataset(np.arange(10).reshape(5, 2), tv.tensor([0, 1, 2, 3, 4]))
    x, y = ds[-1]
    assert len(ds) == 5 and x.tolist() == [8, 9] and y == 4
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(IndexError, match="index 5 is out of range for 5"):
        ds[5]


def test_subset_concat_and_random_split():
    ds = Squares(10)
    sub = Subset(ds, [3, 1])
    assert len(sub) == 2 and sub[0][1] == 3 and sub[1][1] == 1
    with pytest.raises(IndexError, match=r"\[0, 10\)"):
        Subset(ds, [10])
    both = ConcatDataset([Squares(2), Squares(3)])
    assert [both[i][1] for i in range(5)] == [0, 1, 0, 1, 2]
    a, b = random_split(ds, [7, 3], generator=1)
    assert sorted(a.indices + b.indices) == list(range(10)) and len(a) == 7
    a2, _ = random_split(ds, [7, 3], generator=1)
    assert a.indices == a2.indices                          # same seed, same split
    parts = random_split(ds, [0.5, 0.3, 0.2], generator=0)
    assert [len(p) for p in parts] == [5, 3, 2]
    with pytest.raises(ValueError, match="sum to 9"):
        random_split(ds, [6, 3])


def test_batches_in_order_and_drop_last():
    loader = DataLoader(Squares(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    images, labels = batches[0]
    assert isinstance(images, tv.Tensor) and images.shape == (4, 2, 3)
    assert images.dtype == np.float32 and labels.dtype == np.int64
    assert labels_of(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    dropped = DataLoader(Squares(10), batch_size=4, drop_last=True)
    assert len(dropped) == 2 and labels_of(dropped) == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_shuffle_is_a_permutation_seeded_and_new_each_epoch():
    loader = DataLoader(Squares(20), batch_size=6, shuffle=True, generator=3)
    epoch1, epoch2 = (sum(labels_of(loader), []) for _ in range(2))
    assert sorted(epoch1) == list(range(20)) and sorted(epoch2) == list(range(20))
    assert epoch1 != epoch2                                    # reshuffled each epoch
    again = DataLoader(Squares(20), batch_size=6, shuffle=True, generator=3)
    assert sum(labels_of(again), []) == epoch1                 # same seed, same epochs
    assert sum(labels_of(again), []) == epoch2


def test_shuffle_follows_manual_seed_without_generator():
    loader = DataLoader(Squares(20), batch_size=20, shuffle=True)
    tv.manual_seed(5)
    first = labels_of(loader)
    tv.manual_seed(5)
    assert labels_of(loader) == first
    assert first != [list(range(20))]


def test_collate_keeps_detection_targets_as_lists():
    images, targets = next(iter(DataLoader(Scenes(), batch_size=3)))
    assert images.shape == (3, 3, 4, 4)
    assert isinstance(targets, list) and len(targets) == 3
    assert [t["boxes"].shape for t in targets] == [(0, 4), (1, 4), (2, 4)]
    assert isinstance(targets[2]["boxes"], tv.Tensor) and targets[2]["labels"].dtype == np.int64
    assert [t["image_id"] for t in targets] == [0, 1, 2]


def test_default_collate_types():
    batch = default_collate([(1.5, True, "a", np.float64(2)), (2.5, False, "b", np.float64(3))])
    assert batch[0].dtype == np.float32 and batch[1].dtype == np.bool_
    assert batch[2] == ["a", "b"] and batch[3].dtype == np.float64
    with pytest.raises(ValueError, match=r"different shapes.*collate_fn"):
        default_collate([np.zeros(2), np.zeros(3)])


def test_custom_collate_fn():
    loader = DataLoader(Scenes(), batch_size=2, collate_fn=lambda b: tuple(zip(*b)))
    images, targets = next(iter(loader))
    assert len(images) == 2 and isinstance(images[0], np.ndarray)


@pytest.mark.parametrize("kwargs, error, pattern", [
    ({"batch_size": 0}, ValueError, "batch_size must be a positive int"),
    ({"batch_size": 2.0}, ValueError, "batch_size"),
    ({"shuffle": "yes"}, TypeError, "shuffle must be True or False"),
    ({"num_workers": 2}, ValueError, "num_workers must be 0.*fork"),
    ({"collate_fn": 3}, TypeError, "collate_fn must be callable"),
    ({"generator": "seed"}, TypeError, "generator must be None, a non-negative int"),
])
def test_loader_rejects_bad_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        DataLoader(Squares(3), **kwargs)


def test_loader_rejects_non_dataset():
    with pytest.raises(TypeError, match="__getitem__ and __len__"):
        DataLoader(iter(range(3)))
