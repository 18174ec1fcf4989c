"""coco_evaluate against pycocotools' COCOeval: the twelve summary figures, the precision and
recall arrays, on many random scenes (crowds, every area range and its bounds, categories
without ground truth, images without detections, > 100 detections, tied scores, IoUs right on
a threshold), for boxes and masks; hand-built cases whose answer is known; speed."""
import contextlib
import copy
import io
import time

import numpy as np
import pytest

from tinyvision.data import rle
from tinyvision.metrics import coco_evaluate
from tinyvision.metrics.rle_ops import to_rle

KEYS = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def cocoeval(gt, dets, iou_type):
    """pycocotools' COCOeval on copies (it writes into its inputs), its printing silenced."""
    pytest.importorskip("pycocotools", reason="pycocotools is the oracle for COCO evaluation")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(copy.deepcopy(dets)), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def assert_same_as_pycocotools(gt, dets, iou_type):
    ev = cocoeval(gt, dets, iou_type)
    ours = coco_evaluate(gt, dets, iou_type)
    np.testing.assert_allclose([ours[k] for k in KEYS], ev.stats, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours["precision"], ev.eval["precision"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours["recall"], ev.eval["recall"], rtol=0, atol=1e-6)
    return ours


# ---- random scenes -----------------------------------------------------------------------
def box_scene(seed):
    """Images with 0-7 objects of 3 of 4 categories (the 4th has no ground truth), boxes of
    every size class (sides 32 and 96 included, areas sometimes exactly 32² or 96²), 10 %
    crowds, detections jittered around objects plus random ones, scores rounded to 0.1 (ties).
    Even seeds use whole-pixel boxes, so IoUs such as exactly 0.5 or 0.75 occur; every 4th
    seed gives one image-category more than 100 detections."""
    rng = np.random.default_rng(seed)
    whole = seed % 2 == 0
    cats = [{"id": 2 * c + 1, "name": f"c{c}"} for c in range(4)]
    cat_ids = [c["id"] for c in cats]
    images = [{"id": 3 * i + 5, "height": 240, "width": 260} for i in range(7)]
    anns, dets = [], []

    def det(image, cat, box):
        dets.append({"image_id": image, "category_id": cat, "bbox": [float(v) for v in box],
                     "score": float(np.round(rng.random(), 1))})

    for im in images[:-1]:                       # the last image has no ground truth
        for _ in range(rng.integers(0, 8)):
            side = float(rng.choice([6, 20, 32, 50, 96, 120, 180]))
            w = float(rng.integers(1, side + 1))
            h = float(side * side // w) if rng.random() < 0.5 else float(rng.integers(1, side + 1))
            x, y = float(rng.integers(0, 150)), float(rng.integers(0, 150))
            if not whole:
                x, y, w, h = x + rng.random(), y + rng.random(), w + rng.random(), h + rng.random()
            area = w * h if rng.random() < 0.8 else float(rng.choice([32 ** 2, 96 ** 2, w * h / 2]))
            cat = int(rng.choice(cat_ids[:3]))
            anns.append({"id": len(anns) + 1, "image_id": im["id"], "category_id": cat,
                         "bbox": [x, y, w, h], "area": area, "iscrowd": int(rng.random() < 0.1)})
            for _ in range(rng.integers(0, 4)):
                jitter = rng.integers(-6, 7, 4) if whole else rng.normal(0, 3, 4)
                box = [x + jitter[0], y + jitter[1], max(w + jitter[2], 0), max(h + jitter[3], 0)]
                det(im["id"], cat if rng.random() < 0.85 else int(rng.choice(cat_ids)), box)
        n_random = 130 if seed % 4 == 0 and im is images[0] else int(rng.integers(0, 30))
        cat = int(rng.choice(cat_ids))
        for _ in range(n_random):
            det(im["id"], cat if n_random > 100 else int(rng.choice(cat_ids)),
                rng.integers(0, 200, 2).tolist() + rng.integers(1, 90, 2).tolist())
    # images[1] keeps its ground truth but loses its detections
    dets = [d for d in dets if d["image_id"] != images[1]["id"]]
    order = rng.permutation(len(dets))
    return ({"images": images, "categories": cats, "annotations": anns},
            [dets[i] for i in order])


@pytest.mark.parametrize("seed", range(24))
def test_bbox_equals_pycocotools(seed):
    assert_same_as_pycocotools(*box_scene(seed), "bbox")


def blob(rng, h, w):
    """A random rectangle or ellipse, sometimes with holes, as an (h, w) uint8 mask."""
    m = np.zeros((h, w), np.uint8)
    y0, x0 = rng.integers(0, h), rng.integers(0, w)
    hh, ww = rng.integers(1, h // 2 + 2), rng.integers(1, w // 2 + 2)
    if rng.random() < 0.5:
        m[y0:y0 + hh, x0:x0 + ww] = 1
    else:
        yy, xx = np.mgrid[:h, :w]
        m[((yy - y0) / hh) ** 2 + ((xx - x0) / ww) ** 2 <= 1] = 1
    if rng.random() < 0.3:
        m[rng.random((h, w)) < 0.2] = 0
    return m


def mask_scene(seed):
    """Small images of different sizes; ground truth as compressed RLE, polygons, and crowds
    as uncompressed RLE; detections as shifted / noisy copies plus random blobs. Even seeds
    give the detections a 'bbox' (then pycocotools takes their area from it), odd ones not."""
    rng = np.random.default_rng(1000 + seed)
    cats = [{"id": c + 1, "name": f"c{c}"} for c in range(3)]
    images, anns, found = [], [], []
    for i in range(6):
        h, w = int(rng.integers(20, 50)), int(rng.integers(20, 50))
        images.append({"id": i + 1, "height": h, "width": w})
        for _ in range(rng.integers(0, 6)):
            cat, crowd = int(rng.integers(1, 3)), int(rng.random() < 0.15)
            if not crowd and rng.random() < 0.3:
                seg = [rng.uniform(-2, max(h, w), 2 * rng.integers(3, 7)).tolist()]
                m = rle.decode(to_rle(seg, h, w))
            else:
                m = blob(rng, h, w)
                seg = {"size": [h, w], "counts": rle.mask_to_counts(m)} if crowd else rle.encode(m)
            area = float(m.sum()) if rng.random() < 0.8 else float(rng.choice([0, 1024, 2000]))
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": cat,
                         "segmentation": seg, "area": area, "iscrowd": crowd})
            for _ in range(rng.integers(0, 4)):
                m2 = np.roll(m, tuple(rng.integers(-2, 3, 2)), (0, 1))
                if rng.random() < 0.5:
                    m2[rng.random((h, w)) < 0.1] ^= 1
                found.append((i + 1, cat if rng.random() < 0.85 else int(rng.integers(1, 4)), m2))
        for _ in range(rng.integers(0, 25)):
            found.append((i + 1, int(rng.integers(1, 4)), blob(rng, h, w)))
    dets = []
    for image_id, cat, m in found:
        d = {"image_id": image_id, "category_id": cat, "segmentation": rle.encode(m),
             "score": float(np.round(rng.random(), 1))}
        if seed % 2 == 0:
            ys, xs = np.nonzero(m)
            d["bbox"] = ([float(xs.min()), float(ys.min()), float(np.ptp(xs) + 1),
                          float(np.ptp(ys) + 1)] if len(xs) else [0.0, 0.0, 0.0, 0.0])
        dets.append(d)
    order = rng.permutation(len(dets))
    return ({"images": images, "categories": cats, "annotations": anns},
            [dets[i] for i in order])


@pytest.mark.parametrize("seed", range(12))
def test_segm_equals_pycocotools(seed):
    assert_same_as_pycocotools(*mask_scene(seed), "segm")


# ---- cases with a known answer ------------------------------------------------------------
def one_image(anns, categories=(1,)):
    return {"images": [{"id": 1, "height": 100, "width": 100}],
            "categories": [{"id": c, "name": str(c)} for c in categories],
            "annotations": [{"id": k + 1, "image_id": 1, "iscrowd": 0, **a}
                            for k, a in enumerate(anns)]}


def test_perfect_detection_scores_one_and_undefined_ranges_are_minus_one():
    gt = one_image([{"category_id": 1, "bbox": [10, 10, 20, 20], "area": 400.0}])
    r = coco_evaluate(gt, [{"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20],
                            "score": 0.9}])
    for key in ("AP", "AP50", "AP75", "APs", "AR1", "AR100"):
        assert r[key] == pytest.approx(1.0, abs=1e-12), key
    assert r["APm"] == r["APl"] == r["ARm"] == r["ARl"] == -1.0     # no medium / large object
    assert r["precision"].shape == (10, 101, 1, 4, 3) and r["recall"].shape == (10, 1, 4, 3)


def test_half_overlap_counts_at_050_only():
    # IoU exactly 0.5: a match at the first threshold (IoU >= t), at none of the others
    gt = one_image([{"category_id": 1, "bbox": [0, 0, 10, 10], "area": 100.0}])
    r = coco_evaluate(gt, [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 5],
                            "score": 0.5}])
    assert r["AP50"] == pytest.approx(1.0) and r["AP75"] == 0.0
    assert r["AP"] == pytest.approx(0.1)


def test_crowd_region_absorbs_detections():
    gt = one_image([{"category_id": 1, "bbox": [0, 0, 30, 30], "area": 900.0},
                    {"category_id": 1, "bbox": [50, 50, 40, 40], "area": 1600.0, "iscrowd": 1}])
    hit = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 30, 30], "score": 0.9}]
    inside_crowd = [{"image_id": 1, "category_id": 1, "bbox": [52 + k, 52, 10, 10], "score": 0.95}
                    for k in range(5)]
    assert coco_evaluate(gt, hit + inside_crowd)["AP"] == pytest.approx(1.0)  # ignored, not FP
    outside = [dict(d, bbox=[0, 60, 10, 10]) for d in inside_crowd]
    assert coco_evaluate(gt, hit + outside)["AP"] < 0.2


def test_a_second_detection_of_one_object_is_a_false_positive():
    gt = one_image([{"category_id": 1, "bbox": [0, 0, 30, 30], "area": 900.0},
                    {"category_id": 1, "bbox": [50, 50, 30, 30], "area": 900.0}])
    dets = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 30, 30], "score": 0.9},
            {"image_id": 1, "category_id": 1, "bbox": [0, 0, 30, 30], "score": 0.8},
            {"image_id": 1, "category_id": 1, "bbox": [50, 50, 30, 30], "score": 0.7}]
    # TP, FP, TP: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1; its envelope read at the 101
    # recall points is 1 for r <= 0.5 (51 points) and 2/3 above (50 points)
    assert coco_evaluate(gt, dets)["AP"] == pytest.approx((51 + 50 * 2 / 3) / 101, abs=1e-12)


def test_no_detections_and_categories_without_ground_truth():
    gt = one_image([{"category_id": 1, "bbox": [10, 10, 20, 20], "area": 400.0}],
                   categories=(1, 2))
    r = coco_evaluate(gt, [])
    assert r["AP"] == 0.0 and r["AR100"] == 0.0        # pycocotools' loadRes fails on []
    assert (r["precision"][:, :, 1] == -1).all()       # category 2: nothing to find
    # detections of a category without ground truth change nothing
    r2 = coco_evaluate(gt, [{"image_id": 1, "category_id": 2, "bbox": [0, 0, 5, 5],
                             "score": 1.0}])
    assert r2["AP"] == 0.0 and (r2["precision"][:, :, 1] == -1).all()


def test_only_the_first_100_detections_per_image_and_category_count():
    gt = one_image([{"category_id": 1, "bbox": [0, 0, 10, 10], "area": 100.0}])
    misses = [{"image_id": 1, "category_id": 1, "bbox": [50, 50, 5, 5], "score": 0.9}] * 100
    hit = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.1}]
    assert coco_evaluate(gt, misses + hit)["AR100"] == 0.0          # the 101st is dropped
    assert coco_evaluate(gt, misses[:99] + hit)["AR100"] == pytest.approx(1.0)


def test_inputs_are_left_as_they_were():
    for (gt, dets), iou_type in ((mask_scene(0), "segm"), (box_scene(0), "bbox")):
        before = copy.deepcopy((gt, dets))
        coco_evaluate(gt, dets, iou_type)
        assert (gt, dets) == before


# ---- speed -------------------------------------------------------------------------------
@pytest.mark.slow
def test_faster_than_pycocotools_on_500_images():
    pytest.importorskip("pycocotools", reason="pycocotools is the speed reference")
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))
    from _detection_coco import run_pycocotools, synthetic_detections
    gt, dets = synthetic_detections(500, seed=0)
    start = time.perf_counter()
    ours = coco_evaluate(gt, dets)
    mine = time.perf_counter() - start
    start = time.perf_counter()
    stats = run_pycocotools(gt, dets, "bbox")
    theirs = time.perf_counter() - start
    np.testing.assert_allclose([ours[k] for k in KEYS], stats, atol=1e-6)
    assert mine < theirs, f"coco_evaluate {mine:.2f} s, pycocotools {theirs:.2f} s"
