"""ShapesScenes: deterministic, consistent targets (boxes = boxes of the visible masks,
semantic map = union of the masks), object counts and sizes in range, both modes, speed."""
import time

import numpy as np
import pytest

import tinyvision.data.transforms as T
from tinyvision.data import DataLoader, ShapesScenes


def check_item(image, target, index, size=128, max_objects=6):
    assert image.shape == (3, size, size) and image.dtype == np.float32
    assert 0 <= image.min() and image.max() <= 1
    boxes, labels, masks, semantic = (target[k] for k in ("boxes", "labels", "masks", "semantic"))
    k = len(labels)
    assert 1 <= k <= max_objects and target["image_id"] == index
    assert boxes.shape == (k, 4) and boxes.dtype == np.float32
    assert labels.dtype == np.int64 and set(labels) <= set(range(1, len(ShapesScenes.CLASSES) + 1))
    assert masks.shape == (k, size, size) and masks.dtype == np.uint8
    assert semantic.shape == (size, size) and semantic.dtype == np.int64
    # Visible masks do not overlap, and their union with labels is the semantic map.
    assert masks.sum(axis=0).max() <= 1
    np.testing.assert_array_equal((masks * labels[:, None, None]).sum(axis=0), semantic)
    for box, mask in zip(boxes, masks):
        ys, xs = np.nonzero(mask)
        assert len(ys) >= 5                              # no object hidden to a speck
        np.testing.assert_array_equal(box, [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])


def test_items_are_consistent():
    ds = ShapesScenes("train", n=60)
    counts, sides = [], []
    for i in range(len(ds)):
        image, target = ds[i]
        check_item(image, target, i)
        counts.append(len(target["labels"]))
        sides.extend(np.max(target["boxes"][:, 2:] - target["boxes"][:, :2], axis=1))
    assert min(counts) == 1 and max(counts) == 6
    # Shapes have long sides of 8 to 80 px; a rotated one's box can be up to √2 larger, and
    # occlusion can shrink what is visible.
    assert 3 <= min(sides) and max(sides) <= 80 * 2 ** 0.5 + 1 and np.median(sides) > 12


def test_deterministic_per_seed_and_split():
    a, b = ShapesScenes("val")[17], ShapesScenes("val")[17]
    np.testing.assert_array_equal(a[0], b[0])
    for key in ("boxes", "labels", "masks", "semantic"):
        np.testing.assert_array_equal(a[1][key], b[1][key])
    assert not np.array_equal(ShapesScenes("val", seed=1)[17][0], a[0])
    assert not np.array_equal(ShapesScenes("test")[17][0], a[0])
    assert not np.array_equal(ShapesScenes("train")[17][0], a[0])
    assert len(ShapesScenes("train")) == 2000 and len(ShapesScenes("test")) == 500


def test_single_object_mode():
    ds = ShapesScenes("train", n=40, single_object=True)
    for i in range(len(ds)):
        image, target = ds[i]
        check_item(image, target, i, max_objects=1)
        side = float(np.max(target["boxes"][0, 2:] - target["boxes"][0, :2]))
        # The shape's long side is 30-75 % of the image; its box turns with it.
        assert 0.3 * 128 / 2 ** 0.5 <= side <= 128
    labels = ShapesScenes("train", n=40, single_object=True, target_type="label")
    image, label = labels[3]
    assert label == ds[3][1]["labels"][0] - 1 and isinstance(label, int)
    np.testing.assert_array_equal(image, ds[3][0])
    arrays = labels.arrays(range(5))
    assert arrays["images"].shape == (5, 3, 128, 128) and arrays["label"].shape == (5,)
    assert arrays["box"].shape == (5, 4) and arrays["label"][3] == label


def test_arrays_match_items_and_loader_batches():
    ds = ShapesScenes("test", n=6, image_size=64)
    arrays = ds.arrays()
    assert arrays["images"].shape == (6, 3, 64, 64) and arrays["semantic"].shape == (6, 64, 64)
    image, target = ds[4]
    check_item(image, target, 4, size=64)
    np.testing.assert_array_equal(arrays["images"][4], image)
    np.testing.assert_array_equal(arrays["masks"][4], target["masks"])
    images, targets = next(iter(DataLoader(ds, batch_size=4, shuffle=True, generator=0)))
    assert images.shape == (4, 3, 64, 64) and len(targets) == 4


def test_transforms_apply_to_items():
    flip = ShapesScenes("val", n=3, transforms=T.RandomHorizontalFlip(p=1.0))
    image, target = flip[1]
    plain_image, plain_target = ShapesScenes("val", n=3)[1]
    np.testing.assert_array_equal(image, plain_image[..., ::-1])
    np.testing.assert_array_equal(target["boxes"][:, 0], 128 - plain_target["boxes"][:, 2])


def test_to_coco_lists_every_object():
    ds = ShapesScenes("val", n=5)
    coco = ds.to_coco()
    assert [c["name"] for c in coco["categories"]] == list(ShapesScenes.CLASSES)
    assert len(coco["images"]) == 5
    assert len(coco["annotations"]) == sum(len(ds[i][1]["labels"]) for i in range(5))
    ann = coco["annotations"][0]
    box = ds[0][1]["boxes"][0]
    assert ann["id"] == 1 and ann["bbox"] == [box[0], box[1], box[2] - box[0], box[3] - box[1]]
    assert ann["area"] == ds[0][1]["masks"][0].sum()


def test_generation_speed():
    """Generating 200 images takes well under 2 s (measured figure printed with -s)."""
    ds = ShapesScenes("train")
    start = time.perf_counter()
    for i in range(200):
        ds[i]
    seconds = time.perf_counter() - start
    print(f"ShapesScenes: {200 / seconds:.0f} images/s (128x128, 1-6 objects)")
    assert seconds < 2.0


@pytest.mark.parametrize("kwargs, pattern", [
    ({"split": "dev"}, "split must be one of"),
    ({"n": 0}, "n must be an int >= 1"),
    ({"image_size": 16}, "image_size must be an int >= 32"),
    ({"max_objects": 0}, "max_objects"),
    ({"target_type": "label"}, "needs single_object=True"),
    ({"target_type": "boxes"}, "target_type must be"),
])
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        ShapesScenes(**kwargs)


def test_index_out_of_range():
    with pytest.raises(IndexError, match="index 5 is out of range for 5"):
        ShapesScenes("val", n=5)[5]
