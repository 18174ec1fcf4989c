"""tinyvision.ops.nms and batched_nms: the properties that define greedy NMS (hypothesis),
batched_nms as per-category nms, every kernel implementation through the public op,
OpenCV's NMSBoxes as an outside oracle, Tensors in and out, and bad input.
"""
import re

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import tinyvision as tv
from tinyvision import kernels
from tinyvision.kernels.nms import reference
from tinyvision.ops import batched_nms, nms

IMPLEMENTATIONS = ["reference", "cython", "numba"]


@st.composite
def detections(draw, max_boxes=50):
    """(boxes xyxy, scores, idxs): clustered, or on a coarse grid where exact ties are common."""
    N = draw(st.integers(0, max_boxes))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        boxes, scores = reference.clustered_boxes(N, rng, dtype, image_size=300.0)
    else:  # integer corners: duplicates, equal IoUs, empty and touching boxes, equal scores
        corners = rng.integers(0, 6, (N, 2, 2))
        boxes = np.concatenate([corners.min(axis=1), corners.max(axis=1)], 1).astype(dtype)
        scores = rng.integers(0, 4, N).astype(dtype)
    return boxes, scores, rng.integers(0, draw(st.integers(1, 4)), N)


thresholds = st.sampled_from([0.0, 0.3, 0.5, 0.7]) | st.floats(0, 1)


def pairwise_iou(b):
    """(N, N) IoU in the boxes' dtype, by torchvision's formula (the one nms compares)."""
    x1, y1, x2, y2 = b.T
    area = (x2 - x1) * (y2 - y1)
    w = np.maximum(0, np.minimum(x2[:, None], x2) - np.maximum(x1[:, None], x1))
    h = np.maximum(0, np.minimum(y2[:, None], y2) - np.maximum(y1[:, None], y1))
    inter = w * h
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / (area[:, None] + area - inter)


def rank_of(scores):
    """Each box's place in the visiting order: by decreasing score, ties by lower index."""
    rank = np.empty(len(scores), np.int64)
    rank[np.argsort(-scores, kind="stable")] = np.arange(len(scores))
    return rank


@given(case=detections(), iou_threshold=thresholds)
def test_nms_keeps_exactly_what_greedy_suppression_defines(case, iou_threshold):
    boxes, scores, _ = case
    keep = nms(boxes, scores, iou_threshold)
    assert isinstance(keep, tv.Tensor) and keep.dtype == np.int64
    keep = keep.numpy()
    rank = rank_of(scores)
    # a subset, visited in order: strictly increasing rank (decreasing score)
    assert np.all(np.diff(rank[keep]) > 0) and np.all((0 <= keep) & (keep < len(boxes)))
    suppresses = pairwise_iou(boxes).astype(np.float64) > iou_threshold
    earlier = rank[:, None] < rank[None, :]  # [k, d]: k is visited before d
    # no kept box suppresses a kept box
    assert not np.any(suppresses[np.ix_(keep, keep)] & earlier[np.ix_(keep, keep)])
    # every dropped box is suppressed by a kept box visited before it
    dropped = np.setdiff1d(np.arange(len(boxes)), keep)
    assert np.all(np.any(suppresses[np.ix_(keep, dropped)] & earlier[np.ix_(keep, dropped)],
                         axis=0))


@given(case=detections(), iou_threshold=thresholds)
def test_batched_nms_is_nms_per_category_merged_by_score(case, iou_threshold):
    boxes, scores, idxs = case
    expected = []
    for category in np.unique(idxs):
        members = np.flatnonzero(idxs == category)
        expected += members[nms(boxes[members], scores[members], iou_threshold).numpy()].tolist()
    expected = np.array(sorted(expected, key=lambda i: (-scores[i], i)), np.int64)
    np.testing.assert_array_equal(batched_nms(boxes, scores, idxs, iou_threshold).numpy(),
                                  expected)


@given(case=detections(), iou_threshold=thresholds)
def test_every_implementation_agrees_with_the_reference(case, iou_threshold):
    boxes, scores, idxs = case
    with kernels.use("reference"):
        expected = nms(boxes, scores, iou_threshold).numpy()
        expected_batched = batched_nms(boxes, scores, idxs, iou_threshold).numpy()
    for name in IMPLEMENTATIONS[1:]:
        with kernels.use(name):
            np.testing.assert_array_equal(nms(boxes, scores, iou_threshold).numpy(), expected)
            np.testing.assert_array_equal(
                batched_nms(boxes, scores, idxs, iou_threshold).numpy(), expected_batched)
            assert kernels.last_used("nms") == name


def test_the_docstring_example():
    # A' covers 60 of A's 100 px^2 and nothing else: IoU(A, A') = 60 / 100 = 0.6
    boxes = [[0, 0, 10, 10], [0, 0, 10, 6], [50, 50, 60, 60]]
    assert nms(boxes, [0.9, 0.8, 0.7], 0.5).numpy().tolist() == [0, 2]
    # 0.6 > 0.6 is false in float64; as float32 (integer boxes) the IoU is 0.60000002 > 0.6
    assert nms(np.array(boxes, np.float64), [0.9, 0.8, 0.7], 0.6).numpy().tolist() == [0, 1, 2]
    assert nms(boxes, [0.9, 0.8, 0.7], 0.6).numpy().tolist() == [0, 2]


def test_tensors_lists_integers_and_empty_input():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60]])
    scores = [0.9, 0.8, 0.7]
    expected = [0, 2]
    assert nms(boxes, scores, 0.5).numpy().tolist() == expected  # int64 boxes: as float32
    t = tv.tensor(boxes.astype(np.float32), requires_grad=True)
    assert nms(t, tv.tensor(scores), 0.5).numpy().tolist() == expected
    assert nms(boxes.tolist(), np.array(scores, np.float16), 0.5).numpy().tolist() == expected
    assert batched_nms(boxes, scores, tv.tensor([0, 1, 0]), 0.5).numpy().tolist() == [0, 1, 2]
    for keep in (nms(np.zeros((0, 4)), np.zeros(0), 0.5),
                 batched_nms(np.zeros((0, 4), np.float32), [], np.zeros(0, np.int64), 0.5)):
        assert isinstance(keep, tv.Tensor) and keep.shape == (0,) and keep.dtype == np.int64


# ---- OpenCV's cv2.dnn.NMSBoxes as an outside oracle -----------------------------------------
def opencv_nms(cv2, boxes, scores, iou_threshold):
    """NMSBoxes takes (x, y, w, h) boxes and drops scores <= score_threshold (which must be
    >= 0): give it every box by a threshold of 0 and positive scores."""
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1).astype(np.float64)
    return np.asarray(cv2.dnn.NMSBoxes(xywh, scores, 0.0, iou_threshold), np.int64).reshape(-1)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 80), iou_threshold=st.floats(0.05, 0.95),
       tied=st.booleans())
def test_agrees_with_opencv_nmsboxes(seed, n, iou_threshold, tied):
    """Same greedy rule, same stable tie order (OpenCV's std::stable_sort).  What differs:
    OpenCV computes 1 - (1 - IoU) in double, casts it to float and compares with the float
    threshold; the xywh round trip moves coordinates by an ulp.  So an IoU within ~1e-6 of
    the threshold may go either way: such draws are set aside.  Empty boxes differ as well
    (next test), so the boxes here have positive area."""
    cv2 = pytest.importorskip("cv2", reason="OpenCV (opencv-python-headless) is the oracle")
    rng = np.random.default_rng(seed)
    boxes, scores = reference.clustered_boxes(n, rng, np.float64, image_size=300.0)
    if tied:
        scores = np.round(scores, 1)
    scores = scores.astype(np.float32) + np.float32(0.05)  # NMSBoxes drops scores <= 0
    iou = pairwise_iou(boxes)
    assume(not np.any(np.abs(iou - iou_threshold) < 1e-6))
    np.testing.assert_array_equal(nms(boxes, scores, iou_threshold).numpy(),
                                  opencv_nms(cv2, boxes, scores, iou_threshold))


def test_opencv_differs_on_empty_boxes():
    """Two boxes of zero area: torchvision (and tinyvision) divide 0 by 0, get NaN, which is
    not > threshold, and keep both; OpenCV's jaccardDistance calls their IoU 1 and drops one."""
    cv2 = pytest.importorskip("cv2", reason="OpenCV (opencv-python-headless) is the oracle")
    boxes, scores = np.array([[3.0, 3, 3, 3], [3, 3, 3, 3]]), np.array([0.9, 0.8], np.float32)
    assert nms(boxes, scores, 0.5).numpy().tolist() == [0, 1]
    assert opencv_nms(cv2, boxes, scores, 0.5).tolist() == [0]


# ---- bad input ------------------------------------------------------------------------------
BOXES, SCORES = np.array([[0, 0, 1, 1], [0, 0, 2, 2]], np.float32), np.array([0.5, 0.4])

ERRORS = {
    "boxes not (N, 4)": (lambda: nms(BOXES[:, :3], SCORES, 0.5), ValueError,
                         [r"nms: boxes must be \(N, 4\)", r"\(2, 3\)"]),
    "boxes 1-D": (lambda: nms(np.zeros(4), [1.0], 0.5), ValueError, ["nms: boxes", r"\(4,\)"]),
    "boxes of strings": (lambda: nms([["a", "b", "c", "d"]], [1.0], 0.5), TypeError,
                         ["nms: boxes"]),
    "boxes with NaN": (lambda: nms([[0, 0, np.nan, 1]], [1.0], 0.5), ValueError,
                       ["nms: boxes contains NaN"]),
    "boxes as xywh": (lambda: nms([[5, 5, 2, 2]], [1.0], 0.5), ValueError,
                      ["nms: boxes", "x2 < x1", r"not \(x, y, w, h\)"]),
    "scores shape": (lambda: nms(BOXES, [0.5, 0.4, 0.3], 0.5), ValueError,
                     [r"nms: scores must be \(2,\)", r"\(3,\)"]),
    "scores 2-D": (lambda: nms(BOXES, SCORES[:, None], 0.5), ValueError,
                   [r"nms: scores must be \(2,\)", r"\(2, 1\)"]),
    "scores NaN": (lambda: nms(BOXES, [0.5, np.nan], 0.5), ValueError,
                   ["nms: scores contains NaN", "index 1"]),
    "scores strings": (lambda: nms(BOXES, ["a", "b"], 0.5), TypeError, ["nms: scores"]),
    "threshold string": (lambda: nms(BOXES, SCORES, "0.5"), TypeError,
                         ["nms: iou_threshold must be a finite number", "'0.5'"]),
    "threshold None": (lambda: nms(BOXES, SCORES, None), TypeError, ["nms: iou_threshold"]),
    "threshold NaN": (lambda: nms(BOXES, SCORES, float("nan")), TypeError,
                      ["nms: iou_threshold", "nan"]),
    "threshold bool": (lambda: nms(BOXES, SCORES, True), TypeError, ["nms: iou_threshold"]),
    "batched idxs floats": (lambda: batched_nms(BOXES, SCORES, [0.0, 1.0], 0.5), ValueError,
                            [r"batched_nms: idxs must be \(2,\) integers", "float32"]),
    "batched idxs shape": (lambda: batched_nms(BOXES, SCORES, [0, 1, 2], 0.5), ValueError,
                           [r"batched_nms: idxs must be \(2,\)", r"\(3,\)"]),
    "batched scores NaN": (lambda: batched_nms(BOXES, [np.nan, 1], [0, 1], 0.5), ValueError,
                           ["batched_nms: scores contains NaN"]),
    "batched threshold": (lambda: batched_nms(BOXES, SCORES, [0, 1], "x"), TypeError,
                          ["batched_nms: iou_threshold"]),
}


@pytest.mark.parametrize("case", ERRORS, ids=list(ERRORS))
def test_bad_input_raises_a_clear_error(case):
    call, error, patterns = ERRORS[case]
    with pytest.raises(error) as info:
        call()
    for pattern in patterns:
        assert re.search(pattern, str(info.value)), (pattern, str(info.value))


def test_thresholds_as_numpy_scalars_and_tensors():
    # IoU(0, 1) = 1 / 4: suppressed by any threshold below 0.25
    for threshold in (np.float32(0.2), np.float64(0.2), 0, tv.tensor(0.2), np.array(0.2)):
        assert nms(BOXES, SCORES, threshold).numpy().tolist() == [0]
    assert nms(BOXES, SCORES, np.float32(0.25)).numpy().tolist() == [0, 1]
