"""tinyvision.viz: image layouts, grids, boxes, masks, heat maps, training curves, PNG files
(written atomically, readable by Pillow) and clear errors for bad input.
"""
import os

import numpy as np
import pytest
from PIL import Image

import tinyvision as tv
from tinyvision import viz
from tinyvision.viz import PALETTE, apply_colormap


def scene(h=64, w=80):
    """A CHW float image in [0, 1]: a smooth gradient, so any drawn pixel stands out."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx / w * 0.5, yy / h * 0.5, np.full((h, w), 0.25)]).astype(np.float32)


def read_png(path):
    with Image.open(path) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))


# ---- layouts ---------------------------------------------------------------------------------
def test_both_layouts_become_hwc_uint8():
    chw = scene()
    out = viz.to_rgb_uint8(chw)
    assert out.shape == (64, 80, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, (chw.transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8))
    np.testing.assert_array_equal(viz.to_rgb_uint8(out), out)            # HWC uint8 as is
    np.testing.assert_array_equal(viz.to_rgb_uint8(tv.tensor(chw)), out)  # a Tensor
    rgba = np.concatenate([out, np.full((64, 80, 1), 7, np.uint8)], axis=2)
    np.testing.assert_array_equal(viz.to_rgb_uint8(rgba), out)           # alpha dropped
    grey = viz.to_rgb_uint8(np.full((1, 4, 5), 0.5))
    assert grey.shape == (4, 5, 3) and (grey == 128).all()
    assert (viz.to_rgb_uint8(np.zeros((4, 5), np.uint8)) == 0).all()


@pytest.mark.parametrize("image, message", [
    (np.zeros((8, 8, 3), np.float32), r"float image must be .* \(C, H, W\).*got shape \(8, 8, 3\)"),
    (np.full((3, 8, 8), 2.0), r"values in \[0, 1\], got \[2, 2\].*normalisation"),
    (np.full((3, 8, 8), np.nan), "NaN or inf"),
    (np.zeros((3, 8, 8), np.int64), "dtype int64"),
    (np.zeros((8, 8, 2), np.uint8), r"uint8 image must be .*got shape \(8, 8, 2\)"),
    (np.zeros((3, 0, 8)), "empty"),
])
def test_bad_images_are_rejected_naming_the_function(image, message):
    with pytest.raises(ValueError, match="draw_boxes: .*" + message):
        viz.draw_boxes(image, np.zeros((0, 4)))


# ---- grids and files -------------------------------------------------------------------------
def test_make_grid_places_images_in_rows():
    images = np.random.default_rng(0).random((5, 3, 8, 6))
    grid = viz.make_grid(images, nrow=3, padding=2)
    assert grid.shape == (2 * (8 + 2) + 2, 3 * (6 + 2) + 2, 3) and grid.dtype == np.uint8
    np.testing.assert_array_equal(grid[2:10, 2:8], viz.to_rgb_uint8(images[0]))
    np.testing.assert_array_equal(grid[12:20, 10:16], viz.to_rgb_uint8(images[4]))
    assert (grid[:2] == 255).all()                                      # padding
    labelled = viz.make_grid(images, nrow=3, labels=list("abcde"), scale=2)
    assert labelled.shape[0] > 2 * (16 + 2) + 2 and labelled.shape[1] == 3 * (12 + 2) + 2
    with pytest.raises(ValueError, match="labels must have one entry per image"):
        viz.make_grid(images, labels=["a"])
    with pytest.raises(ValueError, match="nrow must be a positive int"):
        viz.make_grid(images, nrow=0)


def test_save_image_grid_writes_a_png_pillow_reads(tmp_path):
    digits = np.random.default_rng(1).random((10, 1, 8, 8)).astype(np.float32)
    path = tmp_path / "digits.png"
    grid = viz.save_image_grid(digits, path, nrow=5, labels=[str(i) for i in range(10)], scale=3)
    np.testing.assert_array_equal(read_png(path), grid)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~_umask()          # not a private 0600 file


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_save_png_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "picture.png"
    viz.save_png(scene(), path)
    old = path.read_bytes()

    def save_that_fails(self, fp, format=None, **kwargs):
        fp.write(b"\x89PNG half a picture")
        raise OSError("No space left on device")

    monkeypatch.setattr(Image.Image, "save", save_that_fails)
    with pytest.raises(OSError, match="No space left"):
        viz.save_png(np.zeros((3, 4, 4)), path)
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["picture.png"]     # no temporary file
    with pytest.raises(FileNotFoundError, match="save_png: the folder .* does not exist"):
        viz.save_png(scene(), tmp_path / "nope" / "x.png")


# ---- boxes -----------------------------------------------------------------------------------
def test_box_edges_have_the_box_colour_and_the_inside_is_untouched():
    image = scene()
    before = image.copy()
    out = viz.draw_boxes(image, [[10, 20, 40, 50]], colors="red", width=1)
    base = viz.to_rgb_uint8(image)
    assert out.shape == base.shape and out.dtype == np.uint8
    for y, x in [(20, 25), (50, 25), (35, 10), (35, 40), (20, 10), (50, 40)]:  # edges, corners
        assert tuple(out[y, x]) == (255, 0, 0), (y, x)
    np.testing.assert_array_equal(out[22:49, 12:39], base[22:49, 12:39])
    np.testing.assert_array_equal(out[:, 45:], base[:, 45:])
    np.testing.assert_array_equal(image, before)                        # input left alone


def test_each_class_gets_its_palette_colour_and_a_caption_tab():
    boxes = np.array([[5, 20, 30, 40], [40, 25, 70, 60]], np.float32)
    out = viz.draw_boxes(scene(), boxes, labels=[1, 2], scores=[0.9, 0.4],
                         class_names=["background", "circle", "square"])
    assert tuple(out[30, 5]) == PALETTE[1] and tuple(out[45, 40]) == PALETTE[2]  # left edges
    # the caption's tab is filled with the box colour just above the box
    tab = out[8:20, 5:30].reshape(-1, 3)
    assert (tab == PALETTE[1]).all(axis=1).mean() > 0.3
    same = viz.draw_boxes(scene(), boxes, labels=[3, 3], colors=[(0, 0, 255)] * 4)
    assert tuple(same[30, 5]) == tuple(same[45, 40]) == (0, 0, 255)
    np.testing.assert_array_equal(viz.draw_boxes(scene(), np.zeros((0, 4))),
                                  viz.to_rgb_uint8(scene()))


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(boxes=np.zeros((3, 5))), ValueError, r"boxes must be \(K, 4\).*got shape \(3, 5\)"),
    (dict(boxes=np.zeros(4)), ValueError, r"boxes must be \(K, 4\)"),
    (dict(boxes=[[10, 10, 5, 20]]), ValueError, r"box 0 .* x2 < x1 .*not \(x, y, w, h\)"),
    (dict(boxes=[[0, 0, np.nan, 5]]), ValueError, "NaN or inf"),
    (dict(boxes=[[0, 0, 5, 5]], labels=[1, 2]), ValueError, r"labels must have one entry .*\(1\)"),
    (dict(boxes=[[0, 0, 5, 5]], scores=[[0.5]]), ValueError, "scores must have one entry"),
    (dict(boxes=[[0, 0, 5, 5]], labels=[4], class_names=["bg", "a"]), ValueError,
     "label 4 has no entry in class_names"),
    (dict(boxes=[[0, 0, 5, 5]], colors="no-such-colour"), ValueError, "unknown colour"),
])
def test_bad_boxes_get_clear_errors(kwargs, error, message):
    with pytest.raises(error, match="draw_boxes: .*" + message):
        viz.draw_boxes(scene(), **kwargs)


# ---- masks -----------------------------------------------------------------------------------
def test_masks_tint_their_pixels_and_leave_the_rest():
    masks = np.zeros((2, 64, 80), bool)
    masks[0, 10:30, 10:30] = True
    masks[1, 40:60, 50:70] = True
    base = viz.to_rgb_uint8(scene())
    solid = viz.draw_masks(scene(), masks, labels=[1, 2], alpha=1.0)
    assert (solid[15:25, 15:25] == PALETTE[1]).all() and (solid[45:55, 55:65] == PALETTE[2]).all()
    np.testing.assert_array_equal(solid[:, 32:48], base[:, 32:48])
    half = viz.draw_masks(scene(), masks, alpha=0.5)
    expected = (base[20, 20] * 0.5 + np.array(PALETTE[0]) * 0.5 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(half[20, 20], expected)            # blended inside
    assert tuple(half[10, 20]) == PALETTE[0]                          # outlined at the edge


def test_a_label_map_colours_each_class():
    label_map = np.zeros((64, 80), np.int64)
    label_map[5:15, 5:15] = 3
    label_map[30:40, 30:40] = 7
    out = viz.draw_masks(scene(), label_map, alpha=1.0)
    assert (out[8:12, 8:12] == PALETTE[3]).all() and (out[33:37, 33:37] == PALETTE[7]).all()
    np.testing.assert_array_equal(out[50:, :], viz.to_rgb_uint8(scene())[50:, :])


@pytest.mark.parametrize("masks, message", [
    (np.zeros((1, 32, 32), bool), r"masks must be \(K, H, W\) with \(H, W\) = \(64, 80\)"),
    (np.full((1, 64, 80), 3.0), r"mask values must be in \[0, 1\]"),
    (np.zeros((64, 80), np.float32), "a 2-D mask is a label map and must hold integers"),
])
def test_bad_masks_get_clear_errors(masks, message):
    with pytest.raises(ValueError, match="draw_masks: .*" + message):
        viz.draw_masks(scene(), masks)


# ---- heat maps -------------------------------------------------------------------------------
def test_overlay_heatmap_puts_the_hot_spot_where_the_map_peaks():
    cam = np.zeros((7, 7))
    cam[0, 0] = 5.0                                   # arbitrary units: normalised to [0, 1]
    out = viz.overlay_heatmap(scene(), cam, alpha=1.0)
    assert out.shape == (64, 80, 3) and out.dtype == np.uint8
    assert tuple(out[0, 0]) == tuple(apply_colormap(1.0)) == (128, 0, 0)   # jet: dark red
    assert tuple(out[63, 79]) == tuple(apply_colormap(0.0)) == (0, 0, 128)  # jet: dark blue
    half = viz.overlay_heatmap(scene(), cam, alpha=0.5)
    base = viz.to_rgb_uint8(scene()).astype(float)
    np.testing.assert_allclose(half, (base + apply_colormap(viz.resize_bilinear(
        cam / 5, 64, 80))) / 2, atol=1)
    with pytest.raises(ValueError, match=r"overlay_heatmap: heatmap must be a non-empty \(h, w\)"):
        viz.overlay_heatmap(scene(), np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"with normalize=False the heatmap must be in \[0, 1\]"):
        viz.overlay_heatmap(scene(), cam, normalize=False)
    with pytest.raises(ValueError, match="colormap must be 'jet', 'viridis' or 'gray'"):
        viz.overlay_heatmap(scene(), cam, colormap="rainbow")


def test_resize_bilinear_matches_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle for bilinear resizing")
    a = np.random.default_rng(0).random((7, 5))
    for size in [(64, 80), (3, 2), (7, 5), (8, 13)]:
        ref = torch.nn.functional.interpolate(torch.tensor(a)[None, None], size=size,
                                              mode="bilinear", align_corners=False)
        np.testing.assert_allclose(viz.resize_bilinear(a, *size), ref[0, 0].numpy(), atol=1e-12)


# ---- training curves -------------------------------------------------------------------------
def test_plot_history_draws_train_and_val_lines(tmp_path):
    history = {"epoch": [1, 2, 3, 4], "train_loss": [1.0, 0.6, 0.4, 0.3],
               "val_loss": [1.1, 0.7, None, 0.5], "train_accuracy": [0.5, 0.7, 0.8, 0.9],
               "val_accuracy": [0.4, 0.6, 0.7, 0.75], "lr": [0.1, 0.1, 0.01, 0.01]}
    path = tmp_path / "curves.png"
    picture = viz.plot_history(history, path, title="run 1")
    assert picture.dtype == np.uint8 and picture.shape[2] == 3
    assert picture.shape[1] == 3 * 420                    # three panels: loss, accuracy, lr
    np.testing.assert_array_equal(read_png(path), picture)
    colours = {tuple(c) for c in picture.reshape(-1, 3)}
    assert {(31, 119, 180), (255, 127, 14), (44, 160, 44)} <= colours   # train, val, lr lines


@pytest.mark.parametrize("history, message", [
    ({}, "non-empty dict"),
    ({"train_loss": [1.0, 0.5], "val_loss": [1.0]}, "one value per epoch"),
    ({"train_loss": ["a"]}, r"history\['train_loss'\] must be a list of numbers"),
    ({"train_loss": []}, "no epochs yet"),
    ({"epoch": [1, 2]}, "nothing to draw"),
])
def test_plot_history_rejects_bad_histories(history, message):
    with pytest.raises(ValueError, match="plot_history: .*" + message):
        viz.plot_history(history)


# ---- truth beside prediction -----------------------------------------------------------------
def test_compare_grid_shows_truth_and_prediction_side_by_side(tmp_path):
    images = np.stack([scene(), scene()[:, ::-1]])
    truth = {"boxes": np.array([[10, 10, 30, 30]]), "labels": np.array([1])}
    pred = {"boxes": np.array([[12, 11, 31, 29]]), "labels": np.array([1]),
            "scores": np.array([0.2])}                    # below the threshold: not drawn
    label_map = np.zeros((64, 80), np.int64)
    label_map[20:40, 20:40] = 2
    path = tmp_path / "compare.png"
    grid = viz.compare_grid(images, [truth, label_map], [pred, label_map], path=path,
                            class_names=["bg", "circle", "square"], pairs_per_row=2)
    assert grid.shape[1] == 4 * (80 + 2) + 2
    np.testing.assert_array_equal(read_png(path), grid)
    left, right = grid[2:66, 2:82], grid[2:66, 84:164]
    np.testing.assert_array_equal(left, viz.draw_boxes(scene(), truth["boxes"], [1],
                                                       class_names=["bg", "circle", "square"]))
    np.testing.assert_array_equal(right, viz.to_rgb_uint8(scene()))   # nothing above 0.5
    with pytest.raises(ValueError, match="compare_grid: images, truths and predictions must"):
        viz.compare_grid(images, [truth], [pred, pred])
