"""BoxCoder, Matcher / SSDMatcher, ATSSMatcher, assign_anchors_greedy,
BalancedPositiveNegativeSampler and hard_negative_mining: the worked example of Dive into Deep
Learning, constructed matching cases (ignore band, low-quality matches with ties, ATSS's
thresholds), loop oracles, hypothesis properties (encode/decode round trip, ATSS's invariance
to shifts and scales, sampler counts, mining counts), float64 gradchecks of the coder, bad
input.
"""
import math
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinyvision as tv
from tinyvision.ops import (ATSSMatcher, BalancedPositiveNegativeSampler, BoxCoder, Matcher,
                            SSDMatcher, assign_anchors_greedy, box_iou, hard_negative_mining)

# D2L §14.4.3: a dog and a cat (normalised xyxy) and five anchors.
D2L_GT = np.array([[0.1, 0.08, 0.52, 0.92], [0.55, 0.2, 0.9, 0.88]])
D2L_ANCHORS = np.array([[0, 0.1, 0.2, 0.3], [0.15, 0.2, 0.4, 0.4], [0.63, 0.05, 0.88, 0.98],
                        [0.66, 0.45, 0.8, 0.8], [0.57, 0.3, 0.92, 0.9]])


def random_boxes(rng, n, min_size=0.5):
    xy = rng.uniform(0, 20, (n, 2))
    return np.concatenate([xy, xy + rng.uniform(min_size, 10, (n, 2))], 1)


# ---- the D2L worked example ----------------------------------------------------------------------
def test_d2l_worked_example_assignment_and_offsets():
    assigned = assign_anchors_greedy(box_iou(D2L_ANCHORS, D2L_GT), 0.5)
    assert assigned.dtype == np.int64
    assert assigned.numpy().tolist() == [-1, 0, 1, -1, 1]   # the book's class labels 0 1 2 0 2
    # The book's offsets (its offset_boxes is this encoding with weights 10, 10, 5, 5).
    fg = np.array([1, 2, 4])
    codes = BoxCoder((10, 10, 5, 5)).encode(D2L_GT[assigned.numpy()[fg]], D2L_ANCHORS[fg])
    np.testing.assert_allclose(codes.numpy(), [[1.40, 10.0, 2.59, 7.18],
                                               [-1.20, 0.269, 1.68, -1.57],
                                               [-0.571, -1.00, 0.0, 0.626]], atol=6e-3)


def naive_greedy(x, threshold):
    """D2L's assign_anchor_to_bbox, loop for loop."""
    x = x.copy()
    assigned = [-1] * len(x)
    if x.size == 0:
        return assigned
    for i in range(len(x)):
        if x[i].max() >= threshold:
            assigned[i] = int(x[i].argmax())
    for _ in range(min(x.shape)):
        k = int(np.argmax(x))
        i, j = k // x.shape[1], k % x.shape[1]
        assigned[i] = j
        x[:, j], x[i, :] = -1, -1
    return assigned


@given(st.integers(0, 2**32 - 1), st.integers(0, 7), st.integers(0, 4), st.floats(0.2, 0.8))
def test_greedy_assignment_against_the_loops(seed, n, m, threshold):
    x = np.round(np.random.default_rng(seed).uniform(0, 1, (n, m)), 1)   # ties included
    got = assign_anchors_greedy(x, threshold).numpy()
    assert got.tolist() == naive_greedy(x, threshold)
    if n >= m:                                 # every ground truth has an anchor
        assert set(range(m)) <= set(got.tolist())


# ---- BoxCoder ------------------------------------------------------------------------------------
@given(st.integers(0, 2**32 - 1), st.integers(0, 6), st.integers(1, 3),
       st.sampled_from([(1, 1, 1, 1), (10, 10, 5, 5), (2, 3, 0.5, 4)]))
def test_encode_decode_round_trip(seed, n, k, weights):
    rng = np.random.default_rng(seed)
    coder = BoxCoder(weights)
    proposals = random_boxes(rng, n)
    gts = [random_boxes(rng, n) for _ in range(k)]       # one target per class
    codes = np.concatenate([coder.encode(g, proposals).numpy() for g in gts], 1)   # (n, 4k)
    decoded = coder.decode(codes, proposals)
    assert decoded.shape == (n, 4 * k)
    np.testing.assert_allclose(decoded.numpy(), np.concatenate(gts, 1), rtol=1e-10, atol=1e-10)


def test_encode_by_hand_and_decode_clamps_the_exp():
    p = np.array([[0, 0, 10, 20]], np.float32)             # centre (5, 10), size 10×20
    g = np.array([[2, 4, 22, 24]], np.float32)             # centre (12, 14), size 20×20
    t = BoxCoder((2, 2, 1, 1)).encode(g, p).numpy()
    np.testing.assert_allclose(t, [[2 * 7 / 10, 2 * 4 / 20, math.log(2), 0]], rtol=1e-6)
    assert t.dtype == np.float32
    out = BoxCoder().decode(np.array([[0, 0, 50, -1]], np.float32), p).numpy()
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[0, 2] - out[0, 0], 10 * 1000 / 16, rtol=1e-5)  # clamped
    np.testing.assert_allclose(out[0, 3] - out[0, 1], 20 * math.exp(-1), rtol=1e-5)


@pytest.mark.parametrize("seed", range(2))
def test_gradcheck_coder(seed):
    rng = np.random.default_rng(seed)
    p, g = random_boxes(rng, 4), random_boxes(rng, 4)
    codes = rng.normal(0, 0.5, (4, 8))
    coder = BoxCoder((10, 10, 5, 5))
    leaf = lambda a: tv.tensor(a, requires_grad=True, dtype=np.float64)
    assert tv.gradcheck(lambda c, b: coder.decode(c, b), [leaf(codes), leaf(p)])
    assert tv.gradcheck(lambda a, b: coder.encode(a, b), [leaf(g), leaf(p)])
    # Beyond the clamp the width no longer depends on t_w.
    big = leaf([[0.0, 0.0, 40.0, 0.0]])
    size = BoxCoder(bbox_xform_clip=1.0).decode(big, p[:1]) * np.array([-1.0, -1, 1, 1])
    size.sum().backward()                                  # (x2 − x1) + (y2 − y1)
    assert big.grad[0, 2] == 0 and big.grad[0, 3] != 0


# ---- Matcher -------------------------------------------------------------------------------------
Q = np.array([[0.9, 0.5, 0.1, 0.2, 0.0, 0.55],
              [0.1, 0.2, 0.25, 0.6, 0.0, 0.6]])


def test_matcher_ignore_band_and_low_quality_ties():
    # Best per prediction: 0.9 (gt 0), 0.5, 0.25, 0.6, 0, 0.6 (gt 1).
    plain = Matcher(0.7, 0.3)(Q)
    assert plain.dtype == np.int64
    assert plain.numpy().tolist() == [0, -2, -1, -2, -1, -2]
    # gt 1's best IoU, 0.6, is reached by predictions 3 and 5: both get it.
    assert Matcher(0.7, 0.3, allow_low_quality_matches=True)(Q).numpy().tolist() == \
        [0, -2, -1, 1, -1, 1]
    assert Matcher.BELOW_LOW_THRESHOLD == -1 and Matcher.BETWEEN_THRESHOLDS == -2
    # Thresholds are inclusive at high (≥) and at low (≥ is not background).
    assert Matcher(0.6, 0.25)(Q).numpy().tolist() == [0, -2, -2, 1, -1, 1]


def test_matcher_low_quality_takes_the_argmax_as_torchvision():
    # Both objects' best prediction is 0; it keeps its own argmax (gt 0), as torchvision.
    q = np.array([[0.5, 0.1], [0.4, 0.05]])
    assert Matcher(0.7, 0.3, True)(q).numpy().tolist() == [0, -1]


def naive_matcher(q, high, low, low_quality):
    matches = []
    for n in range(q.shape[1]):
        best = q[:, n].max()
        matches.append(int(q[:, n].argmax()) if best >= high else (-1 if best < low else -2))
    if low_quality:
        for m in range(q.shape[0]):
            for n in range(q.shape[1]):
                if q[m, n] == q[m].max():
                    matches[n] = int(q[:, n].argmax())
    return matches


@given(st.integers(0, 2**32 - 1), st.integers(1, 4), st.integers(1, 8), st.booleans())
def test_matcher_against_the_loops(seed, m, n, low_quality):
    q = np.round(np.random.default_rng(seed).uniform(0, 1, (m, n)), 1)
    got = Matcher(0.7, 0.3, low_quality)(q).numpy().tolist()
    assert got == naive_matcher(q, 0.7, 0.3, low_quality)


def test_matcher_empty_and_ssd():
    assert Matcher(0.7, 0.3)(np.zeros((0, 5))).numpy().tolist() == [-1] * 5
    assert Matcher(0.7, 0.3)(np.zeros((2, 0))).shape == (0,)
    # SSD: one threshold, and each object keeps its best prediction (gt 1 -> prediction 3).
    q = np.array([[0.9, 0.5, 0.1, 0.2], [0.1, 0.2, 0.25, 0.4]])
    assert SSDMatcher(0.5)(q).numpy().tolist() == [0, 0, -1, 1]
    # Two objects whose best is the same prediction: the later one wins it.
    q = np.array([[0.9, 0.1], [0.8, 0.2]])
    assert SSDMatcher(0.5)(q).numpy().tolist() == [1, -1]


# ---- ATSSMatcher ---------------------------------------------------------------------------------
# Two levels: four 10 px anchors on a stride-10 grid, one 20 px anchor (one anchor per location).
ATSS_ANCHORS = np.array([[0, 0, 10, 10], [10, 0, 20, 10], [0, 10, 10, 20], [10, 10, 20, 20],
                         [0, 0, 20, 20]], np.float64)


def test_atss_threshold_is_mean_plus_std_of_the_nearest_anchors():
    gt = np.array([[0, 0, 12, 12]])
    # nearest 2 per level: anchors 0 and 1 (1 and 2 tie; the lower index wins), and 4
    iou = box_iou(gt, ATSS_ANCHORS).numpy()[0]
    candidates = iou[[0, 1, 4]]                               # 0.694, 0.089, 0.36
    threshold = candidates.mean() + candidates.std(ddof=1)    # 0.684
    assert iou[0] >= threshold > iou[4]
    assert ATSSMatcher(2, 1)(gt, ATSS_ANCHORS, [4, 1]).numpy().tolist() == [0, -1, -1, -1, -1]
    # a second, larger object takes the large anchor; the 4 small ones overlap it by 0.24 only
    two = np.array([[0, 0, 12, 12], [1, 1, 19, 19]])
    assert ATSSMatcher(2, 1)(two, ATSS_ANCHORS, [4, 1]).numpy().tolist() == [0, -1, -1, -1, 1]


def test_atss_gives_a_small_object_positives_a_fixed_threshold_would_not():
    # 8 px anchors on a stride-8 grid: a 5 px object overlaps none by 0.5 (Matcher: none)
    xy = np.stack(np.meshgrid(np.arange(4) * 8, np.arange(4) * 8), -1).reshape(-1, 2)
    anchors = np.concatenate([xy - 4, xy + 4], 1).astype(np.float64)
    gt = np.array([[5, 6, 10, 11]])                           # holds the anchor centre (8, 8)
    assert (box_iou(gt, anchors).numpy() < 0.5).all()
    matched = ATSSMatcher(4, 1)(gt, anchors, [16]).numpy()
    assert np.flatnonzero(matched == 0).tolist() == [5]       # the anchor centred at (8, 8)
    # narrower than the stride and between the centres: it keeps its best candidate
    between = np.array([[9, 9, 15, 15]])
    iou = box_iou(between, anchors).numpy()[0]
    assert np.flatnonzero(ATSSMatcher(4, 1)(between, anchors, [16]).numpy() == 0).tolist() == \
        [int(iou.argmax())]


def test_atss_anchor_claimed_twice_goes_to_the_larger_iou():
    gts = np.array([[1, 1, 19, 19], [0, 0, 20, 20]])         # IoU with anchor 4: 0.81 and 1
    matched = ATSSMatcher(2, 1)(gts, ATSS_ANCHORS, [4, 1]).numpy()
    assert matched[4] == 1
    assert ATSSMatcher()(np.zeros((0, 4)), ATSS_ANCHORS, [5]).numpy().tolist() == [-1] * 5


@given(st.integers(0, 2 ** 31 - 1), st.integers(-20, 20), st.integers(-20, 20))
def test_atss_is_unchanged_by_translating_and_scaling_everything(seed, dx, dy):
    rng = np.random.default_rng(seed)
    centres = np.stack(np.meshgrid(np.arange(8) * 4 + 2, np.arange(8) * 4 + 2), -1).reshape(-1, 2)
    level1 = np.concatenate([centres - 3, centres + 3], 1)
    level2 = np.concatenate([centres[::4] - 6, centres[::4] + 6], 1)
    anchors = np.concatenate([level1, level2]).astype(np.float64)
    xy = rng.integers(0, 24, (3, 2))
    gts = np.concatenate([xy, xy + rng.integers(2, 12, (3, 2))], 1).astype(np.float64)
    counts = [len(level1), len(level2)]
    matched = ATSSMatcher(3, 1)(gts, anchors, counts).numpy()
    shift = np.array([dx, dy, dx, dy])
    assert ATSSMatcher(3, 1)(gts + shift, anchors + shift, counts).numpy().tolist() == \
        matched.tolist()
    assert ATSSMatcher(3, 1)(gts * 2, anchors * 2, counts).numpy().tolist() == matched.tolist()
    assert set(matched.tolist()) <= {-1, 0, 1, 2}
    # an object alone always gets a positive, among its 3 nearest anchors of some level
    alone = ATSSMatcher(3, 1)(gts[:1], anchors, counts).numpy()
    centre = (gts[0, :2] + gts[0, 2:]) / 2
    nearest = np.concatenate([np.argsort(np.linalg.norm((a[:, :2] + a[:, 2:]) / 2 - centre, axis=1),
                                         kind="stable")[:3] + start
                              for a, start in ((level1, 0), (level2, len(level1)))])
    assert (alone == 0).sum() >= 1 and set(np.flatnonzero(alone == 0)) <= set(nearest)


# ---- BalancedPositiveNegativeSampler -------------------------------------------------------------
@given(st.integers(0, 2**32 - 1), st.integers(0, 300), st.integers(0, 64),
       st.floats(0, 1))
def test_sampler_counts(seed, n, batch, fraction):
    rng = np.random.default_rng(seed)
    labels = rng.choice([-1, 0, 1, 3], size=n, p=[0.2, 0.6, 0.1, 0.1])
    pos, neg = BalancedPositiveNegativeSampler(batch, fraction)([labels, labels[:n // 2]])
    for labels_i, p, q in zip([labels, labels[:n // 2]], pos, neg):
        p, q = p.numpy(), q.numpy()
        assert p.dtype == np.bool_ and p.shape == labels_i.shape
        n_pos = min((labels_i >= 1).sum(), int(batch * fraction))
        assert p.sum() == n_pos
        assert q.sum() == min((labels_i == 0).sum(), batch - n_pos)
        assert (labels_i[p] >= 1).all() and (labels_i[q] == 0).all()


def test_sampler_is_random_and_seeded():
    labels = np.zeros(1000, np.int64)
    labels[:100] = 1
    sampler = BalancedPositiveNegativeSampler(256, 0.25)
    tv.manual_seed(3)
    a = sampler(labels)
    tv.manual_seed(3)
    b = sampler(labels)
    c = sampler(labels)
    assert (a[0].numpy() == b[0].numpy()).all() and (a[1].numpy() == b[1].numpy()).all()
    assert (a[1].numpy() != c[1].numpy()).any()
    assert a[0].numpy().sum() == 64 and a[1].numpy().sum() == 192
    d = sampler(labels, generator=np.random.default_rng(1))
    e = sampler(labels, generator=np.random.default_rng(1))
    assert (d[1].numpy() == e[1].numpy()).all()
    # The draw is spread over all negatives, not the first ones.
    assert a[1].numpy()[500:].sum() > 50


# ---- hard negative mining ------------------------------------------------------------------------
def test_hard_negative_mining_by_hand():
    loss = np.array([[0.1, 5.0, 0.3, 0.9, 0.2, 0.8, 0.7, 0.05, 0.6, 9.0],
                     [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]])
    labels = np.array([[0, 2, 0, 0, 0, 0, 0, 0, 0, -1],      # one positive -> 3 negatives
                       [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]])      # none -> nothing
    keep = hard_negative_mining(loss, labels).numpy()
    assert keep[0].nonzero()[0].tolist() == [1, 3, 5, 6]       # positive 1; losses 0.9, 0.8, 0.7
    assert not keep[1].any()
    assert hard_negative_mining(loss[0], labels[0], 1).numpy().nonzero()[0].tolist() == [1, 3]
    # Equal losses rank by anchor index.
    assert hard_negative_mining(np.ones(6), np.array([1, 0, 0, 0, 0, 0]), 2).numpy().tolist() == \
        [True, True, True, False, False, False]


@given(st.integers(0, 2**32 - 1), st.integers(1, 4), st.integers(1, 40), st.integers(0, 4))
def test_hard_negative_mining_counts(seed, n, a, ratio):
    rng = np.random.default_rng(seed)
    labels = rng.choice([-1, 0, 0, 0, 1, 5], size=(n, a))
    loss = rng.uniform(0, 1, (n, a))
    keep = hard_negative_mining(tv.tensor(loss), labels, ratio).numpy()
    for k, y, l in zip(keep, labels, loss):
        chosen = k & (y == 0)
        assert (k[y > 0]).all() and not k[y < 0].any()
        assert chosen.sum() == min(ratio * (y > 0).sum(), (y == 0).sum())
        if chosen.any() and (~k & (y == 0)).any():
            assert l[chosen].min() >= l[~k & (y == 0)].max()


# ---- bad input -----------------------------------------------------------------------------------
box = np.array([[0, 0, 1, 1]], np.float32)
ERRORS = {
    "encode shapes": (lambda: BoxCoder().encode(np.ones((2, 4)) * [0, 0, 1, 1], box), ValueError,
                      ["BoxCoder.encode", "paired", r"\(2, 4\)", r"\(1, 4\)"]),
    "encode zero width": (lambda: BoxCoder().encode(box, [[0, 0, 0, 1]]), ValueError,
                          ["BoxCoder.encode", r"proposals\[0\]", "zero width or height"]),
    "encode (N, 3)": (lambda: BoxCoder().encode(np.ones((1, 3)), box), ValueError,
                      ["BoxCoder.encode", "reference_boxes", r"\(1, 3\)"]),
    "decode codes": (lambda: BoxCoder().decode(np.zeros((1, 6)), box), ValueError,
                     ["BoxCoder.decode", r"\(N, 4·K\)", r"\(1, 6\)"]),
    "decode NaN boxes": (lambda: BoxCoder().decode(np.zeros((1, 4)), [[0, 0, np.nan, 1]]),
                         ValueError, ["BoxCoder.decode", "boxes", "NaN"]),
    "coder weights": (lambda: BoxCoder((1, 1, 1)), ValueError,
                      ["BoxCoder", "weights", "4 positive"]),
    "matcher thresholds": (lambda: Matcher(0.3, 0.7), ValueError,
                           ["Matcher", "low_threshold", "0.7", "high_threshold", "0.3"]),
    "matcher 1-D": (lambda: Matcher(0.7, 0.3)(np.zeros(4)), ValueError,
                    ["Matcher", "match_quality_matrix", r"\(M ground truths, N predictions\)",
                     r"\(4,\)"]),
    "matcher NaN": (lambda: Matcher(0.7, 0.3)(np.array([[0.5, np.nan]])), ValueError,
                    ["Matcher", "NaN", r"\[0, 1\]"]),
    "atss topk": (lambda: ATSSMatcher(0), ValueError, ["ATSSMatcher", "topk", "int >= 1", "0"]),
    "atss counts": (lambda: ATSSMatcher()(np.zeros((1, 4)), ATSS_ANCHORS, [4, 2]), ValueError,
                    ["ATSSMatcher", "num_anchors_per_level", "5 anchors", r"\[4, 2\]"]),
    "atss boxes": (lambda: ATSSMatcher()(np.zeros((1, 3)), ATSS_ANCHORS, [5]), ValueError,
                   ["ATSSMatcher", "gt_boxes", r"\(K, 4\)", r"\(1, 3\)"]),
    "greedy threshold": (lambda: assign_anchors_greedy(np.zeros((2, 2)), None), TypeError,
                         ["assign_anchors_greedy", "iou_threshold", "None"]),
    "sampler fraction": (lambda: BalancedPositiveNegativeSampler(256, 1.5), ValueError,
                         ["BalancedPositiveNegativeSampler", "positive_fraction", r"\[0, 1\]"]),
    "sampler labels": (lambda: BalancedPositiveNegativeSampler(8, 0.5)([np.zeros((2, 2), int)]),
                       ValueError,
                       ["BalancedPositiveNegativeSampler", r"matched_idxs\[0\]", "1-D"]),
    "sampler generator": (lambda: BalancedPositiveNegativeSampler(8, 0.5)(np.zeros(3, int), 7),
                          TypeError, ["BalancedPositiveNegativeSampler", "generator", "int"]),
    "mining shapes": (lambda: hard_negative_mining(np.zeros((2, 3)), np.zeros((2, 4), int)),
                      ValueError, ["hard_negative_mining", r"\(2, 3\)", r"\(2, 4\)"]),
    "mining labels": (lambda: hard_negative_mining(np.zeros(3), np.zeros(3)), TypeError,
                      ["hard_negative_mining", "labels", "integers", "float"]),
    "mining NaN": (lambda: hard_negative_mining(np.array([np.nan]), np.zeros(1, int)), ValueError,
                   ["hard_negative_mining", "NaN"]),
}


@pytest.mark.parametrize("name", ERRORS)
def test_bad_input_is_refused_clearly(name):
    call, kind, patterns = ERRORS[name]
    with pytest.raises(kind) as info:
        call()
    for pattern in patterns:
        assert re.search(pattern, str(info.value)), (pattern, str(info.value))
