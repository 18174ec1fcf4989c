"""Task recipe "overfeat": the window classifier made fully convolutional, over a pyramid.

    result = recipes.train_task("overfeat", out="runs")
    result["metrics"]   # {"map50": ..., "map50_windows": ..., "speedup": ..., ...}

Trains the shared WindowClassifier (_window_classifier.py: classifier, then box regressor),
converts it with models.overfeat.fc_to_conv and evaluates on the whole default test split
(500 scenes):

    map50            Overfeat: score maps at 7 scales, box regression, greedy merging
    map50_windows    the same cells without regression, per-class NMS: exactly the naive
                     sliding window over the same windows (same scores, tested), for all
                     500 scenes at Overfeat's cost
    speedup          the naive SlidingWindowDetector (every window cropped, resized and
                     classified) over the same windows (stride w/8) against Overfeat, both
                     timed in this run on the first SPEED_IMAGES test scenes
    naive_ms, ms_per_image (Overfeat), windows_per_image
"""
import os
import time

from ..metrics import voc_evaluate
from ..models.overfeat import Overfeat
from ..models.sliding_window import SlidingWindowDetector
from ._window_classifier import (load_window_classifier, save_window_classifier, test_scenes,
                                 train_window_classifier)
from .sliding_window import save_pictures

TASK = "overfeat"
# the README results row (benchmarks/results.py)
LABEL, DATA = "Overfeat (fc_to_conv, multi-scale, box regression)", "ShapesScenes"
ROW_METRICS = ("map50", "map50_windows", "speedup")
SPEED_IMAGES = 10     # test scenes both detectors are timed on (the naive one is the slow one)
DETECTOR = dict(score_thresh=0.05, merge_thresh=0.3)


def train(epochs=None, seed=0, out=None, progress=True):
    """Train the window classifier and its regressor, evaluate Overfeat and time it against
    the naive sliding window (see the module docstring)."""
    net, info = train_window_classifier(epochs, seed, progress)
    checkpoint = None
    if out is not None:
        os.makedirs(out, exist_ok=True)
        checkpoint = os.path.join(out, "overfeat-shapes.npz")
        save_window_classifier(net, checkpoint, TASK, info)
    metrics, dets, scenes = _evaluate(net)
    result = dict(metrics=metrics, seconds=info["seconds"], ms_per_image=metrics["ms_per_image"],
                  checkpoint=checkpoint, history=info["history"], pictures=[])
    if out is not None:
        result["pictures"] = [save_pictures(scenes, dets, os.path.join(
            out, "overfeat-shapes-detections.png"), title="overfeat")]
    return result


def evaluate(checkpoint):
    """The metrics of ``train`` (mAP@0.5 with and without regression, speed-up) from a
    checkpoint."""
    net, _ = load_window_classifier(checkpoint)
    return _evaluate(net)[0]


def _map50(dets, scenes):
    return voc_evaluate([d["boxes"] for d in dets], [d["labels"] for d in dets],
                        [d["scores"] for d in dets], scenes["boxes"], scenes["labels"])["map"]


def _evaluate(net):
    scenes = test_scenes()
    overfeat = Overfeat(net, **DETECTOR)
    windows_only = Overfeat(net, regression=False, merge="nms", **DETECTOR)
    start = time.perf_counter()
    cells = [overfeat.score_windows(image) for image in scenes["images"]]   # one pass each
    dets = [overfeat.detect(*c, image_size=(128, 128)) for c in cells]
    ms = (time.perf_counter() - start) * 1e3 / len(cells)
    plain = [windows_only.detect(*c) for c in cells]

    # the speed-up, in this run, over the same windows: naive first, then Overfeat
    images = scenes["images"][:SPEED_IMAGES]
    naive = SlidingWindowDetector(net, overfeat.window_sizes, stride=net.total_stride,
                                  score_thresh=overfeat.score_thresh,
                                  nms_thresh=overfeat.merge_thresh)
    start = time.perf_counter()
    naive(images)
    naive_ms = (time.perf_counter() - start) * 1e3 / len(images)
    start = time.perf_counter()
    overfeat(images)
    overfeat_ms = (time.perf_counter() - start) * 1e3 / len(images)
    metrics = dict(map50=_map50(dets, scenes), map50_windows=_map50(plain, scenes),
                   speedup=naive_ms / overfeat_ms, naive_ms=naive_ms, ms_per_image=ms,
                   windows_per_image=len(naive.windows(128, 128)))
    return metrics, dets, scenes
