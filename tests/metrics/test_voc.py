"""PASCAL VOC AP: voc_ap on hand-computed curves and against a loop-by-loop re-derivation;
voc_evaluate on constructed cases (difficult objects, duplicates, classes without ground
truth, the IoU threshold's edge) and against a plain re-implementation on random data."""
import numpy as np
import pytest

import tinyvision as tv
from tinyvision.metrics import voc_ap, voc_evaluate


# ---- voc_ap --------------------------------------------------------------------------------
def test_voc_ap_by_hand():
    # ranks: TP, FP, TP with 2 objects -> recall .5 .5 1, precision 1 .5 2/3
    rec, prec = np.array([0.5, 0.5, 1.0]), np.array([1.0, 0.5, 2 / 3])
    # all points: envelope 1 up to recall .5, then 2/3: .5 * 1 + .5 * 2/3
    assert voc_ap(rec, prec) == pytest.approx(0.5 + 0.5 * 2 / 3)
    # 11 points: r = 0 .. .5 (6 points) see precision 1, r = .6 .. 1 (5 points) see 2/3
    assert voc_ap(rec, prec, use_07_metric=True) == pytest.approx((6 + 5 * 2 / 3) / 11)
    # a perfect ranking, an empty one, a curve that stops at recall .4
    assert voc_ap([0.5, 1.0], [1.0, 1.0]) == 1.0
    assert voc_ap([0.5, 1.0], [1, 1], use_07_metric=True) == pytest.approx(1.0)
    assert voc_ap([], []) == 0.0 == voc_ap([], [], use_07_metric=True)
    assert voc_ap([0.4], [1.0]) == pytest.approx(0.4)
    assert voc_ap([0.4], [1.0], use_07_metric=True) == pytest.approx(5 / 11)
    # NaN precision (0 / 0 after only difficult hits) counts as 0; Tensors are read
    assert voc_ap(tv.tensor([0.0, 1.0]), tv.tensor([np.nan, 1.0])) == pytest.approx(1.0)


def voc_ap_loops(rec, prec, use_07_metric):
    """The devkit's definitions written with plain loops."""
    prec = [0.0 if np.isnan(p) else p for p in prec]
    if use_07_metric:
        total = 0.0
        for t in np.arange(0.0, 1.1, 0.1):             # the Python VOC tools' thresholds
            total += max([p for r, p in zip(rec, prec) if r >= t], default=0.0)
        return total / 11
    rs, ps = [0.0] + list(rec) + [1.0], [0.0] + prec + [0.0]
    for i in range(len(ps) - 2, -1, -1):
        ps[i] = max(ps[i], ps[i + 1])
    return sum((rs[i + 1] - rs[i]) * ps[i + 1] for i in range(len(rs) - 1))


@pytest.mark.parametrize("use_07_metric", [False, True])
def test_voc_ap_against_loops(use_07_metric):
    rng = np.random.default_rng(0)
    for _ in range(50):
        hits = rng.random(int(rng.integers(1, 40))) < 0.6
        n_pos = max(int(hits.sum()) + int(rng.integers(0, 4)), 1)
        tp, fp = np.cumsum(hits), np.cumsum(~hits)
        rec, prec = tp / n_pos, tp / (tp + fp)
        assert voc_ap(rec, prec, use_07_metric) == pytest.approx(
            voc_ap_loops(rec, prec, use_07_metric), abs=1e-12)


# ---- voc_evaluate on constructed cases ----------------------------------------------------
B = np.array([[0, 0, 10, 10], [20, 20, 40, 40], [50, 0, 70, 30]], np.float64)


def test_perfect_detections_and_background_label():
    r = voc_evaluate([B], [np.array([1, 1, 2])], [np.array([0.9, 0.8, 0.7])],
                     [B], [np.array([1, 1, 2])])
    assert np.isnan(r["ap"][0]) and r["ap"][1:].tolist() == [1.0, 1.0] and r["map"] == 1.0


def test_duplicates_are_false_positives_and_misses_lower_recall():
    pred = np.array([B[0], B[0] + 1, B[1]])           # a near-copy of the first box
    r = voc_evaluate([pred], [np.array([1, 1, 1])], [np.array([0.9, 0.8, 0.7])],
                     [B], [np.array([1, 1, 1])])
    # TP, FP (duplicate), TP over 3 objects: recall 1/3 1/3 2/3, precision 1 1/2 2/3
    np.testing.assert_allclose(r["recall"][1], [1 / 3, 1 / 3, 2 / 3])
    np.testing.assert_allclose(r["precision"][1], [1, 1 / 2, 2 / 3])
    assert r["ap"][1] == pytest.approx(1 / 3 * 1 + 1 / 3 * 2 / 3)


def test_difficult_objects_neither_count_nor_penalise():
    gt_labels, difficult = [np.array([1, 1, 1])], [np.array([False, True, False])]
    hit_difficult = voc_evaluate([B], [np.array([1, 1, 1])], [np.array([0.9, 0.8, 0.7])],
                                 [B], gt_labels, difficult)
    skip_difficult = voc_evaluate([B[[0, 2]]], [np.array([1, 1])], [np.array([0.9, 0.7])],
                                  [B], gt_labels, difficult)
    assert hit_difficult["ap"][1] == skip_difficult["ap"][1] == 1.0   # 2 objects to find
    np.testing.assert_allclose(hit_difficult["recall"][1], [0.5, 0.5, 1.0])
    # only difficult objects: nothing to find, AP undefined
    only = voc_evaluate([B[:1]], [np.array([1])], [np.array([0.9])], [B[:1]], [np.array([1])],
                        [np.array([True])])
    assert np.isnan(only["ap"][1]) and np.isnan(only["map"])


def test_classes_without_ground_truth_are_nan_and_left_out_of_the_mean():
    r = voc_evaluate([B[:2]], [np.array([1, 3])], [np.array([0.9, 0.8])],
                     [B[:1]], [np.array([1])])
    assert len(r["ap"]) == 4 and r["ap"][1] == 1.0 and np.isnan(r["ap"][[0, 2, 3]]).all()
    assert r["map"] == 1.0 and r["precision"][3] is None
    # a class with ground truth but no detection has AP 0
    r = voc_evaluate([np.zeros((0, 4))], [np.zeros(0, np.int64)], [np.zeros(0)],
                     [B[:1]], [np.array([2])])
    assert r["ap"][2] == 0.0 and r["map"] == 0.0


def test_iou_threshold_is_inclusive_and_boxes_have_no_plus_one():
    gt = np.array([[0, 0, 10, 10]], np.float64)
    half = np.array([[0, 0, 10, 5]], np.float64)       # IoU exactly 0.5 (no +1 pixel)
    args = ([half], [np.array([1])], [np.array([1.0])], [gt], [np.array([1])])
    assert voc_evaluate(*args)["ap"][1] == 1.0
    assert voc_evaluate(*args, iou_thresh=0.51)["ap"][1] == 0.0


def test_ties_in_score_keep_the_input_order():
    # equal scores: the FP listed first ranks first, so precision starts at 0
    pred = np.array([[80, 80, 90, 90], B[0]], np.float64)
    r = voc_evaluate([pred], [np.array([1, 1])], [np.array([0.5, 0.5])], [B[:1]], [np.array([1])])
    np.testing.assert_allclose(r["precision"][1], [0.0, 0.5])


# ---- voc_evaluate against a plain re-implementation ----------------------------------------
def voc_evaluate_plain(preds, gts, iou_thresh, use_07_metric):
    """Per class: rank all detections (stable), loop, greedy argmax matching as ChainerCV."""
    labels = sorted({int(l) for p in preds for l in p[1]} | {int(l) for g in gts for l in g[1]})
    ap = {}
    for c in labels:
        ranked, n_pos = [], 0
        for i, ((pb, pl, ps), (gb, gl, gd)) in enumerate(zip(preds, gts)):
            n_pos += int(sum(1 for l, d in zip(gl, gd) if l == c and not d))
            for k in np.argsort(-ps, kind="stable"):
                if pl[k] == c:
                    ranked.append((-ps[k], i, pb[k]))
        ranked.sort(key=lambda t: t[0])                # stable: image order, then score order
        taken = [np.zeros(len(g[0]), bool) for g in gts]
        tp, fp = [], []
        for _, i, box in ranked:
            gb, gl, gd = gts[i]
            best, best_j = -1.0, -1
            for j in range(len(gb)):
                if gl[j] != c:
                    continue
                iw = min(box[2], gb[j][2]) - max(box[0], gb[j][0])
                ih = min(box[3], gb[j][3]) - max(box[1], gb[j][1])
                inter = max(iw, 0) * max(ih, 0)
                union = ((box[2] - box[0]) * (box[3] - box[1])
                         + (gb[j][2] - gb[j][0]) * (gb[j][3] - gb[j][1]) - inter)
                iou = inter / union if union > 0 else 0.0
                if iou > best:
                    best, best_j = iou, j
            if best_j >= 0 and best >= iou_thresh:
                if gd[best_j]:
                    taken[i][best_j] = True
                    continue
                tp.append(0 if taken[i][best_j] else 1)
                taken[i][best_j] = True
            else:
                tp.append(0)
            fp.append(1 - tp[-1])
        if n_pos == 0:
            continue
        ctp, cfp = np.cumsum(tp), np.cumsum(fp)
        ap[c] = voc_ap(ctp / n_pos, ctp / np.maximum(ctp + cfp, 1), use_07_metric) if tp else 0.0
    return ap


@pytest.mark.parametrize("seed", range(6))
def test_voc_evaluate_against_a_plain_version(seed):
    rng = np.random.default_rng(seed)
    preds, gts = [], []
    for _ in range(5):
        m = int(rng.integers(0, 6))
        xy = rng.integers(0, 60, (m, 2))
        gb = np.concatenate([xy, xy + rng.integers(4, 30, (m, 2))], 1).astype(np.float64)
        gl, gd = rng.integers(1, 4, m), rng.random(m) < 0.2
        k = int(rng.integers(0, 9))
        src = rng.integers(0, max(m, 1), k)
        pb = (gb[src] if m else np.zeros((k, 4))) + rng.normal(0, 3, (k, 4))
        pb[:, 2:] = np.maximum(pb[:, 2:], pb[:, :2] + 1)
        pl = np.where(rng.random(k) < 0.8, gl[src] if m else 1, rng.integers(1, 4, k))
        ps = np.round(rng.random(k), 1)
        preds.append((pb, pl.astype(np.int64), ps))
        gts.append((gb, gl, gd))
    for use_07 in (False, True):
        ours = voc_evaluate(*(list(x) for x in zip(*preds)), *(list(x) for x in zip(*gts)),
                            use_07_metric=use_07)
        plain = voc_evaluate_plain(preds, gts, 0.5, use_07)
        for c, ap in plain.items():
            assert ours["ap"][c] == pytest.approx(ap, abs=1e-12), (c, use_07)
        assert sorted(plain) == [c for c in range(len(ours["ap"])) if not np.isnan(ours["ap"][c])]
