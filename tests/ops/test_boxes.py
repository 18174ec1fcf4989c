"""Box ops (box_area, box_iou, generalized_box_iou, box_convert, clip_boxes_to_image,
remove_small_boxes): hand-computed cases, a naive loop oracle, hypothesis properties, float64
gradchecks of the Tensor path, a PyTorch re-derivation of values and gradients, bad input.
"""
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinyvision as tv
from tinyvision.ops import (box_area, box_convert, box_iou, clip_boxes_to_image,
                            generalized_box_iou, remove_small_boxes)

FORMATS = ["xyxy", "xywh", "cxcywh"]


# ---- draws -------------------------------------------------------------------------------------
def random_boxes(rng, n, scale=20.0, min_size=0.0, dtype=np.float64):
    """(n, 4) xyxy boxes with corners in [0, scale] and sides ≥ min_size."""
    xy = rng.uniform(0, scale, (n, 2))
    wh = rng.uniform(min_size, scale / 2, (n, 2))
    return np.concatenate([xy, xy + wh], 1).astype(dtype)


@st.composite
def box_sets(draw, max_n=6, min_size=0.0, rounded=True):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(0, max_n))
    b = random_boxes(rng, n, min_size=min_size)
    if rounded and n and draw(st.booleans()):
        b = np.round(b)  # shared edges, identical boxes, touching boxes
    if n > 1 and draw(st.booleans()):
        b[-1] = b[0]     # a duplicate
    return b


# ---- the formulas written out: a loop per pair -------------------------------------------------
def naive_iou_giou(a, b):
    iou, giou = np.zeros((len(a), len(b))), np.zeros((len(a), len(b)))
    for i, (ax1, ay1, ax2, ay2) in enumerate(a):
        for j, (bx1, by1, bx2, by2) in enumerate(b):
            inter = (max(0.0, min(ax2, bx2) - max(ax1, bx1))
                     * max(0.0, min(ay2, by2) - max(ay1, by1)))
            union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
            hull = (max(ax2, bx2) - min(ax1, bx1)) * (max(ay2, by2) - min(ay1, by1))
            iou[i, j] = inter / union if union > 0 else 0.0
            giou[i, j] = iou[i, j] - ((hull - union) / hull if hull > 0 else 0.0)
    return iou, giou


# ---- hand-computed cases -------------------------------------------------------------------------
def test_hand_computed_values():
    a = np.array([[0, 0, 2, 2], [0, 0, 1, 1]], np.float32)
    b = np.array([[1, 1, 3, 3], [2, 0, 3, 1], [0, 0, 2, 2]], np.float32)
    np.testing.assert_allclose(box_area(a).numpy(), [4, 1])
    # [0,0,2,2] ∩ [1,1,3,3] = 1, union 4 + 4 − 1 = 7; [0,0,1,1] ⊂ [0,0,2,2]: 1/4.
    np.testing.assert_allclose(box_iou(a, b).numpy(), [[1 / 7, 0, 1], [0, 0, 1 / 4]], rtol=1e-6)
    # Disjoint [0,0,1,1] and [2,0,3,1]: hull 3×1 = 3, union 2: GIoU = 0 − (3 − 2)/3.
    # [0,0,2,2] and [1,1,3,3]: hull 9: GIoU = 1/7 − (9 − 7)/9.
    giou = generalized_box_iou(a, b).numpy()
    np.testing.assert_allclose(giou[1, 1], -1 / 3, rtol=1e-6)
    np.testing.assert_allclose(giou[0, 0], 1 / 7 - 2 / 9, rtol=1e-6)
    np.testing.assert_allclose(giou[0, 2], 1, rtol=1e-6)


def test_box_convert_hand_computed():
    xyxy = np.array([[1, 2, 5, 8]], np.float32)
    np.testing.assert_array_equal(box_convert(xyxy, "xyxy", "xywh").numpy(), [[1, 2, 4, 6]])
    np.testing.assert_array_equal(box_convert(xyxy, "xyxy", "cxcywh").numpy(), [[3, 5, 4, 6]])
    np.testing.assert_array_equal(box_convert([[3, 5, 4, 6]], "cxcywh", "xywh").numpy(),
                                  [[1, 2, 4, 6]])
    # Leading dims pass through: (2, 3, 4).
    assert box_convert(np.zeros((2, 3, 4)), "xywh", "cxcywh").shape == (2, 3, 4)


def test_clip_and_remove_small_hand_computed():
    b = np.array([[-5, 2, 30, 8], [3, -1, 4, 50], [1, 1, 1.5, 9]], np.float32)
    np.testing.assert_array_equal(clip_boxes_to_image(b, (10, 20)).numpy(),
                                  [[0, 2, 20, 8], [3, 0, 4, 10], [1, 1, 1.5, 9]])
    # widths 35, 1, 0.5; heights 6, 51, 8
    assert remove_small_boxes(b, 1.0).numpy().tolist() == [0, 1]
    assert remove_small_boxes(b, 0.5).numpy().tolist() == [0, 1, 2]
    assert remove_small_boxes(b, 6).numpy().tolist() == [0]
    assert remove_small_boxes(b, 1.0).dtype == np.int64


def test_zero_area_boxes_have_iou_zero_not_nan():
    point = np.array([[3, 3, 3, 3]], np.float64)
    assert box_iou(point, point).item() == 0.0
    assert generalized_box_iou(point, point).item() == 0.0
    line = np.array([[0, 0, 4, 0]], np.float64)
    assert box_iou(line, np.array([[0, 0, 2, 2]])).item() == 0.0


def test_empty_sets():
    assert box_iou(np.zeros((0, 4)), np.ones((3, 4))).shape == (0, 3)
    assert generalized_box_iou(np.ones((2, 4)), np.zeros((0, 4))).shape == (2, 0)
    assert box_convert(np.zeros((0, 4)), "xyxy", "cxcywh").shape == (0, 4)
    assert remove_small_boxes(np.zeros((0, 4)), 1).shape == (0,)


def test_types_and_dtypes():
    b32 = np.array([[0, 0, 2, 2]], np.float32)
    for fn in (lambda x: box_iou(x, x), lambda x: generalized_box_iou(x, x), box_area,
               lambda x: box_convert(x, "xyxy", "xywh"), lambda x: clip_boxes_to_image(x, (1, 1))):
        for x in (b32, tv.tensor(b32), b32.astype(np.float64), [[0, 0, 2, 2]], b32.astype(int)):
            out = fn(x)
            assert isinstance(out, tv.Tensor)
            want = np.float64 if np.asarray(x).dtype == np.float64 else np.float32
            assert out.dtype == want, (x, out.dtype)


# ---- properties ----------------------------------------------------------------------------------
@given(box_sets(), box_sets())
def test_iou_matches_naive_loops_and_properties(a, b):
    iou, giou = box_iou(a, b).numpy(), generalized_box_iou(a, b).numpy()
    want_iou, want_giou = naive_iou_giou(a, b)
    np.testing.assert_allclose(iou, want_iou, atol=1e-12)
    np.testing.assert_allclose(giou, want_giou, atol=1e-12)
    np.testing.assert_allclose(box_iou(b, a).numpy(), iou.T, atol=1e-12)        # symmetric
    np.testing.assert_allclose(generalized_box_iou(b, a).numpy(), giou.T, atol=1e-12)
    assert ((iou >= 0) & (iou <= 1 + 1e-12)).all()
    assert ((giou >= -1 - 1e-12) & (giou <= iou + 1e-12)).all()


@given(box_sets(min_size=0.1, rounded=False))
def test_iou_of_a_box_with_itself_is_one(a):
    np.testing.assert_allclose(np.diag(box_iou(a, a).numpy()), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.diag(generalized_box_iou(a, a).numpy()), 1.0, rtol=1e-12)


@given(box_sets(), st.sampled_from(FORMATS), st.sampled_from(FORMATS))
def test_box_convert_round_trips(xyxy, fmt1, fmt2):
    boxes = box_convert(xyxy, "xyxy", fmt1).numpy()
    there = box_convert(boxes, fmt1, fmt2)
    back = box_convert(there, fmt2, fmt1).numpy()
    np.testing.assert_allclose(back, boxes, atol=1e-12)
    # Every format gives the same corners.
    np.testing.assert_allclose(box_convert(there, fmt2, "xyxy").numpy(), xyxy, atol=1e-12)
    # Areas agree whichever way round.
    np.testing.assert_allclose(box_area(box_convert(there, fmt2, "xyxy")).numpy(),
                               box_area(xyxy).numpy(), atol=1e-10)


@given(box_sets(), st.floats(1, 30), st.floats(1, 30))
def test_clip_lies_inside_the_image(xyxy, H, W):
    shifted = xyxy - 5  # some corners left of and above the image, some beyond it
    clipped = clip_boxes_to_image(shifted, (H, W)).numpy()
    assert (clipped[:, 0::2] >= 0).all() and (clipped[:, 0::2] <= W).all()
    assert (clipped[:, 1::2] >= 0).all() and (clipped[:, 1::2] <= H).all()
    inside = (shifted[:, 0::2] >= 0) & (shifted[:, 0::2] <= W)
    np.testing.assert_array_equal(clipped[:, 0::2][inside], shifted[:, 0::2][inside])
    np.testing.assert_array_equal(clip_boxes_to_image(clipped, (H, W)).numpy(), clipped)


# ---- gradients -----------------------------------------------------------------------------------
def _leaf(b):
    return tv.tensor(b, requires_grad=True, dtype=np.float64)


@pytest.mark.parametrize("seed", range(3))
def test_gradcheck_iou_giou_area(seed):
    rng = np.random.default_rng(seed)
    a, b = random_boxes(rng, 4, scale=6, min_size=1), random_boxes(rng, 3, scale=6, min_size=1)
    assert tv.gradcheck(lambda x, y: box_iou(x, y), [_leaf(a), _leaf(b)])
    assert tv.gradcheck(lambda x, y: generalized_box_iou(x, y), [_leaf(a), _leaf(b)])
    assert tv.gradcheck(lambda x: generalized_box_iou(x, b), [_leaf(a)])  # one side constant
    assert tv.gradcheck(box_area, [_leaf(a)])


@pytest.mark.parametrize("in_fmt", FORMATS)
@pytest.mark.parametrize("out_fmt", FORMATS)
def test_gradcheck_convert_and_clip(in_fmt, out_fmt):
    b = box_convert(random_boxes(np.random.default_rng(1), 5, min_size=1), "xyxy", in_fmt).numpy()
    assert tv.gradcheck(lambda x: box_convert(x, in_fmt, out_fmt), [_leaf(b)])
    assert tv.gradcheck(lambda x: clip_boxes_to_image(x, (12.5, 14.5)),
                        [_leaf(random_boxes(np.random.default_rng(2), 5) - 3)])


def test_tensor_path_equals_array_path_and_no_grad_takes_the_array_path():
    rng = np.random.default_rng(3)
    a, b = random_boxes(rng, 5), random_boxes(rng, 4)
    ta = _leaf(a)
    out = generalized_box_iou(ta, b)
    assert out.requires_grad
    np.testing.assert_allclose(out.numpy(), generalized_box_iou(a, b).numpy(), atol=1e-12)
    with tv.no_grad():
        assert not generalized_box_iou(ta, b).requires_grad
    # 1 − GIoU as a loss: one step of gradient descent on the box raises the overlap.
    target = np.array([[2.0, 2.0, 8.0, 8.0]])
    box = _leaf([[0.0, 0.0, 3.0, 3.0]])
    (1 - generalized_box_iou(box, target)).sum().backward()
    moved = box.numpy() - 2.0 * box.grad
    before = generalized_box_iou(box.numpy(), target).item()
    assert generalized_box_iou(moved, target).item() > before


def test_torch_rederivation_values_and_gradients():
    torch = pytest.importorskip("torch", reason="PyTorch (CPU) is the gradient oracle")

    def torch_giou(a, b):  # the paper's formula in torch ops, independent of tinyvision
        area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])
        lt, rb = torch.max(a[:, None, :2], b[:, :2]), torch.min(a[:, None, 2:], b[:, 2:])
        wh = (rb - lt).clamp(min=0)
        inter = wh[..., 0] * wh[..., 1]
        union = area(a)[:, None] + area(b) - inter
        hull = (torch.max(a[:, None, 2:], b[:, 2:]) - torch.min(a[:, None, :2], b[:, :2])).prod(-1)
        return inter / union, inter / union - (hull - union) / hull

    rng = np.random.default_rng(4)
    a, b = random_boxes(rng, 6, min_size=1), random_boxes(rng, 5, min_size=1)
    v = rng.standard_normal((6, 5))
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    t_iou, t_giou = torch_giou(ta, tb)
    ((t_iou + t_giou) * torch.tensor(v)).sum().backward()
    xa, xb = _leaf(a), _leaf(b)
    iou, giou = box_iou(xa, xb), generalized_box_iou(xa, xb)
    ((iou + giou) * v).sum().backward()
    np.testing.assert_allclose(iou.numpy(), t_iou.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(giou.numpy(), t_giou.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(xa.grad, ta.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(xb.grad, tb.grad.numpy(), atol=1e-10)


# ---- bad input -----------------------------------------------------------------------------------
good = np.array([[0, 0, 1, 1]], np.float32)
ERRORS = {
    "iou (N, 3)": (lambda: box_iou(np.zeros((2, 3)), good), ValueError,
                   ["box_iou", "boxes1", r"\(N, 4\)", r"\(2, 3\)"]),
    "iou 1-D": (lambda: box_iou(good, np.zeros(4)), ValueError, ["box_iou", "boxes2", r"\(4,\)"]),
    "iou NaN": (lambda: box_iou(good, [[0, 0, np.nan, 1]]), ValueError,
                ["box_iou", "boxes2", "NaN"]),
    "iou x2 < x1": (lambda: box_iou([[5, 0, 1, 1]], good), ValueError,
                    ["box_iou", "boxes1", "x2 < x1", r"\(x, y, w, h\)"]),
    "giou y2 < y1": (lambda: generalized_box_iou(good, [[0, 5, 1, 1]]), ValueError,
                     ["generalized_box_iou", "boxes2", "y2 < y1"]),
    "area inverted": (lambda: box_area([[0, 0, -1, 1]]), ValueError, ["box_area", "x2 < x1"]),
    "area strings": (lambda: box_area(np.array([["a", "b", "c", "d"]])), TypeError,
                     ["box_area", "numbers"]),
    "convert fmt": (lambda: box_convert(good, "xyxy", "yxyx"), ValueError,
                    ["box_convert", "out_fmt", "xywh", "'yxyx'"]),
    "convert in_fmt": (lambda: box_convert(good, "ltrb", "xyxy"), ValueError,
                       ["box_convert", "in_fmt", "'ltrb'"]),
    "convert shape": (lambda: box_convert(np.zeros((3, 5)), "xyxy", "xywh"), ValueError,
                      ["box_convert", r"\(\.\.\., 4\)", r"\(3, 5\)"]),
    "convert inf": (lambda: box_convert([[0, 0, np.inf, 1]], "xywh", "xyxy"), ValueError,
                    ["box_convert", "NaN or inf"]),
    "clip size": (lambda: clip_boxes_to_image(good, 10), TypeError,
                  ["clip_boxes_to_image", r"\(H, W\)", "10"]),
    "clip negative size": (lambda: clip_boxes_to_image(good, (-1, 4)), ValueError,
                           ["clip_boxes_to_image", "non-negative"]),
    "small min_size": (lambda: remove_small_boxes(good, "1"), TypeError,
                       ["remove_small_boxes", "min_size", "'1'"]),
    "small shape": (lambda: remove_small_boxes(np.zeros((2, 2)), 1), ValueError,
                    ["remove_small_boxes", r"\(2, 2\)"]),
}


@pytest.mark.parametrize("name", ERRORS)
def test_bad_input_is_refused_clearly(name):
    call, kind, patterns = ERRORS[name]
    with pytest.raises(kind) as info:
        call()
    for pattern in patterns:
        assert re.search(pattern, str(info.value)), (pattern, str(info.value))
