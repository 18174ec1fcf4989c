"""Task recipe "fast_rcnn": Fast R-CNN on ShapesScenes, trained end to end, scored by mAP@0.5,
and timed against R-CNN on the same test scenes.

    result = recipes.train_task("fast_rcnn", out="runs")
    result["metrics"]["mAP@0.5"], result["metrics"]["speedup_vs_rcnn"]

Data and proposals as the ``rcnn`` recipe's (the same training scenes, the same selective
search boxes, read from its files when ``out`` holds them). Training: minibatches of 2
scenes (flipped left-right at random, boxes and proposals with them), 64 RoIs sampled per
scene with 25% foreground, the multitask loss, SGD with momentum and a cosine learning rate,
through ``Trainer`` (the checkpoint is a Trainer checkpoint whose ``meta`` names the task).

Two choices differ from the paper's defaults, both measured on this task (same settings,
12 epochs, mAP@0.5 on the 500 test scenes, RoI align with 2x2 samples per bin): RoI align
instead of RoI pooling, 0.841 against 0.755 (a map cell is 8 px, the size of the smallest
shapes, and RoI pooling rounds every box to whole cells); and at test time fc6 and fc7
replaced by their truncated SVD (the paper's Sec. 3.1) keeping 32 of 256 and 16 of 256
singular values, 0.835 against 0.841, for FC layers 7.5x cheaper (the paper keeps 1024 and
256 of 4096). The recipe as it stands (adaptive sampling, SVD) gave 0.826.

Speed: both detectors run one test scene at a time on the first COMPARE_IMAGES scenes, on
the same proposals, in this run; the times exclude selective search (the paper's
comparison) and ``speedup_with_proposals`` adds it to both. The R-CNN timed is the one the
``rcnn`` recipe saved in ``out`` when it is there; otherwise an untrained R-CNN of the
recipe's architecture, whose SVMs are set to reject every box: it does all the work of
R-CNN except the NMS over its detections, so its time is a lower bound and the speed-up
an underestimate.
"""
import os
import time

import numpy as np

from .. import load, optim, tensor
from ..data import ShapesScenes
from ..models.fast_rcnn import FastRCNN
from ..random import manual_seed
from ..training import Trainer
from . import rcnn as rcnn_recipe
from .rcnn import (PROPOSALS, evaluate_model, pixel_statistics, proposal_ms, save_pictures,
                   scene_proposals, scenes)

TASK, STEM = "fast_rcnn", "fast_rcnn-shapes"
# the README results row (benchmarks/results.py)
LABEL, DATA = "Fast R-CNN (RoI align, SVD heads)", "ShapesScenes"
ROW_METRICS = ("mAP@0.5", "AP", "speedup_vs_rcnn")
SETTINGS = dict(train_images=1000, epochs=12, images_per_batch=2, lr=0.03,
                model=dict(widths=(16, 32, 64, 64), hidden=256, roi="align"),
                svd_ranks=(32, 16))    # fc6, fc7 at test time (Sec. 3.1); None: uncompressed
COMPARE_IMAGES = 50


class SceneBatches:
    """Minibatches of ``images_per_batch`` training scenes in a new order every epoch, each
    scene flipped left-right with probability 1/2 (image, boxes and proposals together):
    (images (N, 3, H, W) Tensor, targets: dicts of boxes, labels and proposals)."""

    def __init__(self, scenes, proposals, images_per_batch, seed=0):
        self.scenes, self.proposals, self.images_per_batch = scenes, proposals, images_per_batch
        self.generator = np.random.default_rng(seed)

    def __len__(self):
        return len(self.proposals) // self.images_per_batch

    def __iter__(self):
        rng, s = self.generator, self.scenes
        order = rng.permutation(len(self.proposals))
        for k in range(len(self)):
            images, targets = [], []
            for i in order[k * self.images_per_batch:(k + 1) * self.images_per_batch]:
                image, boxes, proposals = s["images"][i], s["boxes"][i], self.proposals[i]
                if rng.random() < 0.5:
                    width = image.shape[-1]
                    image, boxes, proposals = (image[..., ::-1], flip_boxes(boxes, width),
                                               flip_boxes(proposals, width))
                images.append(image)
                targets.append({"boxes": boxes, "labels": s["labels"][i], "proposals": proposals})
            yield tensor(np.ascontiguousarray(np.stack(images))), targets


def flip_boxes(boxes, width):
    """xyxy boxes of an image flipped left-right: x1' = W − x2, x2' = W − x1."""
    b = np.array(boxes, np.float32).reshape(-1, 4)
    b[:, [0, 2]] = width - b[:, [2, 0]]
    return b


def build_model(mean=None, std=None, **model):
    """The recipe's Fast R-CNN (untrained); ``model`` overrides SETTINGS["model"]."""
    return FastRCNN(len(ShapesScenes.CLASSES), mean=mean, std=std, proposal_settings=PROPOSALS,
                    **dict(SETTINGS["model"], **model))


def train(epochs=None, seed=0, out=None, progress=True):
    """Train Fast R-CNN, evaluate it on the test split and time it against R-CNN (see the
    module docstring). Returns the task-recipe dict (recipes/__init__.py) plus ``history``,
    ``proposal_seconds``, ``ms_per_image_with_proposals`` and ``speed`` (the comparison)."""
    settings = dict(SETTINGS, epochs=SETTINGS["epochs"] if epochs is None else epochs)
    start, cpu = time.perf_counter(), time.process_time()
    data, train_scenes = scenes("train", settings["train_images"])
    proposals, proposal_seconds = scene_proposals(data, out, progress)
    manual_seed(seed)
    model = build_model(*pixel_statistics(train_scenes["images"]))
    opt = optim.SGD(model.parameters(), lr=settings["lr"], momentum=0.9, weight_decay=5e-4)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=settings["epochs"])
    checkpoint = None
    if out is not None:
        os.makedirs(out, exist_ok=True)
        checkpoint = os.path.join(out, f"{STEM}.npz")
    meta = dict(task=TASK, train_images=settings["train_images"], svd_ranks=settings["svd_ranks"],
                **settings["model"])
    trainer = Trainer(model, opt, loss_fn=None, scheduler=sched, checkpoint=checkpoint,
                      meta=meta, progress=progress)
    batches = SceneBatches(train_scenes, proposals, settings["images_per_batch"], seed)
    history = trainer.fit(batches, epochs=settings["epochs"], seed=seed)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu

    test, test_scenes = scenes("test")
    test_proposals, _ = scene_proposals(test, out, progress)
    full = evaluate_model(model, test_scenes, test_proposals)[0]["mAP@0.5"]
    model = compress(model, settings["svd_ranks"])
    metrics, predictions, ms = evaluate_model(model, test_scenes, test_proposals)
    search_ms = proposal_ms(test)
    speed = compare_speed(model, test_scenes, test_proposals, out, search_ms)
    metrics.update({"mAP@0.5 without SVD": full, "speedup_vs_rcnn": speed["speedup"],
                    "speedup_with_proposals": speed["speedup_with_proposals"]})
    result = dict(metrics=metrics, seconds=seconds, cpu_seconds=cpu_seconds, ms_per_image=ms,
                  ms_per_image_with_proposals=ms + search_ms, proposal_ms_per_image=search_ms,
                  proposal_seconds=proposal_seconds, speed=speed, checkpoint=checkpoint,
                  history=history, pictures=[])
    if out is not None:
        result["pictures"] = [save_pictures(test_scenes, predictions,
                                            os.path.join(out, f"{STEM}-detections.png"),
                                            score_threshold=0.5)]
    return result


def compress(model, ranks):
    """The trained model with fc6 and fc7 replaced by their truncated SVD of ``ranks``
    (FastRCNN.compress_heads), or as it is when ``ranks`` is None."""
    return model if ranks is None else model.compress_heads(*ranks)


def compare_speed(model, test_scenes, proposals, out=None, search_ms=0.0, n=COMPARE_IMAGES):
    """Milliseconds per image of R-CNN and of ``model`` on the first ``n`` test scenes, one
    scene at a time, same proposals (see the module docstring): a dict with ``rcnn_ms``,
    ``fast_rcnn_ms``, ``speedup`` (their ratio), ``speedup_with_proposals`` (selective
    search's ``search_ms`` added to both), ``cpu_speedup`` (the ratio of processor times)
    and ``rcnn`` (which R-CNN was timed)."""
    saved = None if out is None else os.path.join(out, f"{rcnn_recipe.STEM}.npz")
    if saved is not None and os.path.exists(saved):
        rcnn, which = rcnn_recipe.load_model(saved), f"trained ({saved})"
    else:
        rcnn = rcnn_recipe.build_model(model.mean.data, model.std.data).eval()
        rcnn.svm_bias.data[...] = -1e3          # rejects every box: a lower bound on its time
        which = "untrained, same architecture (timing only)"
    images = test_scenes["images"][:n]
    detectors = {"rcnn": rcnn, "fast_rcnn": model}
    wall, cpu = dict.fromkeys(detectors, 0.0), dict.fromkeys(detectors, 0.0)
    for detector in detectors.values():
        detector.eval()(images[:1], proposals=proposals[:1])               # warm-up
    # NOTE: interleaved image by image, so that a change in the machine's load (other
    # processes) falls on both detectors alike.
    for image, p in zip(images, proposals):
        for name, detector in detectors.items():
            w0, c0 = time.perf_counter(), time.process_time()
            detector(image[None], proposals=[p])
            wall[name] += time.perf_counter() - w0
            cpu[name] += time.process_time() - c0
    rcnn_ms, fast_ms = (wall[k] * 1e3 / len(images) for k in detectors)
    return dict(rcnn_ms=rcnn_ms, fast_rcnn_ms=fast_ms, speedup=rcnn_ms / fast_ms,
                speedup_with_proposals=(rcnn_ms + search_ms) / (fast_ms + search_ms),
                cpu_speedup=cpu["rcnn"] / max(cpu["fast_rcnn"], 1e-9), images=len(images),
                rcnn=which)


def load_model(checkpoint):
    """The Fast R-CNN of a checkpoint ``train`` wrote (its meta gives the architecture), its
    heads compressed as the run deployed them (``svd_ranks``)."""
    state = load(checkpoint)
    meta = state.get("meta", {})
    if meta.get("task") != TASK:
        raise ValueError(f"fast_rcnn.load_model: {checkpoint} is not a Fast R-CNN checkpoint "
                         f"(its meta names task {meta.get('task')!r})")
    model = build_model(widths=tuple(meta["widths"]), hidden=int(meta["hidden"]), roi=meta["roi"])
    model.load_state_dict(state["model"])
    return compress(model, meta["svd_ranks"]).eval()


def evaluate(checkpoint):
    """mAP@0.5 and COCO figures of a saved Fast R-CNN on the test split (500 scenes)."""
    test, test_scenes = scenes("test")
    return evaluate_model(load_model(checkpoint), test_scenes, scene_proposals(test)[0])[0]
