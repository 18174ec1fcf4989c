"""Task recipe "rcnn": R-CNN on ShapesScenes, trained in its three stages, scored by mAP@0.5.

    result = recipes.train_task("rcnn", out="runs")
    result["metrics"]["mAP@0.5"], result["ms_per_image"]

Data: the first ``train_images`` scenes of ShapesScenes' train split (128 x 128, 1 to 6
objects) and the default test split (500 scenes). Proposals: selective search ("fast" mode,
the first 300 boxes per image), computed once per split and kept in memory for the process
and, when ``out`` is a folder, in ``out/proposals-<split>-<n>.npz`` (``fast_rcnn`` reads
the same files: the two detectors see the same boxes).

Training (models/rcnn.py has the why of each stage):
  1. the CNN as a 6-way classifier of warped regions (32 per image and epoch, 25% with IoU
     >= 0.5, drawn afresh every epoch, flipped at random), SGD with momentum, cosine lr;
  2. features of the ground-truth boxes and of 48 random proposals per image; one linear
     SVM per class (hinge loss), features scaled to a mean L2 norm of 20 as the paper;
  3. ridge regression of the box offsets on the same proposals' pool5 features (IoU >= 0.6).

Times: ``seconds`` is the training's wall time, including the selective search of the
training scenes when this run computed it (``proposal_seconds`` says how long that took),
and ``cpu_seconds`` the processor time this process spent on it (on a busy machine the
closer guide to a quiet one's wall time);
``ms_per_image`` is R-CNN's detection time per test image without the proposals (the
paper's convention) and ``ms_per_image_with_proposals`` adds selective search's time.
"""
import os
import time

import numpy as np

from .. import functional as F
from .. import load, optim, save, tensor
from .. import viz
from ..data import ShapesScenes
from ..metrics import evaluate_detections
from ..models.rcnn import (RCNN, boxes_to_rois, fit_box_regressors, label_regions,
                           sample_regions, svm_targets, train_svms)
from ..models.selective_search import proposals_for, selective_search
from ..random import manual_seed
from ..training import Trainer

TASK, STEM = "rcnn", "rcnn-shapes"
# the README results row (benchmarks/results.py)
LABEL, DATA = "R-CNN (selective search, SVMs, box regression)", "ShapesScenes"
ROW_METRICS = ("mAP@0.5", "AP")
PROPOSALS = dict(mode="fast", max_proposals=300, seed=0)   # selective_search's arguments
SETTINGS = dict(train_images=1000, epochs=4, batch_size=128, lr=0.02, regions_per_image=32,
                svm_regions_per_image=48, svm_lambda=1e-3, svm_steps=300, reg_iou=0.6,
                reg_lambda=1000.0, model=dict(widths=(16, 32, 64, 64), hidden=256))
CLASS_NAMES = ["background", *ShapesScenes.CLASSES]      # by label: 0 is background

_proposals_in_memory = {}   # (repr(data), settings) -> list of arrays, for this process


# ---- data: scenes and their proposals (shared with the fast_rcnn recipe) ----------------------
def scenes(split, n=None):
    """ShapesScenes' ``split`` (its first ``n`` items) and its arrays (ShapesScenes.arrays)."""
    data = ShapesScenes(split, n=n)
    return data, data.arrays()


def scene_proposals(data, out=None, progress=False):
    """Selective-search proposals of every scene of ``data`` (PROPOSALS), computed once:
    read from memory or ``out``'s ``.npz`` when there. Returns (list of (K_i, 4) float32,
    seconds spent computing them in this call: 0 when they were cached)."""
    key = (repr(data), tuple(sorted(PROPOSALS.items())))
    if key in _proposals_in_memory:
        return _proposals_in_memory[key], 0.0
    cache = None
    if out is not None:
        os.makedirs(out, exist_ok=True)
        cache = os.path.join(out, f"proposals-{data.split}-{len(data)}.npz")
    start = time.perf_counter()
    found = cache is not None and _cache_holds(cache, data)
    proposals = proposals_for(data, cache=cache, progress=progress and not found, **PROPOSALS)
    seconds = 0.0 if found else time.perf_counter() - start
    _proposals_in_memory[key] = proposals
    return proposals, seconds


def _cache_holds(path, data):
    """Whether ``path`` holds proposals for ``data`` with PROPOSALS' settings."""
    try:
        meta = load(path).get("meta", {})
    except (OSError, ValueError):
        return False
    return meta.get("dataset") == repr(data) and meta.get("settings") == PROPOSALS


def proposal_ms(data, n=10):
    """Selective search's milliseconds per image, timed on the first ``n`` scenes."""
    n = min(n, len(data))
    start = time.perf_counter()
    for i in range(n):
        selective_search(data[i][0], **PROPOSALS)
    return (time.perf_counter() - start) * 1e3 / n


def pixel_statistics(images):
    """Per-channel mean and standard deviation of (N, 3, H, W) images."""
    return images.mean(axis=(0, 2, 3)), images.std(axis=(0, 2, 3))


def targets_of(arrays):
    """The per-image target dicts (boxes, labels) of ShapesScenes arrays."""
    return [{"boxes": b, "labels": lab} for b, lab in zip(arrays["boxes"], arrays["labels"])]


# ---- stage 1: fine-tuning batches -------------------------------------------------------------
class RegionCrops:
    """Stage 1's batches of warped regions, drawn afresh every epoch (``sample_regions`` per
    image), warped image by image (chunks of consecutive images are cheap to cut from),
    then shuffled into batches, each flipped left-right at random. ``generator`` is the
    Trainer-seedable random state. An epoch's crops sit in memory: 12 kB each."""

    def __init__(self, model, scenes, proposals, batch_size, per_image, seed=0, chunk=4096):
        self.model, self.proposals = model, proposals
        self.images = ((scenes["images"] - model.mean.data) / model.std.data).astype(np.float32)
        self.boxes, self.labels = scenes["boxes"], scenes["labels"]
        self.batch_size, self.per_image, self.chunk = batch_size, per_image, chunk
        self.generator = np.random.default_rng(seed)

    def __len__(self):
        return -(-len(self.images) * self.per_image // self.batch_size)

    def __iter__(self):
        rng = self.generator
        regions = [sample_regions(rng, p, b, lab, self.per_image)
                   for p, b, lab in zip(self.proposals, self.boxes, self.labels)]
        rois = boxes_to_rois([r[0] for r in regions])                  # in image order
        labels = np.concatenate([r[1] for r in regions])
        crops = np.concatenate([self.model.warp(self.images, rois[i:i + self.chunk],
                                                standardised=True)
                                for i in range(0, len(rois), self.chunk)])
        order = rng.permutation(len(labels))
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            batch = crops[idx]
            if rng.random() < 0.5:
                batch = batch[..., ::-1]
            yield tensor(np.ascontiguousarray(batch)), tensor(labels[idx])


# ---- stages 2 and 3: features, SVMs, box regressors -------------------------------------------
def region_features(model, scenes, proposals, rng, per_image):
    """The regions stages 2 and 3 learn from: every ground-truth box and ``per_image``
    random proposals of each scene, with their pool5 and fc7 features, SVM targets and
    matched boxes. Returns a dict of stacked arrays."""
    chosen, rows = [], dict(targets=[], iou=[], matched=[], labels=[], is_gt=[])
    for props, gt, gt_labels in zip(proposals, scenes["boxes"], scenes["labels"]):
        regions, iou, matched, labels = label_regions(props, gt, gt_labels)
        K = len(props)
        keep = np.concatenate([rng.permutation(K)[:per_image], np.arange(K, len(regions))])
        is_gt = keep >= K
        chosen.append(regions[keep])
        rows["targets"].append(svm_targets(regions[keep], is_gt, labels[keep], gt, gt_labels,
                                           model.num_classes))
        for name, value in (("iou", iou), ("matched", matched), ("labels", labels)):
            rows[name].append(value[keep])
        rows["is_gt"].append(is_gt)
    pool5, fc7 = model.features(scenes["images"], chosen)
    out = {name: np.concatenate(value) for name, value in rows.items()}
    out.update(boxes=np.concatenate(chosen), pool5=pool5, fc7=fc7)
    return out


def fit_svms_and_regressors(model, feats, settings):
    """Stage 2 and 3 on ``region_features``' output; sets the model's buffers."""
    scale = 20.0 / max(float(np.linalg.norm(feats["fc7"], axis=1).mean()), 1e-12)
    weight, bias = train_svms(feats["fc7"] * scale, feats["targets"], lam=settings["svm_lambda"],
                              steps=settings["svm_steps"])
    reg = (feats["iou"] >= settings["reg_iou"]) & ~feats["is_gt"]
    bbox_weight, bbox_bias = fit_box_regressors(
        feats["pool5"][reg], feats["boxes"][reg], feats["matched"][reg], feats["labels"][reg],
        model.num_classes, lam=settings["reg_lambda"])
    model.feature_scale.data[...] = scale
    model.svm_weight.data[...], model.svm_bias.data[...] = weight, bias
    model.bbox_weight.data[...], model.bbox_bias.data[...] = bbox_weight, bbox_bias
    return dict(svm_rows=int((feats["targets"] != 0).any(axis=1).sum()),
                regression_rows=int(reg.sum()))


# ---- the task ---------------------------------------------------------------------------------
def build_model(mean=None, std=None):
    """The recipe's R-CNN (untrained)."""
    return RCNN(len(ShapesScenes.CLASSES), mean=mean, std=std, proposal_settings=PROPOSALS,
                **SETTINGS["model"])


def train(epochs=None, seed=0, out=None, progress=True):
    """Train R-CNN's three stages and evaluate on the test split (see the module docstring).

    Returns the task-recipe dict (recipes/__init__.py) plus ``proposal_seconds``,
    ``ms_per_image_with_proposals``, ``history`` (stage 1) and ``stage_seconds``.
    """
    settings = dict(SETTINGS, epochs=SETTINGS["epochs"] if epochs is None else epochs)
    start, cpu = time.perf_counter(), time.process_time()
    data, train_scenes = scenes("train", settings["train_images"])
    proposals, proposal_seconds = scene_proposals(data, out, progress)
    manual_seed(seed)
    model = build_model(*pixel_statistics(train_scenes["images"]))

    stage = time.perf_counter()
    net = model.cnn
    opt = optim.SGD(net.parameters(), lr=settings["lr"], momentum=0.9, weight_decay=5e-4)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=settings["epochs"])
    batches = RegionCrops(model, train_scenes, proposals, settings["batch_size"],
                          settings["regions_per_image"], seed)
    history = Trainer(net, opt, loss_fn=F.cross_entropy, scheduler=sched,
                      progress=progress).fit(batches, epochs=settings["epochs"], seed=seed)
    finetune_seconds = time.perf_counter() - stage

    stage = time.perf_counter()
    feats = region_features(model, train_scenes, proposals, np.random.default_rng([seed, 2]),
                            settings["svm_regions_per_image"])
    rows = fit_svms_and_regressors(model, feats, settings)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    stage_seconds = dict(proposals=proposal_seconds, finetune=finetune_seconds,
                         svms_and_regressors=time.perf_counter() - stage)

    checkpoint = None
    if out is not None:
        checkpoint = os.path.join(out, f"{STEM}.npz")
        save({"model": model.state_dict(), "history": history,
              "meta": dict(task=TASK, seconds=seconds, train_images=settings["train_images"],
                           epochs=settings["epochs"], **rows)}, checkpoint)
    test, test_scenes = scenes("test")
    test_proposals, _ = scene_proposals(test, out, progress)
    metrics, predictions, ms = evaluate_model(model, test_scenes, test_proposals)
    search_ms = proposal_ms(test)
    result = dict(metrics=metrics, seconds=seconds, cpu_seconds=cpu_seconds, ms_per_image=ms,
                  ms_per_image_with_proposals=ms + search_ms, proposal_ms_per_image=search_ms,
                  proposal_seconds=proposal_seconds, stage_seconds=stage_seconds,
                  checkpoint=checkpoint, history=history, pictures=[], **rows)
    if out is not None:
        result["pictures"] = [save_pictures(test_scenes, predictions,
                                            os.path.join(out, f"{STEM}-detections.png"))]
    return result


def load_model(checkpoint):
    """The R-CNN saved by ``train``."""
    state = load(checkpoint)
    meta = state.get("meta", {})
    if meta.get("task") != TASK:
        raise ValueError(f"rcnn.load_model: {checkpoint} is not an R-CNN checkpoint (its meta "
                         f"names task {meta.get('task')!r})")
    model = build_model()
    model.load_state_dict(state["model"])
    return model.eval()


def evaluate(checkpoint):
    """mAP@0.5 and COCO figures of a saved R-CNN on the test split (500 scenes)."""
    test, test_scenes = scenes("test")
    return evaluate_model(load_model(checkpoint), test_scenes, scene_proposals(test)[0])[0]


def evaluate_model(model, test_scenes, proposals):
    """(metrics, predictions, ms per image without proposals) of a detector over scenes,
    one image at a time."""
    model.eval()
    start = time.perf_counter()
    predictions = [model(image[None], proposals=[p])[0]
                   for image, p in zip(test_scenes["images"], proposals)]
    ms = (time.perf_counter() - start) * 1e3 / len(predictions)
    figures = evaluate_detections(predictions, targets_of(test_scenes), len(CLASS_NAMES),
                                  test_scenes["images"].shape[2:])
    metrics = {"mAP@0.5": figures["mAP@0.5"], "AP": figures["AP"], "AP50": figures["AP50"],
               "AP75": figures["AP75"], "APs": figures["APs"], "APm": figures["APm"],
               "APl": figures["APl"]}
    return metrics, predictions, ms


def save_pictures(test_scenes, predictions, path, n=8, score_threshold=0.0):
    """Ground truth beside the detections (score above ``score_threshold``) of the first
    ``n`` test scenes (viz.compare_grid)."""
    truths = targets_of(test_scenes)[:n]
    preds = [{k: v.numpy() for k, v in p.items()} for p in predictions[:n]]
    viz.compare_grid(test_scenes["images"][:n], truths, preds, path=path,
                     class_names=CLASS_NAMES, score_threshold=score_threshold, scale=2)
    return path
