"""Anchors: AnchorGenerator (torchvision's Faster R-CNN anchors), multibox_prior (Dive into Deep
Learning's (x, y, s, r) anchors) and DefaultBoxes (SSD): hand-computed layouts, the published
numbers of torchvision's tests and of the D2L book, counts and orderings, bad input.
"""
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinyvision as tv
from tinyvision.ops import AnchorGenerator, DefaultBoxes, box_convert, multibox_prior


# ---- AnchorGenerator -----------------------------------------------------------------------------
def test_cell_anchors_as_torchvision():
    # ratio = h/w; h = 32·√0.5 = 22.6, w = 45.3 -> half sizes 11.3, 22.6 -> rounded 11, 23.
    g = AnchorGenerator(sizes=((32,),), aspect_ratios=((0.5, 1.0, 2.0),))
    np.testing.assert_array_equal(g.cell_anchors[0], [[-23, -11, 23, 11], [-16, -16, 16, 16],
                                                      [-11, -23, 11, 23]])
    # Ratios outer, sizes inner: (r0, s0), (r0, s1), (r1, s0), ...
    g = AnchorGenerator(sizes=((16, 32),), aspect_ratios=((1.0, 4.0),))
    np.testing.assert_array_equal(g.cell_anchors[0], [[-8, -8, 8, 8], [-16, -16, 16, 16],
                                                      [-4, -16, 4, 16], [-8, -32, 8, 32]])


def test_grid_as_torchvision_test():
    # torchvision's test_anchor_generator: a 15×15 image, a 3×3 map (stride 5), one 10-px box.
    g = AnchorGenerator(sizes=((10,),), aspect_ratios=((1,),))
    (anchors,) = g((15, 15), [(3, 3)])
    want = [[-5, -5, 5, 5], [0, -5, 10, 5], [5, -5, 15, 5], [-5, 0, 5, 10], [0, 0, 10, 10],
            [5, 0, 15, 10], [-5, 5, 5, 15], [0, 5, 10, 15], [5, 5, 15, 15]]
    assert isinstance(anchors, tv.Tensor) and anchors.dtype == np.float32
    np.testing.assert_array_equal(anchors.numpy(), want)


@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 40), st.integers(1, 40))
def test_levels_counts_strides_and_order(h, w, extra_h, extra_w):
    g = AnchorGenerator(sizes=((32, 64), (128,)), aspect_ratios=((0.5, 1, 2), (1, 2)))
    assert g.num_anchors_per_location() == [6, 2]
    image = (8 * h + extra_h, 8 * w + extra_w)
    shapes = [(2 * h, 2 * w), (1, 3, h, w)]             # an (H, W) pair or a feature map's shape
    levels = g(image, shapes)
    for (fh, fw), cell, anchors, A in zip([(2 * h, 2 * w), (h, w)], g.cell_anchors, levels, [6, 2]):
        sy, sx = image[0] // fh, image[1] // fw       # stride: image size // feature size
        a = anchors.numpy().reshape(fh, fw, A, 4)     # cell (row-major), then anchor
        i, j = fh - 1, fw - 1
        np.testing.assert_array_equal(a[i, j], cell + [j * sx, i * sy, j * sx, i * sy])
        np.testing.assert_array_equal(a[0, 0], cell)


def test_flat_sizes_mean_one_size_per_level():
    g = AnchorGenerator(sizes=(32, 64, 128), aspect_ratios=(0.5, 1.0, 2.0))
    assert g.num_anchors_per_location() == [3, 3, 3]
    assert [len(a) for a in g((64, 64), [(8, 8), (4, 4), (2, 2)])] == [192, 48, 12]


# ---- multibox_prior ------------------------------------------------------------------------------
def test_multibox_prior_text_formula_by_hand():
    # Sizes (0.5, 0.25), ratios (1, 4): pairs (0.5, 1), (0.25, 1), (0.5, 4).
    # Cell (0, 0) of a 2×4 map on a 100×200 image: centre (25, 25).
    a = multibox_prior((2, 4), [0.5, 0.25], [1, 4], image_hw=(100, 200)).numpy()
    assert a.shape == (2 * 4 * 3, 4)
    np.testing.assert_allclose(a[:3], [[-25, 0, 75, 50],          # w 200·0.5, h 100·0.5
                                       [0, 12.5, 50, 37.5],       # w 200·0.25, h 100·0.25
                                       [-75, 12.5, 125, 37.5]])   # w 200·0.5·2, h 100·0.5/2
    # Cell (1, 3): centre ((3 + 0.5)/4·200, (1 + 0.5)/2·100) = (175, 75).
    np.testing.assert_allclose(a[-3], [175 - 50, 75 - 25, 175 + 50, 75 + 25])
    normalised = multibox_prior((2, 4), [0.5, 0.25], [1, 4]).numpy()
    np.testing.assert_allclose(normalised * [200, 100, 200, 100], a, rtol=1e-6)


def test_multibox_prior_reproduces_the_book():
    # D2L §14.4.1 prints boxes[250, 250, 0, :] = (0.06, 0.07, 0.63, 0.82) for a 561×728 image,
    # sizes (0.75, 0.5, 0.25), ratios (1, 2, 0.5): its code makes r = 1 anchors square.
    a = multibox_prior((561, 728), [0.75, 0.5, 0.25], [1, 2, 0.5], square=True).numpy()
    assert a.shape == (561 * 728 * 5, 4)
    np.testing.assert_allclose(a.reshape(561, 728, 5, 4)[250, 250, 0], [0.06, 0.07, 0.63, 0.82],
                               atol=0.006)


@given(st.integers(1, 5), st.integers(1, 5), st.lists(st.floats(0.05, 1), min_size=1, max_size=3),
       st.lists(st.floats(0.25, 4), min_size=1, max_size=3))
def test_multibox_prior_shapes_centres_and_sizes(h, w, sizes, ratios):
    img_h, img_w = 60, 90
    a = multibox_prior((h, w), sizes, ratios, image_hw=(img_h, img_w)).numpy()
    A = len(sizes) + len(ratios) - 1
    a = a.reshape(h, w, A, 4)
    cxcywh = box_convert(a.reshape(-1, 4), "xyxy", "cxcywh").numpy().reshape(h, w, A, 4)
    np.testing.assert_allclose(cxcywh[h - 1, w - 1, :, 0], (w - 0.5) / w * img_w, rtol=1e-5)
    np.testing.assert_allclose(cxcywh[h - 1, w - 1, :, 1], (h - 0.5) / h * img_h, rtol=1e-5)
    s = np.array(sizes + [sizes[0]] * (len(ratios) - 1))
    r = np.array([ratios[0]] * len(sizes) + ratios[1:])
    np.testing.assert_allclose(cxcywh[0, 0, :, 2], img_w * s * np.sqrt(r), rtol=1e-5)
    np.testing.assert_allclose(cxcywh[0, 0, :, 3], img_h * s / np.sqrt(r), rtol=1e-5)


# ---- DefaultBoxes --------------------------------------------------------------------------------
SSD300_MAPS = [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]


def test_ssd300_count_and_scales():
    db = DefaultBoxes()
    assert db.num_anchors_per_location() == [4, 6, 6, 6, 4, 4]
    boxes = db(SSD300_MAPS)
    assert boxes.shape == (8732, 4) and boxes.dtype == np.float32
    np.testing.assert_allclose(db.scales, [0.2, 0.34, 0.48, 0.62, 0.76, 0.9, 1.0])
    first = boxes.numpy()[:4]                       # cell (0, 0) of the 38×38 map
    c = 0.5 / 38
    r2 = np.sqrt(2)
    np.testing.assert_allclose(first, [[c, c, 0.2, 0.2],
                                       [c, c, np.sqrt(0.2 * 0.34), np.sqrt(0.2 * 0.34)],
                                       [c, c, 0.2 * r2, 0.2 / r2],
                                       [c, c, 0.2 / r2, 0.2 * r2]], rtol=1e-6)
    last = boxes.numpy()[-4:]                       # the 1×1 map: centred, clipped to 1
    np.testing.assert_allclose(last[:, :2], 0.5)
    np.testing.assert_allclose(last[1, 2:], np.sqrt(0.9))
    np.testing.assert_allclose(last[2], [0.5, 0.5, 1.0, 0.9 / r2], rtol=1e-6)   # 0.9·√2 clipped
    unclipped = DefaultBoxes(clip=False)(SSD300_MAPS).numpy()[-4:]
    np.testing.assert_allclose(unclipped[2, 2], 0.9 * r2, rtol=1e-6)


def test_pixels_as_torchvision_test():
    # torchvision's test_defaultbox_generator: DefaultBoxGenerator([[2]]) (scales 0.15, 0.9) on a
    # 15×15 image with one 1×1 map.
    boxes = DefaultBoxes([[2]], s_min=0.15, s_max=0.9)([(1, 1)], image_size=(15, 15)).numpy()
    want = [[6.3750, 6.3750, 8.6250, 8.6250], [4.7443, 4.7443, 10.2557, 10.2557],
            [5.9090, 6.7045, 9.0910, 8.2955], [6.7045, 5.9090, 8.2955, 9.0910]]
    np.testing.assert_allclose(boxes, want, atol=1e-4)


def test_pixels_steps_and_explicit_scales():
    db = DefaultBoxes(((2,), (2, 3)), scales=[0.1, 0.3, 0.6], steps=[8, 16])
    norm = db([(4, 5), (2, 3)], image_size=(40, 48)).numpy()
    assert norm.shape == (4 * 5 * 4 + 2 * 3 * 6, 4)
    first = box_convert(norm[:4], "xyxy", "cxcywh").numpy()
    np.testing.assert_allclose(first[0], [4, 4, 0.1 * 48, 0.1 * 40], rtol=1e-6)  # (0.5·8, 0.5·8)
    second_level = box_convert(norm[80:], "xyxy", "cxcywh").numpy()
    np.testing.assert_allclose(second_level[6 * 4, :2], [1.5 * 16, 1.5 * 16])  # cell (1, 1)
    with pytest.raises(ValueError, match="needs image_size"):
        db([(4, 5), (2, 3)])


# ---- bad input -----------------------------------------------------------------------------------
ERRORS = {
    "levels mismatch": (lambda: AnchorGenerator(((32,), (64,)), ((1.0,),) * 3), ValueError,
                        ["AnchorGenerator", "one entry per level", "2 and 3"]),
    "negative size": (lambda: AnchorGenerator(((32, -1),)), ValueError,
                      ["AnchorGenerator", r"sizes\[0\]", "positive"]),
    "feature count": (lambda: AnchorGenerator()((64, 64), [(4, 4), (2, 2)]), ValueError,
                      ["AnchorGenerator", "1 levels", "2 feature shapes"]),
    "feature shape": (lambda: AnchorGenerator()((64, 64), [(0, 4)]), ValueError,
                      ["AnchorGenerator", r"feature_shapes\[0\]", "H, W ≥ 1", r"\(0, 4\)"]),
    "image size": (lambda: AnchorGenerator()("big", [(4, 4)]), ValueError,
                   ["AnchorGenerator", "image_size", "'big'"]),
    "prior ratio": (lambda: multibox_prior((2, 2), [0.5], [0]), ValueError,
                    ["multibox_prior", "ratios", "positive"]),
    "prior sizes": (lambda: multibox_prior((2, 2), "a", [1]), TypeError,
                    ["multibox_prior", "sizes", "numbers"]),
    "ssd scales": (lambda: DefaultBoxes(((2,), (2,)), scales=[0.1, 0.2]), ValueError,
                   ["DefaultBoxes", "m \\+ 1 = 3", "got 2"]),
    "ssd s_min": (lambda: DefaultBoxes(s_min=0.9, s_max=0.2), ValueError,
                  ["DefaultBoxes", "s_min ≤ s_max"]),
    "ssd levels": (lambda: DefaultBoxes()([(38, 38)]), ValueError,
                   ["DefaultBoxes", "6 levels", "1 feature shapes"]),
}


@pytest.mark.parametrize("name", ERRORS)
def test_bad_input_is_refused_clearly(name):
    call, kind, patterns = ERRORS[name]
    with pytest.raises(kind) as info:
        call()
    for pattern in patterns:
        assert re.search(pattern, str(info.value)), (pattern, str(info.value))
