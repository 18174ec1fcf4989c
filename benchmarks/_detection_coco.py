"""Benchmark cases for coco_evaluate against pycocotools' COCOeval (run by detection_ops.py).

A synthetic validation set: 500 images of 640 x 480 with 5-10 objects each over 10 categories
(sizes spread log-uniformly from 8 to 300 px, so small, medium and large all occur; 3 %
crowds), and 80-100 detections per image: up to three noisy copies of each object (one in five
with a wrong category) plus random boxes, random scores. The 'segm' case uses ellipse masks on
smaller images (160 x 120, 25-35 detections each), as compressed RLE; the detections carry
their boxes too, as Mask R-CNN's results do (so, in both tools, their area is the box's).

Each run does the whole evaluation from the Python dicts: tinyvision's ``coco_evaluate``, and
for pycocotools ``COCO()`` + ``createIndex`` + ``loadRes`` + ``evaluate`` + ``accumulate`` +
``summarize`` (its printing silenced). Both answers are compared before timing.

NOTE: pycocotools writes into the dicts it is given (loadRes adds 'area', 'id', 'iscrowd' and,
for 'bbox', a 'segmentation' polygon to each detection; without boxes in 'segm' it would add an
array 'bbox' that breaks its next loadRes). It gets its own copy, made once, so calls after
the first skip the polygons: if anything, the timing favours it.
"""
import contextlib
import copy
import io

import numpy as np

from _harness import Case
from tinyvision.data import rle
from tinyvision.metrics import coco_evaluate

try:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
except ImportError:  # the rows then show tinyvision alone
    COCO = None

KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def _scene(rng, n_images, n_cats, width, height, dets_per_image, sizes):
    """[(image id, [(x, y, w, h, category, crowd)], [(x, y, w, h, category, score)])]"""
    out = []
    for image_id in range(1, n_images + 1):
        objects = []
        for _ in range(rng.integers(5, 11)):
            w, h = np.exp(rng.uniform(np.log(sizes[0]), np.log(sizes[1]), 2))
            x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
            objects.append((x, y, w, h, int(rng.integers(1, n_cats + 1)),
                            int(rng.random() < 0.03)))
        found = []
        for k in range(int(rng.integers(*dets_per_image))):
            if k < 3 * len(objects):                      # a noisy copy of an object
                x, y, w, h, cat, _ = objects[k % len(objects)]
                dx, dy, dw, dh = rng.normal(0, 0.1, 4) * [w, h, w, h]
                box = (x + dx, y + dy, max(w + dw, 1.0), max(h + dh, 1.0))
                if rng.random() < 0.2:
                    cat = int(rng.integers(1, n_cats + 1))
            else:                                         # a random box
                w, h = np.exp(rng.uniform(np.log(sizes[0]), np.log(sizes[1]), 2))
                box = (rng.uniform(0, width - w), rng.uniform(0, height - h), w, h)
                cat = int(rng.integers(1, n_cats + 1))
            found.append(tuple(float(v) for v in box) + (cat, float(rng.random())))
        out.append((image_id, objects, found))
    return out


def synthetic_detections(n_images=500, seed=0, n_cats=10):
    """(coco_gt, detections) for iou_type 'bbox' (the module docstring)."""
    rng = np.random.default_rng(seed)
    images, annotations, detections = [], [], []
    for image_id, objects, found in _scene(rng, n_images, n_cats, 640, 480, (80, 101), (8, 300)):
        images.append({"id": image_id, "file_name": f"{image_id:06d}.png", "height": 480,
                       "width": 640})
        for x, y, w, h, cat, crowd in objects:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": cat, "bbox": [x, y, w, h], "area": w * h,
                                "iscrowd": crowd})
        for x, y, w, h, cat, score in found:
            detections.append({"image_id": image_id, "category_id": cat,
                               "bbox": [x, y, w, h], "score": score})
    return _coco(images, annotations, n_cats), detections


def _ellipse(x, y, w, h, width, height):
    yy, xx = np.ogrid[:height, :width]
    cx, cy = x + w / 2, y + h / 2
    return (((xx + 0.5 - cx) / (w / 2)) ** 2 + ((yy + 0.5 - cy) / (h / 2)) ** 2 <= 1)


def synthetic_masks(n_images=500, seed=0, n_cats=10):
    """(coco_gt, detections) for iou_type 'segm': ellipses in the boxes, compressed RLE."""
    rng = np.random.default_rng(seed)
    width, height = 160, 120
    images, annotations, detections = [], [], []
    for image_id, objects, found in _scene(rng, n_images, n_cats, width, height, (25, 36),
                                           (4, 100)):
        images.append({"id": image_id, "file_name": f"{image_id:06d}.png", "height": height,
                       "width": width})
        for x, y, w, h, cat, crowd in objects:
            m = _ellipse(x, y, w, h, width, height)
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": cat, "segmentation": rle.encode(m),
                                "area": float(m.sum()), "iscrowd": crowd,
                                "bbox": [x, y, w, h]})
        for x, y, w, h, cat, score in found:
            detections.append({"image_id": image_id, "category_id": cat, "score": score,
                               "bbox": [x, y, w, h],
                               "segmentation": rle.encode(_ellipse(x, y, w, h, width, height))})
    return _coco(images, annotations, n_cats), detections


def _coco(images, annotations, n_cats):
    return {"images": images, "annotations": annotations,
            "categories": [{"id": c, "name": f"class{c}"} for c in range(1, n_cats + 1)]}


def run_pycocotools(coco_gt, detections, iou_type):
    """COCOeval's twelve summary figures (an array), its printing silenced."""
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = coco_gt
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(detections), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def _case(label, coco_gt, detections, iou_type):
    runs = {"tinyvision": lambda: coco_evaluate(coco_gt, detections, iou_type)}
    if COCO is not None:
        theirs = copy.deepcopy((coco_gt, detections))
        runs["pycocotools"] = lambda: run_pycocotools(*theirs, iou_type)
        ours = runs["tinyvision"]()
        stats = runs["pycocotools"]()
        if not np.allclose([ours[k] for k in KEYS], stats, rtol=0, atol=1e-6):
            raise AssertionError(f"coco_evaluate benchmark ({iou_type}): the figures differ "
                                 f"from pycocotools'")
    n_images = len(coco_gt["images"])
    shape = (f"{n_images} images, {len(coco_gt['annotations']):,} objects, "
             f"{len(detections):,} detections")
    return Case(label, shape, runs, peer="pycocotools")


def cases(quick=False):
    """coco_evaluate 'bbox' on 500 images (quick: 50) and 'segm' on 500 (quick: 20)."""
    n_box, n_mask = (50, 20) if quick else (500, 500)
    return [_case("coco_evaluate bbox", *synthetic_detections(n_box), "bbox"),
            _case("coco_evaluate segm", *synthetic_masks(n_mask), "segm")]
