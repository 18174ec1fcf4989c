"""Task "pose": ``models.PoseRegressor`` (DeepPose) on the ``StickFigures`` data set.

    result = recipes.train_task("pose", out="runs")
    result["metrics"]        # {"pck@0.1": ..., "pck@0.2": ...} on the test split

Data: 64x64 stick figures, 8,000 training images (the test split's default 500 for the
metrics), each channel standardised with the training images' statistics, and random
horizontal flips that swap left and right joints (``StickFigures.FLIP_INDICES``): a mirrored
person facing the camera has its right side on the image's left again, so the flip doubles
the poses without breaking the labels' convention.

Metric: PCK@0.1 over the visible joints of the test split, the reference size being the
longer side of the tight box of each figure's 14 true joints (``models.pose.pck``).
"""
import os

import numpy as np

from .. import data as D
from .. import manual_seed, tensor
from ..data import transforms as T
from ..data.stick_figures import FLIP_INDICES, SKELETON
from ..models.pose import PoseRegressor, normalize_joints, pck, pose_loss
from . import _single_image
from .classification import inference_ms

TASK = "pose"
# the README results row (benchmarks/results.py)
LABEL, DATA = "PoseRegressor (DeepPose, 14 joints)", "StickFigures"
# Chosen to pass the quality bar (PCK@0.1 >= 0.80) in a few minutes on 2 cores (measured,
# seed 0: PCK@0.1 0.865, PCK@0.2 0.979); tinyvision train pose --epochs N overrides the epochs.
SETTINGS = dict(image_size=64, train_images=8000, epochs=12, batch_size=64, lr=2e-3,
                widths=(16, 32, 64, 128), hidden=512, dropout=0.0)


class PoseData(D.Dataset):
    """Standardised images with targets (k, 3): normalised joints (Eq. 1 of [TS14]) and their
    visibility; ``flip`` mirrors an image with probability 1/2, swapping left and right."""

    def __init__(self, arrays, mean, std, flip=False):
        self.images = (arrays["images"] - mean) / std
        self.keypoints = arrays["keypoints"]                    # (N, k, 3) pixels
        self.size = self.images.shape[-1]
        self.flip = (T.RandomHorizontalFlip(0.5, keypoint_flip_indices=FLIP_INDICES)
                     if flip else None)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        image, target = self.images[i], {"keypoints": self.keypoints[i]}
        if self.flip is not None:
            image, target = self.flip(image, target)            # x -> S − x, then l <-> r
        return image, normalize_joints(target["keypoints"], self.size)


def load_data(settings, seed=0):
    """(train, test, raw test arrays, mean, std) for ``settings``."""
    size = settings["image_size"]
    train = D.StickFigures("train", n=settings["train_images"], image_size=size, seed=seed)
    train = train.arrays()
    test = D.StickFigures("test", image_size=size, seed=seed).arrays()
    mean = train["images"].mean(axis=(0, 2, 3), keepdims=True)
    std = train["images"].std(axis=(0, 2, 3), keepdims=True)
    return PoseData(train, mean, std, flip=True), PoseData(test, mean, std), test, mean, std


def build_model(settings):
    return PoseRegressor(len(D.StickFigures.JOINTS), 3, settings["image_size"],
                         tuple(settings["widths"]), settings["hidden"], settings["dropout"])


def pck_at_0_1(outputs, targets):
    """PCK@0.1 of a batch (the Trainer's validation metric). PCK does not change when all
    coordinates are shifted and scaled alike, so normalised joints give the same figure."""
    return pck(outputs, targets, alpha=0.1)[0]


def evaluate_model(model, test, batch_size=250):
    """{"pck@0.1", "pck@0.2"} of ``model`` on a ``PoseData`` split, over visible joints."""
    pred = np.concatenate([model.predict(tensor(test.images[i:i + batch_size]))
                           for i in range(0, len(test), batch_size)])
    return {f"pck@{a}": pck(pred, test.keypoints, alpha=a)[0] for a in (0.1, 0.2)}


def train(epochs=None, seed=0, out=None, progress=True, train_images=None):
    """Train the pose regressor; ``epochs`` and ``train_images`` override ``SETTINGS``.

    Returns a dict: metrics (pck@0.1, pck@0.2), per_joint (PCK@0.1 per joint), seconds,
    ms_per_image, history, settings, and checkpoint and pictures when ``out`` is a folder.
    """
    settings = dict(SETTINGS)
    for key, value in (("epochs", epochs), ("train_images", train_images)):
        if value is not None:
            settings[key] = value
    train_set, test_set, test_arrays, mean, std = load_data(settings, seed)
    manual_seed(seed)                                # the same initial weights every run
    model = build_model(settings)
    meta = dict(task=TASK, settings=settings, seed=seed, mean=mean.ravel().tolist(),
                std=std.ravel().tolist())
    history, seconds, checkpoint = _single_image.fit(model, train_set, test_set, settings,
                                                     pose_loss, pck_at_0_1, meta, out, TASK,
                                                     seed, progress)
    pred = model.predict(tensor(test_set.images))
    result = dict(metrics=evaluate_model(model, test_set),
                  per_joint=dict(zip(D.StickFigures.JOINTS,
                                     pck(pred, test_set.keypoints, 0.1)[1].tolist())),
                  seconds=seconds, ms_per_image=inference_ms(model, test_set), history=history,
                  settings=settings, checkpoint=checkpoint)
    if out is not None:
        result["pictures"] = save_pictures(model, test_set, test_arrays, history, out, TASK)
    return result


def evaluate(checkpoint):
    """{"pck@0.1", "pck@0.2"} on the test split, from a checkpoint ``train`` wrote."""
    model, meta, mean, std = _single_image.load_trained(checkpoint, build_model)
    test = D.StickFigures("test", image_size=meta["settings"]["image_size"],
                          seed=int(meta["seed"])).arrays()
    return evaluate_model(model, PoseData(test, mean, std))


def draw_pose(image, joints, visible=None, color=(255, 0, 0), scale=4):
    """An (S·scale, S·scale, 3) uint8 picture of ``image`` with a skeleton on top.

    ``joints`` (k, 2) pixels; right limbs are drawn in ``color``, left limbs lighter, the
    spine and head in white; joints with ``visible`` False get a hollow marker.
    """
    from PIL import Image, ImageDraw

    from .. import viz
    picture = viz.to_rgb_uint8(image).repeat(scale, 0).repeat(scale, 1)
    img = Image.fromarray(picture)
    draw = ImageDraw.Draw(img)
    xy = np.asarray(joints, dtype=np.float64) * scale
    light = tuple(int(c + (255 - c) * 0.6) for c in color)
    right, left = {0, 1, 2, 6, 7, 8}, {3, 4, 5, 9, 10, 11}
    for a, b in SKELETON:
        fill = color if {a, b} <= right else light if {a, b} <= left else (255, 255, 255)
        draw.line([tuple(xy[a]), tuple(xy[b])], fill=fill, width=2)
    for j, (x, y) in enumerate(xy):
        shown = visible is None or bool(visible[j])
        draw.ellipse([x - 2, y - 2, x + 2, y + 2], outline=(0, 0, 0),
                     fill=(255, 255, 0) if shown else None)
    return np.asarray(img)


def save_pictures(model, test, test_arrays, history, out, stem, n=16):
    """Each of ``n`` test images twice: true skeleton (green), predicted (red), captioned with
    how many of its visible joints are within 0.1 of the figure's size; and the curves."""
    from .. import viz
    pred = model.predict(tensor(test.images[:n]))
    cells, captions = [], []
    for i in range(n):
        kp = test.keypoints[i]
        cells.append(draw_pose(test_arrays["images"][i], kp[:, :2], kp[:, 2] > 0, (0, 200, 0)))
        cells.append(draw_pose(test_arrays["images"][i], pred[i], kp[:, 2] > 0, (230, 0, 0)))
        ok = pck(pred[i:i + 1], kp[None])[0] * (kp[:, 2] > 0).sum()
        captions += ["truth", f"{ok:.0f} of {(kp[:, 2] > 0).sum()} joints ok"]
    grid = os.path.join(out, f"{stem}-predictions.png")
    viz.save_png(viz.make_grid(cells, nrow=8, labels=captions), grid)
    curves = os.path.join(out, f"{stem}-history.png")
    viz.plot_history(history, curves)
    return [grid, curves]
