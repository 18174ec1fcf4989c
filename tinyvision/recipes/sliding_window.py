"""Task recipe "sliding_window": a window classifier run over every window, then NMS.

    result = recipes.train_task("sliding_window", out="runs")
    result["metrics"]   # {"map50": ..., "windows_per_image": ..., "crop_accuracy": ...}

Trains the shared WindowClassifier on ShapesScenes crops (_window_classifier.py), then
runs models.SlidingWindowDetector over the first EVAL_IMAGES scenes of the default test
split: every window cropped, resized and classified on its own, as the naive method does.
Evaluating all 500 scenes this way would take tens of minutes on 2 cores (that cost is the
point of Overfeat, task "overfeat", which gives the same windows' scores in one pass and
evaluates the whole split); the windows are also sparser than Overfeat's (STRIDE 8 in the
classifier's input pixels, w/4 in the image, against Overfeat's w/8).
"""
import os

from .. import viz
from ..data import ShapesScenes
from ..models.sliding_window import SlidingWindowDetector
from ._window_classifier import (evaluate_detector, load_window_classifier,
                                 save_window_classifier, test_scenes, train_window_classifier)

TASK = "sliding_window"
# the README results row (benchmarks/results.py)
LABEL, DATA = "sliding window (window classifier + NMS)", "ShapesScenes, 100 test scenes"
EVAL_IMAGES = 100      # first scenes of the test split the naive detector is evaluated on
STRIDE = 8             # window step in the classifier's 32 px input: w/4 of a w-pixel window
DETECTOR = dict(stride=STRIDE, score_thresh=0.05, nms_thresh=0.3)


def build_detector(classifier, **overrides):
    """The recipe's SlidingWindowDetector around a trained WindowClassifier."""
    return SlidingWindowDetector(classifier, **dict(DETECTOR, **overrides))


def train(epochs=None, seed=0, out=None, progress=True):
    """Train the window classifier and evaluate the sliding-window detector (see the module
    docstring). Returns the task-recipe dict (recipes/__init__.py) plus ``windows_per_image``
    and ``eval_images``."""
    net, info = train_window_classifier(epochs, seed, progress)
    checkpoint = None
    if out is not None:
        os.makedirs(out, exist_ok=True)
        checkpoint = os.path.join(out, "sliding_window-shapes.npz")
        save_window_classifier(net, checkpoint, TASK, info)
    metrics, ms, dets, scenes = _evaluate(net)
    result = dict(metrics=metrics, seconds=info["seconds"], ms_per_image=ms,
                  checkpoint=checkpoint, eval_images=EVAL_IMAGES, history=info["history"],
                  windows_per_image=metrics["windows_per_image"], pictures=[])
    if out is not None:
        result["pictures"] = [save_pictures(scenes, dets, os.path.join(
            out, "sliding_window-shapes-detections.png"))]
    return result


def evaluate(checkpoint):
    """mAP@0.5 of the sliding-window detector on the first EVAL_IMAGES test scenes."""
    net, _ = load_window_classifier(checkpoint)
    return _evaluate(net)[0]


def _evaluate(net):
    detector = build_detector(net)
    scenes = test_scenes(EVAL_IMAGES)
    map50, ms, dets = evaluate_detector(detector, scenes)
    metrics = dict(map50=map50, windows_per_image=len(detector.windows(128, 128)))
    return metrics, ms, dets, scenes


def save_pictures(scenes, dets, path, n=8, title="sliding window"):
    """Ground truth beside the detections (score >= 0.5) of the first ``n`` test scenes."""
    cells, labels = [], []
    names = ("background",) + ShapesScenes.CLASSES
    for k in range(n):
        image = scenes["images"][k]
        cells.append(viz.draw_boxes(image, scenes["boxes"][k], scenes["labels"][k],
                                    class_names=names))
        d = dets[k]
        cells.append(viz.draw_detections(image, d["boxes"], d["labels"], d["scores"],
                                         class_names=names, score_threshold=0.5))
        labels += ["truth", title]
    viz.save_image_grid(cells, path, nrow=4, labels=labels, scale=2)
    return path
