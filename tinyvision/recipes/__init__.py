"""Recipes: a model, a data set and the settings that train it to its quality bar.

One place that knows how each experiment is run, so the CLI (``tinyvision train``), the
examples, the slow quality tests and ``benchmarks/results.py`` all run the same thing.

Classifiers (any model of ``tinyvision.models.CLASSIFIERS`` on a data set of ``DATASETS``)
are in classification.py:

    result = recipes.train_classifier("lenet5", "digits", out="runs")
    result["test_accuracy"], result["seconds"]

Every other system of the zoo (localization, pose, detectors, ...) has a task recipe: a
module here, listed in ``TASKS`` under the name ``tinyvision train NAME`` takes, with

    train(epochs=None, seed=0, out=None, progress=True) -> dict
        metrics (a dict of the quality figures, e.g. {"accuracy": ..., "mean_iou": ...}),
        seconds (training), ms_per_image (inference), checkpoint and pictures (paths, when
        ``out`` is a folder), and anything else the example script wants to show
    evaluate(checkpoint) -> dict of metrics on the test split, from a checkpoint ``train``
        wrote (its ``meta`` names the task)
    LABEL, DATA: the model and the data as the README's results table names them
        (benchmarks/results.py makes one row per task), and optionally ROW_METRICS, the
        names of the metrics the row shows

    result = recipes.train_task("localization", out="runs")
"""
import importlib

from .classification import (DATASETS, DEFAULT, SETTINGS, build_classifier, evaluate,
                             inference_ms, load_classification, save_pictures, train_classifier)

# name -> module of this package. Each task adds its own line.
TASKS = {
    "localization": "localization",
    "pose": "pose",
    "sliding_window": "sliding_window",
    "overfeat": "overfeat",
    "selective_search": "selective_search",
    "rcnn": "rcnn",
    "fast_rcnn": "fast_rcnn",
    "faster_rcnn": "faster_rcnn",
    "yolo": "yolo",
    "ssd": "ssd",
    "retinanet": "retinanet",
}


def task(name):
    """The recipe module of task ``name`` (see the module docstring)."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(sorted(TASKS))}")
    return importlib.import_module(f".{TASKS[name]}", __name__)


def train_task(name, **kwargs):
    """Train task ``name`` with its recipe; see the module docstring for the result."""
    return task(name).train(**kwargs)
