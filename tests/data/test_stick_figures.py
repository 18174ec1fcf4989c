"""StickFigures: determinism, shapes, the left/right convention under flips, visibility."""
import numpy as np
import pytest

from tinyvision.data import StickFigures
from tinyvision.data import transforms as T
from tinyvision.data.stick_figures import FLIP_INDICES, JOINTS


def test_items_are_deterministic_and_random_access():
    a = StickFigures("train", n=20)
    b = StickFigures("train", n=20)
    later = [b[i] for i in (7, 3, 7)]                    # another order, repeated access
    for (img, t), i in zip(later, (7, 3, 7)):
        img2, t2 = a[i]
        np.testing.assert_array_equal(img, img2)
        np.testing.assert_array_equal(t["keypoints"], t2["keypoints"])
    assert not np.array_equal(a[0][0], a[1][0])
    assert not np.array_equal(a[0][0], StickFigures("train", n=20, seed=1)[0][0])
    assert not np.array_equal(a[0][0], StickFigures("test")[0][0])   # splits share no stream


def test_shapes_dtypes_and_default_splits():
    assert [len(StickFigures(s)) for s in ("train", "val", "test")] == [4000, 500, 500]
    ds = StickFigures("val", n=5, image_size=48)
    image, t = ds[4]
    assert image.shape == (3, 48, 48) and image.dtype == np.float32
    assert 0 <= image.min() and image.max() <= 1
    assert t["keypoints"].shape == (1, 14, 3) and t["keypoints"].dtype == np.float32
    assert t["boxes"].shape == (1, 4) and t["labels"].tolist() == [1] and t["image_id"] == 4
    assert set(np.unique(t["keypoints"][..., 2])) <= {0.0, 1.0}
    a = ds.arrays()
    assert a["images"].shape == (5, 3, 48, 48) and a["keypoints"].shape == (5, 14, 3)
    np.testing.assert_array_equal(a["images"][4], image)
    np.testing.assert_array_equal(a["keypoints"][4], t["keypoints"][0])
    # the box is the tight box of all 14 joints, the PCK reference
    xy = t["keypoints"][0, :, :2]
    np.testing.assert_allclose(a["boxes"][4], np.r_[xy.min(0), xy.max(0)])
    assert len(JOINTS) == 14 and JOINTS[0] == "r-ankle" and JOINTS[13] == "head-top"


def test_figure_is_drawn_where_its_joints_are():
    # Along the torso (pelvis -> neck) every pixel shows the figure's one colour, up to the
    # sensor noise (< 0.1); three random pixels of these images differ by 0.15 (median).
    ds = StickFigures("train", n=30, occlude_p=0.0)
    spreads = []
    for i in range(len(ds)):
        image, t = ds[i]
        k = t["keypoints"][0]
        points = [(k[2, :2] + k[3, :2]) / 2 * (1 - s) + k[12, :2] * s for s in (0.2, 0.5, 0.8)]
        px = np.array([image[:, int(y), int(x)] for x, y in points
                       if 0 <= x < 64 and 0 <= y < 64])
        if len(px) == 3:
            spreads.append(np.abs(px - px.mean(0)).max())
    assert len(spreads) > 20 and max(spreads) < 0.1, spreads


def test_the_right_side_is_on_the_image_left_before_and_after_a_flip():
    # The figure faces the camera: its right hip and shoulder are left of its left ones.
    ds = StickFigures("train", n=40)
    flip = T.RandomHorizontalFlip(1.0, keypoint_flip_indices=FLIP_INDICES)
    for i in range(len(ds)):
        image, t = ds[i]
        fimage, ft = flip(image, t)
        for k in (t["keypoints"][0], ft["keypoints"][0]):
            assert k[2, 0] < k[3, 0] and k[8, 0] < k[9, 0]   # r-hip < l-hip, r-sh < l-sh
        np.testing.assert_array_equal(fimage, image[..., ::-1])
        # mirrored x, then left and right swap names; visibility travels with its joint
        old, new = t["keypoints"][0], ft["keypoints"][0]
        np.testing.assert_allclose(new[:, 0], 64 - old[list(FLIP_INDICES), 0], atol=1e-5)
        np.testing.assert_array_equal(new[:, 1:], old[list(FLIP_INDICES), 1:])
    assert [JOINTS[j] for j in FLIP_INDICES][:6] == ["l-ankle", "l-knee", "l-hip", "r-hip",
                                                     "r-knee", "r-ankle"]


def test_visibility_flags_out_of_frame_and_under_the_occluder():
    clear = StickFigures("train", n=150, occlude_p=0.0).arrays()["keypoints"]
    covered = StickFigures("train", n=150, occlude_p=1.0).arrays()["keypoints"]
    # The same figures (the occluder is drawn last), so only visibility differs.
    np.testing.assert_array_equal(clear[..., :2], covered[..., :2])
    inside = ((clear[..., :2] >= 0) & (clear[..., :2] < 64)).all(-1)
    np.testing.assert_array_equal(clear[..., 2] == 1, inside)          # v = 1 iff in frame
    assert (~inside).any()                                             # some leave the frame
    assert (covered[..., 2] <= clear[..., 2]).all()                    # an occluder only hides
    hidden = (covered[..., 2] == 0) & inside
    assert 0.03 < hidden.mean() < 0.4, hidden.mean()


def test_the_occluder_covers_the_hidden_joints_and_only_them():
    # The same scenes with and without the occluder differ by sensor noise alone (< 0.2)
    # except under the patch: at a joint it hides the pixel changes, at a visible one not.
    clear = StickFigures("train", n=60, occlude_p=0.0)
    covered = StickFigures("train", n=60, occlude_p=1.0)
    changed = {0: [], 1: []}
    for i in range(len(clear)):
        (a, ta), (b, tb) = clear[i], covered[i]
        for (x, y, v_clear), (_, _, v) in zip(ta["keypoints"][0], tb["keypoints"][0]):
            if v_clear:
                diff = np.abs(a[:, int(y), int(x)] - b[:, int(y), int(x)]).max()
                changed[int(v)].append(diff > 0.2)
    assert np.mean(changed[1]) == 0.0                  # visible joints: never painted over
    assert len(changed[0]) > 30 and np.mean(changed[0]) > 0.8, np.mean(changed[0])


@pytest.mark.parametrize("kwargs, message", [
    (dict(split="dev"), r"StickFigures: split must be one of .* got 'dev'"),
    (dict(n=0), r"StickFigures: n must be an int >= 1, got 0"),
    (dict(image_size=16), r"StickFigures: image_size must be an int >= 32, got 16"),
    (dict(occlude_p=1.5), r"StickFigures: occlude_p must be a probability .* got 1.5"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StickFigures(**kwargs)


def test_index_errors():
    ds = StickFigures("test", n=3)
    with pytest.raises(IndexError, match="StickFigures: index 3 is out of range for 3"):
        ds[3]
    with pytest.raises(TypeError, match="StickFigures: index must be an int"):
        ds[1.0]
