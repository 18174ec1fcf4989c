"""Recipe: Faster R-CNN with an FPN (models/detection/faster_rcnn.py) on ShapesScenes.

``train`` (the default, ``schedule="joint"``) minimises the four losses together, the
"approximate joint training" of [Ren15] Sec. 3.2 (ii) that torchvision uses: one backbone,
one optimizer, the proposals of each step treated as constants. The machinery (data, flips,
AdamW or SGD with warm-up and cosine, COCO evaluation, checkpoint, picture) is _detection's.

``train(schedule="alternating")`` runs the paper's 4-step alternating training instead
(Sec. 3.2, "4-Step Alternating Training"), each step ``epochs`` epochs:

    1. train the RPN alone (backbone + RPN; the RPN losses only);
    2. train a *separate* detector, its own fresh backbone and detection head, on the
       proposals of the step-1 RPN (fixed; the detector losses only);
    3. take the step-2 backbone, freeze it, put the step-1 RPN head on it and fine-tune the
       RPN-only layers: now the two networks share the convolutional layers;
    4. keep the backbone and the RPN frozen and fine-tune the detection-only layers on the
       proposals of the step-3 RPN.

The step-4 model is one network with shared features, as the joint training's. The paper
ran it for its first results; joint training reaches about the same accuracy in less time
(Sec. 3.2 and 4), which is why it is the default here and in torchvision.

Measured with joint training on the 500 test scenes (seed 0; processor seconds of a
single-threaded run; 2000 training scenes unless said):

    SGD lr 0.02, 12 epochs                              mAP@0.5 0.757  AP 0.517   652 s
    SGD lr 0.02, 16 epochs                                      0.828     0.582   887 s
    SGD, 16 epochs, backbone widths 32/48/96/128                0.837     0.589  1055 s
    SGD, 12 epochs, canonical_scale 56 instead of 224           0.695     0.463   734 s
    AdamW lr 1e-3, no warm-up, 20 epochs                        0.892     0.653  1195 s

AdamW learns the classes faster: its classification loss falls below SGD's from the fourth
epoch on, and the remaining errors of the SGD models were mostly shapes given the wrong
class. The 16-epoch SGD model scores 0.899 on 400 of its own training scenes against 0.836 on
the test scenes, so the recipe spends about as many image passes on more scenes: AdamW, 3000
scenes x 14 epochs, trained by two processes that split each batch (``workers=2``,
training/data_parallel.py; batch norm then sees 4 images at a time). Measured on a quiet
2-core machine (``python benchmarks/detectors.py --out runs``): mAP@0.5 0.915, AP 0.680
(AP75 0.802), 749 s of training, 20 ms per image; one process with two threads ran the same
settings at 4.6 batches/s against 7.3 for the two workers.
"""
import os
import sys
import time

from .. import manual_seed, no_grad, nn, save
from ..data import ShapesScenes
from ..models.detection.faster_rcnn import FasterRCNN
from ..training import Trainer
from . import _detection
from .rcnn import pixel_statistics, save_pictures, scenes

TASK, STEM = "faster_rcnn", "faster_rcnn-shapes"
LABEL, DATA = "Faster R-CNN (FPN, joint training)", "ShapesScenes"
ROW_METRICS = ("mAP@0.5", "AP")
SETTINGS = dict(train_images=3000, epochs=14, images_per_batch=8, optimizer="adamw", lr=1e-3,
                momentum=0.9, weight_decay=1e-4, warmup_epochs=0, clip_grad_norm=10.0,
                workers=2, model=dict())
RPN_LOSSES = ("loss_objectness", "loss_rpn_box_reg")
DETECTOR_LOSSES = ("loss_classifier", "loss_box_reg")


def build_model(mean=None, std=None, **model):
    """The recipe's Faster R-CNN (untrained); ``model`` overrides SETTINGS["model"]."""
    return FasterRCNN(len(ShapesScenes.CLASSES), mean=mean, std=std,
                      **dict(SETTINGS["model"], **model))


def train(epochs=None, seed=0, out=None, progress=True, schedule="joint"):
    """Train (joint or 4-step alternating, module docstring), evaluate on the test split
    and save the checkpoint and picture under ``out``: the task-recipe dict."""
    if schedule == "joint":
        return _detection.train_detector(sys.modules[__name__], epochs, seed, out, progress)
    if schedule == "alternating":
        return train_alternating(epochs, seed, out, progress)
    raise ValueError(f"faster_rcnn.train: schedule must be 'joint' or 'alternating', got "
                     f"{schedule!r}")


def evaluate(checkpoint):
    return _detection.evaluate(sys.modules[__name__], checkpoint)


def load_model(checkpoint):
    return _detection.load_model(sys.modules[__name__], checkpoint)


# ---- the paper's 4-step alternating training ----------------------------------------------------
class _Stage(nn.Module):
    """One step of alternating training as a model for the Trainer: ``model`` with the
    parameters of ``frozen`` (its sub-modules) fixed and kept in eval mode (frozen batch
    norm too), returning only the losses named ``losses``; with ``proposer``, the proposals
    come from that (fixed) network's RPN instead of the model's own."""

    def __init__(self, model, losses, frozen=(), proposer=None):
        super().__init__()
        self.model, self.losses, self.frozen = model, losses, list(frozen)
        self.proposer = [] if proposer is None else [proposer]   # a list: not a sub-module
        frozen = {id(p) for module in self.frozen for p in module.parameters()}
        for p in model.parameters():
            p.requires_grad = id(p) not in frozen

    def train(self, mode=True):
        super().train(mode)
        for module in self.frozen:
            module.eval()
        return self

    def forward(self, images, targets):
        proposals = None
        for proposer in self.proposer:
            with no_grad():
                proposer.eval()
                x, _ = proposer.transform.prepare(images)
                features = list(proposer.features(x).values())
                proposals, _ = proposer.rpn(features, tuple(x.shape[2:]))
        losses = self.model(images, targets, proposals=proposals)
        return {k: losses[k] for k in self.losses}


def train_alternating(epochs=None, seed=0, out=None, progress=True, train_images=None,
                      test_images=None):
    """The 4-step alternating training (module docstring), ``epochs`` per step (default: the
    recipe's epochs / 4, at least 1), on the first ``train_images`` training scenes (default:
    the recipe's) and evaluated on the first ``test_images`` test scenes (default: all 500).
    Returns the task-recipe dict of the step-4 model (``model`` holds it)."""
    settings = dict(_detection.DEFAULTS, **SETTINGS)
    settings["epochs"] = max(SETTINGS["epochs"] // 4, 1) if epochs is None else epochs
    if train_images is not None:
        settings["train_images"] = train_images
    start, cpu = time.perf_counter(), _detection.cpu_time()
    _, train_scenes = scenes("train", settings["train_images"])
    statistics = pixel_statistics(train_scenes["images"])
    manual_seed(seed)
    rpn_net, detector = build_model(*statistics), build_model(*statistics)

    def fit(stage):
        opt, sched = _detection.make_optimizer(stage, settings)
        trainer = Trainer(stage, opt, loss_fn=None, scheduler=sched, progress=progress,
                          clip_grad_norm=settings["clip_grad_norm"], workers=settings["workers"])
        batches = _detection.DetectionBatches(train_scenes, settings["images_per_batch"],
                                              _detection.hflip, seed)
        return trainer.fit(batches, epochs=settings["epochs"], seed=seed)

    history = {1: fit(_Stage(rpn_net, RPN_LOSSES, frozen=[rpn_net.roi_heads]))}
    history[2] = fit(_Stage(detector, DETECTOR_LOSSES, frozen=[detector.rpn],
                            proposer=rpn_net))
    detector.rpn.head.load_state_dict(rpn_net.rpn.head.state_dict())
    history[3] = fit(_Stage(detector, RPN_LOSSES, frozen=[detector.backbone, detector.roi_heads]))
    history[4] = fit(_Stage(detector, DETECTOR_LOSSES, frozen=[detector.backbone, detector.rpn]))
    for p in detector.parameters():
        p.requires_grad = True
    seconds, cpu_seconds = time.perf_counter() - start, _detection.cpu_time() - cpu

    test_scenes = scenes("test")[1]
    metrics, predictions, ms = _detection.evaluate_model(detector, test_scenes, test_images)
    result = dict(metrics=metrics, seconds=seconds, cpu_seconds=cpu_seconds, ms_per_image=ms,
                  parameters=_detection.count_parameters(detector), checkpoint=None,
                  history=history, predictions=predictions, pictures=[], model=detector)
    if out is not None:                    # what train_detector writes, for load_model/eval
        os.makedirs(out, exist_ok=True)
        result["checkpoint"] = os.path.join(out, f"{STEM}-alternating.npz")
        meta = dict(task=TASK, schedule="alternating", train_images=settings["train_images"],
                    epochs=settings["epochs"], model=dict(SETTINGS["model"]))
        save({"model": detector.state_dict(), "meta": meta}, result["checkpoint"])
        result["pictures"] = [save_pictures(test_scenes, predictions, os.path.join(
            out, f"{STEM}-alternating-detections.png"), score_threshold=0.5)]
    return result
