"""Selective search: colour spaces, region features, similarities and grouping worked by hand,
the ranking, the public functions' outputs and errors, the proposals cache, the recall
metric, and the recipe's train/eval round trip (on 3 scenes: quick)."""
import importlib

import numpy as np
import pytest

import tinyvision as tv
from tinyvision import cli
from tinyvision.data import ShapesScenes
from tinyvision.data.transforms.color import rgb_to_hsv
from tinyvision.kernels.felzenszwalb import reference
from tinyvision.models.selective_search import (
    adjacent_pairs, felzenszwalb, hierarchical_grouping, pixel_bins, proposals_for, rank_boxes,
    region_features, selective_search, similarity, to_colour_space)
from tinyvision.metrics import proposal_recall
from tinyvision.recipes import selective_search as recipe


def two_rectangles():
    """(3, 48, 64) grey noisy background with a red and a blue rectangle; their boxes."""
    rng = np.random.default_rng(0)
    image = 0.5 + 0.02 * rng.standard_normal((3, 48, 64))
    image[:, 5:20, 8:30] = np.array([0.9, 0.1, 0.1])[:, None, None]
    image[:, 25:44, 36:60] = np.array([0.1, 0.2, 0.9])[:, None, None]
    return np.clip(image, 0, 1).astype(np.float32), np.array([[8, 5, 30, 20], [36, 25, 60, 44]])


def iou(boxes, box):
    return tv.ops.box_iou(boxes, box[None]).numpy()[:, 0]


# ---- colour spaces ----------------------------------------------------------------------------
def test_colour_spaces_are_in_the_unit_range_with_known_values():
    rgb = np.random.default_rng(1).random((3, 6, 5)).astype(np.float32)
    for name, channels in [("rgb", 3), ("hsv", 3), ("lab", 3), ("rgi", 3), ("h", 1), ("i", 1)]:
        x = to_colour_space(rgb, name)
        assert x.shape == (channels, 6, 5) and x.dtype == np.float32
        assert x.min() >= 0 and x.max() <= 1, name
    np.testing.assert_allclose(to_colour_space(rgb, "hsv"), rgb_to_hsv(rgb))
    np.testing.assert_allclose(to_colour_space(rgb, "rgi")[2], rgb.mean(0), rtol=1e-6)
    # CIE L*a*b* (D65) of sRGB white and red: (100, 0, 0) and (53.24, 80.09, 67.20)
    pixels = np.array([[1.0, 1.0], [1.0, 0.0], [1.0, 0.0]]).reshape(3, 1, 2)
    lab = to_colour_space(pixels, "lab")[:, 0].T * [100, 255, 255] - [0, 128, 128]
    np.testing.assert_allclose(lab, [[100, 0, 0], [53.24, 80.09, 67.20]], atol=0.05)


# ---- region features, adjacency, similarity ---------------------------------------------------
LABELS = np.array([[0, 0, 1, 1],
                   [0, 0, 1, 1],
                   [2, 2, 3, 3]])


def test_region_features_by_hand():
    image = np.zeros((3, 3, 4), np.float32)
    image[:, :, 2:] = 1.0                                   # regions 1 and 3 white, 0 and 2 black
    features = region_features(LABELS, *pixel_bins(image))
    np.testing.assert_array_equal(features["size"], [4, 4, 2, 2])
    np.testing.assert_array_equal(features["box"], [[0, 0, 2, 2], [2, 0, 4, 2], [0, 2, 2, 3],
                                                    [2, 2, 4, 3]])
    colour = features["colour"]
    assert colour.shape == (4, 75) and features["texture"].shape == (4, 240)
    np.testing.assert_allclose(colour.sum(1), 1)
    np.testing.assert_allclose(features["texture"].sum(1), 1)
    # a flat region puts 1/3 of its mass in one bin per channel: bin 0 (black) or 24 (white)
    np.testing.assert_allclose(colour[0, [0, 25, 50]], 1 / 3)
    np.testing.assert_allclose(colour[1, [24, 49, 74]], 1 / 3)


def test_adjacent_pairs_include_diagonal_contact():
    np.testing.assert_array_equal(adjacent_pairs(LABELS), [[0, 1], [0, 2], [0, 3], [1, 2],
                                                           [1, 3], [2, 3]])
    diagonal = np.array([[0, 1], [1, 2]])                   # 0 and 2 touch at a corner only
    np.testing.assert_array_equal(adjacent_pairs(diagonal), [[0, 1], [0, 2], [1, 2]])


def test_similarities_follow_the_paper():
    regions = dict(colour=np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [0.5, 0.5, 0.0]]),
                   texture=np.array([[1.0, 0.0], [0.0, 1.0], [0.25, 0.75]]),
                   size=np.array([10.0, 20.0, 5.0]),
                   box=np.array([[0, 0, 5, 2], [5, 0, 10, 4], [0, 2, 5, 3]], np.float64))
    area = 100.0
    j = np.array([1, 2])
    np.testing.assert_allclose(similarity(regions, 0, j, "C", area), [0.5, 1.0])     # Eq. (1)
    np.testing.assert_allclose(similarity(regions, 0, j, "T", area), [0.0, 0.25])    # Eq. (3)
    np.testing.assert_allclose(similarity(regions, 0, j, "S", area), [0.7, 0.85])    # Eq. (4)
    # Eq. (5): the joint boxes are 10x4 and 5x3
    np.testing.assert_allclose(similarity(regions, 0, j, "F", area),
                               [1 - (40 - 30) / 100, 1 - (15 - 15) / 100])
    np.testing.assert_allclose(similarity(regions, 0, j, "CTSF", area),              # Eq. (6)
                               [0.5 + 0.0 + 0.7 + 0.9, 1.0 + 0.25 + 0.85 + 1.0])


def test_grouping_merges_the_most_similar_pair_first_and_ends_with_the_whole_image():
    image = np.zeros((3, 3, 4), np.float32)
    image[0, :, :2] = 0.8                                   # regions 0 and 2 red: alike
    image[2, :, 2:] = 0.8                                   # regions 1 and 3 blue
    image[:, 2, 2:] = [[0.0], [0.0], [0.5]]                 # region 3 a darker blue
    features = region_features(LABELS, *pixel_bins(image))
    boxes = hierarchical_grouping(features, adjacent_pairs(LABELS), "C", 12)
    assert boxes.shape == (7, 4)                            # 4 regions + 3 merges
    np.testing.assert_array_equal(boxes[:4], features["box"])
    np.testing.assert_array_equal(boxes[4], [0, 0, 2, 3])   # the two reds first
    np.testing.assert_array_equal(boxes[5], [2, 0, 4, 3])   # then the blues
    np.testing.assert_array_equal(boxes[6], [0, 0, 4, 3])   # then the whole image


def test_ranking_keeps_one_copy_of_each_box_and_depends_only_on_the_seed():
    whole = np.array([[0, 0, 9, 9]], np.float64)
    a = np.concatenate([np.arange(12, dtype=np.float64).reshape(3, 4), whole])
    b = np.concatenate([a[[1, 0, 2]] + 1, a[:1], whole])
    ranked = rank_boxes([a, b], np.random.default_rng(0))
    assert len(ranked) == len(np.unique(np.concatenate([a, b]), axis=0)) == 7
    np.testing.assert_array_equal(ranked, rank_boxes([a, b], np.random.default_rng(0)))
    orders = {tuple(map(tuple, rank_boxes([a, b], np.random.default_rng(s)))) for s in range(6)}
    assert len(orders) > 1 and all(set(o) == set(map(tuple, ranked)) for o in orders)
    # position x RND: the whole image (position 1 in both) is far more often first than a
    # leaf (position 5, then 4)
    firsts = [tuple(rank_boxes([a, b], np.random.default_rng(s))[0]) for s in range(200)]
    assert firsts.count((0, 0, 9, 9)) > 100


# ---- the public functions ---------------------------------------------------------------------
def test_selective_search_finds_the_objects():
    image, objects = two_rectangles()
    boxes = selective_search(tv.tensor(image))
    assert isinstance(boxes, tv.Tensor) and boxes.dtype == np.float32
    b = boxes.numpy()
    assert b.ndim == 2 and b.shape[1] == 4 and len(np.unique(b, axis=0)) == len(b)
    assert (b[:, :2] >= 0).all() and (b[:, 2] <= 64).all() and (b[:, 3] <= 48).all()
    assert (b[:, 2:] > b[:, :2]).all()
    for box in objects:
        assert iou(b, box).max() > 0.9
    top = selective_search(image, max_proposals=5).numpy()
    np.testing.assert_array_equal(top, b[:5])
    assert len(selective_search(image, mode="single").numpy()) < len(b)
    one = selective_search(image, colour_spaces=("rgb",), ks=(200,), similarities=("F",))
    assert 0 < len(one.numpy()) < len(b)


@pytest.mark.parametrize("shape", [(3, 16, 16), (3, 1, 7), (3, 1, 1)])
def test_a_flat_image_gives_the_whole_image_alone(shape):
    np.testing.assert_array_equal(selective_search(np.full(shape, 0.4)).numpy(),
                                  [[0, 0, shape[2], shape[1]]])


def test_felzenszwalb_takes_scale_in_intensity_units():
    image, _ = two_rectangles()
    labels = felzenszwalb(image, scale=100, sigma=0.8, min_size=20)
    assert isinstance(labels, tv.Tensor) and labels.dtype == np.int64
    np.testing.assert_array_equal(labels.numpy(), reference.felzenszwalb(image, 100 / 255, 0.8, 20))
    assert labels.numpy()[10, 15] != labels.numpy()[30, 45] != labels.numpy()[0, 0]
    grey = felzenszwalb(image[0], scale=100)                # (H, W) works too
    assert grey.shape == (48, 64)


image_ok = two_rectangles()[0]
search, segment = selective_search, felzenszwalb
ERRORS = [
    (lambda: search(image_ok[:2]), ValueError,
     r"selective_search: image must be \(3, H, W\) RGB, got shape \(2, 48, 64\)"),
    (lambda: search(image_ok * 255), ValueError, r"in \[0, 1\], got min .* max 2"),
    (lambda: search((image_ok * 255).astype(np.uint8)), TypeError, "dtype uint8"),
    (lambda: search(image_ok, mode="slow"), ValueError, "mode must be one of"),
    (lambda: search(image_ok, colour_spaces=("xyz",)), ValueError, "colour space must"),
    (lambda: search(image_ok, similarities=("CQ",)), ValueError, "similarities must"),
    (lambda: search(image_ok, ks=(-1,)), ValueError, "ks must hold"),
    (lambda: search(image_ok, max_proposals=0.5), ValueError, "max_proposals must be an int"),
    (lambda: search(image_ok, seed=-1), ValueError, "seed must be an int >= 0, got -1"),
    (lambda: segment(image_ok, scale=-1), ValueError, "felzenszwalb: scale must be a finite"),
    (lambda: segment(image_ok, min_size=True), ValueError, "felzenszwalb: min_size must be an int"),
    (lambda: segment("image"), TypeError,
     r"felzenszwalb: image must be a \(C, H, W\) array or Tensor, got str"),
    (lambda: segment(np.zeros((2, 3, 4, 5))), ValueError,
     r"felzenszwalb: image must be \(C, H, W\) or \(H, W\)"),
    (lambda: proposal_recall([np.zeros((1, 4))], []), ValueError,
     "one entry per image, got 1 and 0"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_bad_input_gets_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_proposal_recall_counts_the_first_n_proposals():
    gt = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), np.array([[0, 0, 4, 4]]),
          np.zeros((0, 4))]
    proposals = [np.array([[50, 50, 60, 60], [0, 0, 10, 11], [21, 21, 30, 30]]),
                 np.array([[0, 0, 4, 8], [0, 0, 4, 5]]),                 # IoU 0.5 counts
                 np.array([[0, 0, 1, 1]])]
    recall = proposal_recall(proposals, gt, counts=(1, 2, 3), iou_threshold=0.5)
    assert recall == {1: 1 / 3, 2: 2 / 3, 3: 1.0}
    assert proposal_recall([np.zeros((0, 4))], [gt[0]], counts=(5,)) == {5: 0.0}


def test_proposals_for_caches_and_refreshes(tmp_path, monkeypatch):
    data = ShapesScenes("test", n=3, image_size=48)
    cache = str(tmp_path / "proposals.npz")
    first = proposals_for(data, indices=[0, 2], cache=cache, mode="single")
    assert len(first) == 2
    np.testing.assert_array_equal(first[1], selective_search(data[2][0], mode="single").numpy())
    # the module (tinyvision.models.selective_search is the function, exported over it)
    module = importlib.import_module("tinyvision.models.selective_search")
    calls = []
    real = module.selective_search
    monkeypatch.setattr(module, "selective_search",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    again = proposals_for(data, indices=[0, 2], cache=cache, mode="single")
    assert calls == [] and all((a == b).all() for a, b in zip(first, again))
    proposals_for(data, indices=[0, 2], cache=cache, mode="single", max_proposals=3)
    assert len(calls) == 2                                   # other settings: computed again
    proposals_for(data, indices=[0, 2], cache=cache, mode="single", max_proposals=3, refresh=True)
    assert len(calls) == 4


def test_recipe_train_then_eval(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(recipe, "test_split", lambda: ShapesScenes("test", n=3))
    result = recipe.train(out=str(tmp_path), progress=False)
    metrics = result["metrics"]
    assert set(metrics) == {"recall@0.5 (300 proposals)", "mean proposals"}
    assert 0.9 <= metrics["recall@0.5 (300 proposals)"] <= 1 and metrics["mean proposals"] > 10
    assert list(result["recall_curve"]) == [10, 50, 100, 300, 1000]
    assert result["seconds"] > 0 and result["ms_per_image"] > 0
    assert all(p.endswith(".png") and (tmp_path / p).exists() for p in result["pictures"])
    assert recipe.evaluate(result["checkpoint"]) == metrics
    assert tv.load(result["checkpoint"])["meta"]["task"] == "selective_search"
    assert cli.main(["eval", result["checkpoint"]]) == 0
    assert "selective_search (test split): recall@0.5 (300 proposals)" in capsys.readouterr().out
    monkeypatch.setattr(recipe, "test_split", lambda: ShapesScenes("test", n=4))
    with pytest.raises(ValueError, match="does not hold selective search proposals"):
        recipe.evaluate(result["checkpoint"])
