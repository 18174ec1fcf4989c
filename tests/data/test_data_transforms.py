"""Transforms keep the image and its target consistent: boxes, masks, semantic maps and
keypoints move with the pixels (property-based, with rectangles whose boxes are known)."""
import colorsys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinyvision as tv
import tinyvision.data.transforms as T
from tinyvision.data.transforms import functional as TF


def box_of(mask):
    """xyxy of a non-empty (H, W) mask: x2, y2 one past the last pixel."""
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


@st.composite
def scenes(draw, min_side=6, max_side=40):
    """(image (3, H, W), target) of K rectangles; object k has label k + 1, a keypoint at
    its centre pixel, and paints its label into channel 0 and the semantic map."""
    h = draw(st.integers(min_side, max_side))
    w = draw(st.integers(min_side, max_side))
    k = draw(st.integers(0, 4))
    image = np.zeros((3, h, w), np.float32)
    image[1] = np.linspace(0, 1, w, dtype=np.float32)[None, :]     # a ramp to see flips
    image[2] = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    boxes, masks, keypoints = [], np.zeros((k, h, w), np.uint8), []
    semantic = np.zeros((h, w), np.int64)
    for j in range(k):
        x1, y1 = draw(st.integers(0, w - 1)), draw(st.integers(0, h - 1))
        x2, y2 = draw(st.integers(x1 + 1, w)), draw(st.integers(y1 + 1, h))
        masks[j, y1:y2, x1:x2] = 1
        boxes.append((x1, y1, x2, y2))
        keypoints.append([[(x1 + x2) // 2 + 0.5, (y1 + y2) // 2 + 0.5, 2], [x1 + 0.5, y1 + 0.5, 1]])
    for j in range(k):                      # the semantic map: later objects on top
        semantic[masks[j] > 0] = j + 1
    image[0] = semantic / 10.0
    target = {"boxes": np.array(boxes, np.float32).reshape(k, 4),
              "labels": np.arange(1, k + 1, dtype=np.int64), "masks": masks,
              "semantic": semantic, "keypoints": np.array(keypoints, np.float32).reshape(k, 2, 3),
              "image_id": 7}
    return image, target


def oracle_window(array, top, left, height, width):
    """The window of array (..., H, W) cut by plain padding and slicing (fill 0)."""
    H, W = array.shape[-2:]
    pad = max(H, W, abs(top), abs(left)) + max(height, width)
    padded = np.pad(array, [(0, 0)] * (array.ndim - 2) + [(pad, pad), (pad, pad)])
    return padded[..., pad + top:pad + top + height, pad + left:pad + left + width]


def check_consistent(image, target):
    """Each object's box is its mask's box; semantic and channel 0 agree with the masks."""
    k = len(target["labels"])
    assert target["boxes"].shape == (k, 4) and target["masks"].shape[0] == k
    assert target["keypoints"].shape[0] == k and target["image_id"] == 7
    for box, mask in zip(target["boxes"], target["masks"]):
        assert mask.any()
        np.testing.assert_array_equal(box, box_of(mask))
    np.testing.assert_allclose(image[0] * 10, target["semantic"], atol=1e-5)


@given(scenes())
def test_hflip_keeps_boxes_on_masks_and_twice_is_identity(scene):
    image, target = scene
    flipped, ft = TF.hflip(image, target)
    check_consistent(flipped, ft)
    np.testing.assert_array_equal(flipped, image[..., ::-1])
    back, bt = TF.hflip(flipped, ft)
    np.testing.assert_array_equal(back, image)
    for key in ("boxes", "masks", "semantic", "keypoints", "labels"):
        np.testing.assert_array_equal(bt[key], target[key])
    assert target["boxes"] is not ft["boxes"]          # the input target is not modified


def test_hflip_keypoint_permutation_swaps_left_and_right():
    image = np.zeros((3, 10, 20), np.float32)
    # Joint 0 = left eye at x = 4.5, joint 1 = right eye at x = 12.5, joint 2 = nose.
    kp = np.array([[[4.5, 3, 2], [12.5, 3, 2], [8.5, 5, 1]]], np.float32)
    flip = T.RandomHorizontalFlip(p=1.0, keypoint_flip_indices=[1, 0, 2])
    _, t = flip(image, {"keypoints": kp})
    # The mirrored right eye (20 − 12.5 = 7.5) is now the left eye, joint 0.
    np.testing.assert_allclose(t["keypoints"][0], [[7.5, 3, 2], [15.5, 3, 2], [11.5, 5, 1]])
    single = flip(image, {"keypoints": kp[0]})[1]["keypoints"]     # (J, 3) form
    np.testing.assert_allclose(single, t["keypoints"][0])
    with pytest.raises(ValueError, match="permutation"):
        T.RandomHorizontalFlip(keypoint_flip_indices=[0, 0, 2])


@given(scenes(), st.data())
def test_crop_and_translate_move_everything_together(scene, data):
    image, target = scene
    H, W = image.shape[1:]
    if data.draw(st.booleans()):
        top, left = data.draw(st.integers(-H, H)), data.draw(st.integers(-W, W))
        height, width = data.draw(st.integers(1, 2 * H)), data.draw(st.integers(1, 2 * W))
        out, t = TF.crop(image, target, top, left, height, width)
    else:
        dx, dy = data.draw(st.integers(-W, W)), data.draw(st.integers(-H, H))
        out, t = TF.translate(image, target, dx, dy)
        top, left, height, width = -dy, -dx, H, W
    np.testing.assert_array_equal(out, oracle_window(image, top, left, height, width))
    check_consistent(out, t)
    # Exactly the objects with a pixel left in the window survive, each with its own mask.
    windows = oracle_window(target["masks"], top, left, height, width)
    survivors = [j for j in range(len(target["labels"])) if windows[j].any()]
    np.testing.assert_array_equal(t["labels"], np.array(survivors, np.int64) + 1)
    for mask, j in zip(t["masks"], survivors):
        np.testing.assert_array_equal(mask, windows[j])
    # A keypoint stays visible iff it lies in the window, and moves by (−left, −top).
    kp = target["keypoints"][survivors]
    inside = ((kp[..., 0] - left >= 0) & (kp[..., 0] - left < width)
              & (kp[..., 1] - top >= 0) & (kp[..., 1] - top < height))
    np.testing.assert_array_equal(t["keypoints"][..., 2], np.where(inside, kp[..., 2], 0))
    np.testing.assert_allclose(t["keypoints"][..., :2], kp[..., :2] - [left, top])


@given(scenes(min_side=8), st.integers(4, 64), st.integers(4, 64))
def test_resize_scales_boxes_with_the_masks(scene, h, w):
    image, target = scene
    out, t = TF.resize(image, target, (h, w))
    assert out.shape == (3, h, w) and t["masks"].shape[1:] == (h, w) and t["semantic"].shape == (h, w)
    sx, sy = w / image.shape[2], h / image.shape[1]
    np.testing.assert_allclose(t["boxes"], target["boxes"] * [sx, sy, sx, sy], rtol=1e-6)
    for box, mask in zip(t["boxes"], t["masks"]):
        if mask.any():        # nearest rounding moves an edge by less than one output pixel
            np.testing.assert_allclose(box_of(mask), box, atol=1.0 + 1e-5)


@given(scenes(min_side=10), st.integers(0, 2**16))
def test_random_resized_crop_is_consistent_and_seeded(scene, seed):
    image, target = scene
    crop = T.RandomResizedCrop(24, scale=(0.2, 1.0), generator=seed)
    out, t = crop(image, target)
    assert out.shape == (3, 24, 24) and t["masks"].shape[1:] == (24, 24)
    assert len(t["boxes"]) == len(t["labels"]) == len(t["masks"]) == len(t["keypoints"])
    for box, mask in zip(t["boxes"], t["masks"]):
        assert mask.any()     # objects that left the crop were dropped before the resize
        # Nearest rounding moves each edge of the mask by less than one output pixel.
        np.testing.assert_allclose(box_of(mask), box, atol=1.0 + 1e-4)
    again = T.RandomResizedCrop(24, scale=(0.2, 1.0), generator=seed)(image, target)
    np.testing.assert_array_equal(again[0], out)
    np.testing.assert_array_equal(again[1]["boxes"], t["boxes"])


def test_random_translate_drops_objects_pushed_out():
    image = np.zeros((3, 20, 20), np.float32)
    masks = np.zeros((2, 20, 20), np.uint8)
    masks[0, 2:5, 2:5] = 1          # near the left edge
    masks[1, 10:15, 12:18] = 1
    target = {"boxes": np.array([[2, 2, 5, 5], [12, 10, 18, 15]], np.float32),
              "labels": np.array([1, 2]), "masks": masks, "area": np.array([9.0, 30.0])}
    out, t = TF.translate(image, target, dx=-6, dy=0)
    np.testing.assert_array_equal(t["labels"], [2])
    np.testing.assert_array_equal(t["boxes"], [[6, 10, 12, 15]])
    np.testing.assert_array_equal(t["area"], [30.0])
    shift = T.RandomTranslate((0.2, 0.1), generator=1)
    a, b = shift(image, target), T.RandomTranslate((0.2, 0.1), generator=1)(image, target)
    np.testing.assert_array_equal(a[1]["boxes"], b[1]["boxes"])
    with pytest.raises(ValueError, match="translate must be a fraction"):
        T.RandomTranslate((0.2, 2.0))


def test_seeded_by_manual_seed_and_given_back_as_tensor():
    image = np.random.default_rng(0).random((3, 16, 16), dtype=np.float32)
    pipeline = T.Compose([T.RandomHorizontalFlip(), T.RandomResizedCrop(8),
                          T.ColorJitter(0.4, 0.4, 0.4, 0.1)])
    tv.manual_seed(11)
    first = pipeline(image)
    tv.manual_seed(11)
    np.testing.assert_array_equal(pipeline(image), first)
    out = pipeline(tv.tensor(image))
    assert isinstance(out, tv.Tensor) and out.shape == (3, 8, 8)
    assert isinstance(first, np.ndarray)
    image2, label = pipeline(image, 3)              # a class label passes through
    assert label == 3 and image2.shape == (3, 8, 8)


def test_color_jitter_formulas_and_range():
    rng = np.random.default_rng(1)
    x = rng.random((3, 5, 6), dtype=np.float32)
    from tinyvision.data.transforms import color as C
    np.testing.assert_allclose(C.adjust_brightness(x, 0.5), x * 0.5, atol=1e-7)
    gray_mean = (0.2989 * x[0] + 0.587 * x[1] + 0.114 * x[2]).mean()
    np.testing.assert_allclose(C.adjust_contrast(x, 1.5), np.clip(1.5 * x - 0.5 * gray_mean, 0, 1),
                               atol=1e-6)
    np.testing.assert_allclose(C.adjust_saturation(x, 0.0), np.repeat(C.rgb_to_grayscale(x), 3, 0),
                               atol=1e-6)
    shifted = C.adjust_hue(x, 0.2)
    for (i, j) in [(0, 0), (2, 3), (4, 5)]:
        h, s, v = colorsys.rgb_to_hsv(*x[:, i, j])
        np.testing.assert_allclose(shifted[:, i, j], colorsys.hsv_to_rgb((h + 0.2) % 1, s, v),
                                   atol=1e-5)
    np.testing.assert_allclose(C.adjust_hue(x, 0.0), x, atol=1e-6)
    jitter = T.ColorJitter(0.5, 0.5, 0.5, 0.2, generator=0)
    out, target = jitter(x, {"boxes": np.zeros((0, 4))})
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    assert target["boxes"].shape == (0, 4)
    gray = T.ColorJitter(0.5, 0.5, 0.5, 0.2)(x[:1])          # 1 channel: hue/saturation skip
    assert gray.shape == (1, 5, 6)
    with pytest.raises(ValueError, match=r"\[0, 1\].*before Normalize"):
        jitter(x * 3)
    with pytest.raises(ValueError, match="hue"):
        T.ColorJitter(hue=0.7)


def test_to_tensor_and_normalize():
    hwc = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10
    t = T.ToTensor()(hwc)
    assert isinstance(t, tv.Tensor) and t.shape == (3, 2, 3) and t.dtype == np.float32
    np.testing.assert_allclose(t.numpy()[:, 1, 2], hwc[1, 2] / 255.0)
    from PIL import Image
    assert T.ToTensor()(Image.fromarray(hwc)).shape == (3, 2, 3)
    norm = T.Normalize([0.5, 0.5, 0.5], [0.25, 0.5, 1.0])
    out = norm(t)
    np.testing.assert_allclose(out.numpy()[1], (t.numpy()[1] - 0.5) / 0.5, atol=1e-6)
    with pytest.raises(ValueError, match="std > 0"):
        T.Normalize([0.5], [0.0])
    with pytest.raises(ValueError, match="2 means for an image with 3 channels"):
        T.Normalize([0, 0], [1, 1])(t)


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: T.RandomHorizontalFlip(p=1.0)(np.zeros((8, 8, 3), np.uint8)), ValueError,
     r"\(C, H, W\) float.*ToTensor"),
    (lambda: T.Resize(0), ValueError, "size must be a positive int"),
    (lambda: T.RandomResizedCrop(8, scale=(0.9, 0.1)), ValueError, "scale"),
    (lambda: T.RandomHorizontalFlip(p=2), ValueError, r"p must be a probability"),
    (lambda: TF.hflip(np.zeros((3, 4, 4), np.float32), {"masks": np.zeros((1, 5, 4))}),
     ValueError, r"target\['masks'\] has shape \(1, 5, 4\), but the image is 4x4"),
    (lambda: T.Compose([3]), TypeError, "transform 0 is not callable"),
])
def test_transforms_reject_bad_input(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_resize_matches_torch_interpolate():
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle for interpolation")
    from tinyvision.data.transforms.interp import resize_bilinear, resize_nearest
    x = np.random.default_rng(0).random((2, 13, 21), dtype=np.float32)
    for size in [(5, 7), (32, 40), (13, 21), (26, 9)]:
        ref = torch.nn.functional.interpolate(torch.from_numpy(x)[None], size=size,
                                              mode="bilinear", align_corners=False)[0].numpy()
        np.testing.assert_allclose(resize_bilinear(x, size), ref, atol=1e-5)
        ref = torch.nn.functional.interpolate(torch.from_numpy(x)[None], size=size,
                                              mode="nearest")[0].numpy()
        np.testing.assert_array_equal(resize_nearest(x, size), ref)
    assert T.Resize(8)(np.zeros((3, 16, 32), np.float32)).shape == (3, 8, 16)
