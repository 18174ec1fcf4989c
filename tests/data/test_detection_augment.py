"""SSD's augmentation (data/detection_augment.py): boxes stay inside the image and follow
the pixels through zoom out, IoU crops, resizing and flips; each step on its own."""
import numpy as np
import pytest

from tinyvision.data.detection_augment import (horizontal_flip, iou_crop, photometric_distort,
                                               resize_to, ssd_augment, zoom_out)
from tinyvision.ops import box_iou


def _one_box_scene(box=(30, 40, 70, 90), size=128):
    """A black (3, size, size) image with one filled white box (xyxy pixels)."""
    image = np.zeros((3, size, size), np.float32)
    x1, y1, x2, y2 = box
    image[:, y1:y2, x1:x2] = 1.0
    return image, {"boxes": np.array([box], np.float32), "labels": np.array([3])}


@pytest.mark.parametrize("seed", range(25))
def test_the_box_follows_its_pixels_through_the_whole_pipeline(seed):
    image, target = _one_box_scene()
    rng = np.random.default_rng(seed)
    out, t = ssd_augment(rng, image, target, photometric=False, max_zoom_out=3.0)
    assert out.shape == (3, 128, 128) and out.dtype == np.float32
    assert len(t["boxes"]) == len(t["labels"]) <= 1
    if not len(t["boxes"]):                    # the crop may leave out the object's centre
        return
    assert t["labels"].tolist() == [3]
    x1, y1, x2, y2 = t["boxes"][0]
    assert 0 <= x1 < x2 <= 128 and 0 <= y1 < y2 <= 128
    bright = out[0] > 0.9
    ys, xs = np.nonzero(bright)
    # every bright pixel lies in the box (1.5 px of bilinear blur allowed) ...
    assert (xs + 0.5 >= x1 - 1.5).all() and (xs + 0.5 <= x2 + 1.5).all()
    assert (ys + 0.5 >= y1 - 1.5).all() and (ys + 0.5 <= y2 + 1.5).all()
    # ... and the box's inside is bright
    inner = out[0, int(np.ceil(y1)) + 1:int(y2) - 1, int(np.ceil(x1)) + 1:int(x2) - 1]
    if inner.size:
        assert inner.min() > 0.9


def test_zoom_out_pastes_the_image_on_a_mean_canvas_and_shifts_the_boxes():
    image, target = _one_box_scene(size=32, box=(4, 6, 12, 20))
    rng = np.random.default_rng(1)
    out, boxes, labels = zoom_out(rng, image, target["boxes"], target["labels"], 3.0,
                                  fill=[0.5, 0.5, 0.5], p=1.0)
    assert out.shape[1] >= 32 and out.shape[1] <= 96
    x1, y1, x2, y2 = boxes[0].astype(int)
    np.testing.assert_array_equal(out[:, y1:y2, x1:x2], 1.0)
    assert (out == 0.5).any() and labels.tolist() == [3]


def test_iou_crop_keeps_objects_whose_centre_is_inside_and_meets_the_minimum_iou():
    rng = np.random.default_rng(0)
    image = rng.random((3, 100, 100)).astype(np.float32)
    boxes = np.array([[10, 10, 30, 30], [60, 60, 95, 90], [40, 5, 55, 20]], np.float32)
    labels = np.array([1, 2, 3])
    for seed in range(40):
        r = np.random.default_rng(seed)
        out, kept, kept_labels = iou_crop(r, image, boxes, labels, min_ious=(0.3,))
        if out.shape[1:] == (100, 100):
            continue                           # no valid patch: unchanged
        h, w = out.shape[1:]
        assert len(kept) >= 1 and len(kept) == len(kept_labels)
        assert (kept[:, [0, 2]] >= 0).all() and (kept[:, [0, 2]] <= w).all()
        assert (kept[:, [1, 3]] >= 0).all() and (kept[:, [1, 3]] <= h).all()
        # find the patch in the image: the crop is a window of it
        ys, xs = np.nonzero((image[0] == out[0, 0, 0]))
        y0, x0 = ys[0], xs[0]
        np.testing.assert_array_equal(image[:, y0:y0 + h, x0:x0 + w], out)
        patch = np.array([[x0, y0, x0 + w, y0 + h]], np.float32)
        original = boxes[np.isin(labels, kept_labels)]
        assert box_iou(patch, original).numpy().max() >= 0.3 - 0.05   # rounding to pixels


def test_resize_and_flip_move_boxes_with_the_pixels():
    image, target = _one_box_scene(size=64, box=(8, 16, 24, 48))
    out, boxes, _ = resize_to(image, target["boxes"], target["labels"], (32, 32))
    np.testing.assert_allclose(boxes, [[4, 8, 12, 24]])
    assert out[:, 9:23, 5:11].min() > 0.99 and out.shape == (3, 32, 32)
    flipped, fboxes, _ = horizontal_flip(np.random.default_rng(0), out, boxes, None, p=1.0)
    np.testing.assert_allclose(fboxes, [[20, 8, 28, 24]])
    np.testing.assert_array_equal(flipped[..., ::-1], out)


def test_photometric_distort_changes_colours_not_boxes_and_stays_in_range():
    rng = np.random.default_rng(0)
    image = rng.random((3, 16, 16)).astype(np.float32)
    boxes = np.array([[1, 2, 5, 6]], np.float32)
    changed = False
    for _ in range(5):
        out, b, _ = photometric_distort(rng, image, boxes, None, p=1.0)
        assert out.shape == image.shape and out.min() >= 0 and out.max() <= 1
        np.testing.assert_array_equal(b, boxes)
        changed |= not np.allclose(out, image)
    assert changed
