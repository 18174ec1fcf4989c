"""Task recipe "yolo": YOLO v1 on ShapesScenes, trained from scratch, scored the COCO way.

    result = recipes.train_task("yolo", out="runs")
    result["metrics"]["mAP@0.5"], result["ms_per_image"]

Data, training loop, evaluation and checkpoint: ``_detection`` (the recipe machinery the
four detectors of issue 7 share). The model: ``models/detection/yolo.py`` (S = 8, B = 2, the
loss of Eq. (3) with λcoord = 5, λnoobj = 0.5). Augmentation, ``augment``: the paper's
(Sec. 2.2) random scaling and translation of up to ``jitter`` (20%) of the image size, and
random exposure and saturation by up to a factor ``hsv`` (1.5) in HSV space, then a
horizontal flip with probability 1/2.

Measured (single-threaded processor time, mAP@0.5 on the 500 test scenes; the conv head,
logistic outputs, layers (1, 1, 2, 1), SGD lr 0.05): 2,000 scenes x 40 epochs with the
scaling/translation jitter 0.747 (AP 0.419, 478 s), without it 0.587 (AP 0.302, 365 s:
the training loss falls much lower, the test figures do not follow); the recipe, 4,000
scenes x 25 epochs with the jitter, 0.778 (AP 0.445, 625 s; 227,583 parameters). (0.796,
AP 0.457 in a run whose backbone still built a c5 stage the conv head never read: the same
network, a different random draw of the head's weights.) The misses are mostly the smallest
shapes (8 px, half a cell) and the second centre of a shared cell.
"""
import sys

import numpy as np

from ..data import ShapesScenes
from ..models.detection.yolo import YOLOv1
from . import _detection

TASK, STEM = "yolo", "yolo-shapes"
# the README results row (benchmarks/results.py)
LABEL, DATA = "YOLO v1 (S=8, B=2)", "ShapesScenes"
ROW_METRICS = ("mAP@0.5", "AP")
SETTINGS = dict(train_images=4000, epochs=25, images_per_batch=16, optimizer="sgd", lr=0.05,
                momentum=0.9, weight_decay=5e-4, warmup_epochs=1, clip_grad_norm=10.0,
                augment=dict(jitter=0.2, hsv=1.5),
                model=dict(grid_size=8, boxes_per_cell=2, head="conv", layers=(1, 1, 2, 1)))


def build_model(mean=None, std=None, **model):
    """The recipe's YOLO v1 (untrained); ``model`` overrides SETTINGS["model"]."""
    return YOLOv1(len(ShapesScenes.CLASSES), mean=mean, std=std,
                  **dict(SETTINGS["model"], **model))


def scale_translate(rng, image, target, jitter=0.2, min_visible=0.4):
    """The paper's geometric augmentation: the image scaled by s ∈ [1 − jitter, 1 + jitter]
    about its centre and shifted by up to jitter·size each way (nearest-pixel resampling,
    the uncovered border filled with the image's mean colour). Boxes move with it, are
    clipped to the image, and dropped when less than ``min_visible`` of their area stays."""
    _, H, W = image.shape
    s = rng.uniform(1 - jitter, 1 + jitter)
    dx, dy = rng.uniform(-jitter, jitter, size=2) * (W, H)
    # output pixel u shows input pixel (u − c − d) / s + c, c the centre
    xs = np.floor((np.arange(W) + 0.5 - W / 2 - dx) / s + W / 2).astype(np.int64)
    ys = np.floor((np.arange(H) + 0.5 - H / 2 - dy) / s + H / 2).astype(np.int64)
    inside = (ys[:, None] >= 0) & (ys[:, None] < H) & (xs[None] >= 0) & (xs[None] < W)
    out = image[:, np.clip(ys, 0, H - 1)[:, None], np.clip(xs, 0, W - 1)[None]]
    out = np.where(inside, out, image.mean(axis=(1, 2), keepdims=True)).astype(np.float32)
    boxes = np.asarray(target["boxes"], np.float32).reshape(-1, 4)
    moved = (boxes - [W / 2, H / 2, W / 2, H / 2]) * s + [W / 2 + dx, H / 2 + dy] * 2
    clipped = np.clip(moved, 0, [W, H, W, H]).astype(np.float32)
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    keep = (area(clipped) >= min_visible * area(moved)) & np.all(
        clipped[:, 2:] - clipped[:, :2] >= 2, axis=1)
    labels = np.asarray(target["labels"]).reshape(-1)
    return out, dict(target, boxes=clipped[keep], labels=labels[keep])


def exposure_saturation(rng, image, hsv=1.5):
    """The paper's photometric augmentation: V (exposure) and S (saturation) of HSV each
    scaled by a factor in [1/hsv, hsv]. Scaling V scales R, G, B alike; scaling S by f keeps
    V = max(R, G, B) and moves each channel c to V − f·(V − c). Values clipped to [0, 1]."""
    exposure, saturation = np.exp(rng.uniform(-np.log(hsv), np.log(hsv), size=2))
    value = image.max(axis=0, keepdims=True)
    return np.clip((value - saturation * (value - image)) * exposure, 0, 1).astype(np.float32)


def augment(rng, image, target):
    """Scaling and translation, exposure and saturation, a horizontal flip (module docstring)."""
    options = SETTINGS.get("augment") or {}
    if options.get("jitter"):
        image, target = scale_translate(rng, image, target, options["jitter"])
    if options.get("hsv"):
        image = exposure_saturation(rng, image, options["hsv"])
    return _detection.hflip(rng, image, target)


def train(epochs=None, seed=0, out=None, progress=True):
    """Train YOLO v1, evaluate it on the test split and, with ``out``, save its checkpoint and a
    picture of its detections (``_detection.train_detector``)."""
    return _detection.train_detector(sys.modules[__name__], epochs, seed, out, progress)


def evaluate(checkpoint):
    """mAP@0.5 and COCO figures of a saved YOLO v1 on the test split (500 scenes)."""
    return _detection.evaluate(sys.modules[__name__], checkpoint)


def load_model(checkpoint):
    """The YOLO v1 of a checkpoint ``train`` wrote, in eval mode."""
    return _detection.load_model(sys.modules[__name__], checkpoint)
