"""The window classifier both window detectors share (sliding_window.py and overfeat.py).

Training data: crops of ShapesScenes detection scenes (128x128, 1 to 6 objects), resized to
the classifier's 32x32 input:

    positives    windows around each object: a square of side L·U(0.85, 1.45) (L the box's
                 long side), its centre moved by up to ±0.2 side; kept when its IoU with
                 the object's *square* box (side L, same centre) is >= 0.5 and no other
                 object's is higher. Label: the object's class (1..5); regression target:
                 where the object's tight box lies in the window (overfeat.encode_offsets)
    negatives    windows whose IoU with every object's square box is < 0.3: 3/8 anywhere
                 (side 10 to 128 px), 3/8 near an object (shifted, too big or too small:
                 the near misses a detector must score low), 2/8 inside an object (a
                 part of a big shape must not pass for a small one). Label: 0, background
    hard         after the first epochs, the background windows the net scores highest
                 on 500 training scenes (``mine_hard_negatives``: bootstrapping)

Why square boxes: every window is square, so a thin object's tight box never reaches IoU
0.5 with one; matching windows against the square around the object labels the window that
frames it well. The regression head then learns the tight box inside.

Two stages, as in Overfeat (Sec. 4.2 of the paper): the classifier (convs + FC) is trained
with cross-entropy on all crops; then the regression head is trained with smooth-L1 on the
positives' frozen conv features (computed once, so that stage costs seconds).

What each part bought (Overfeat mAP@0.5 on 100 test scenes, false detections scoring
>= 0.5 per scene): fixed crops, 8 epochs 0.65; fresh crops every epoch, 12 epochs 0.79;
+ negatives inside objects 0.83 (11.8 false); + hard negatives 0.89 (5.4 false).
"""
import time

import numpy as np

from .. import data as D
from .. import functional as F
from .. import load, no_grad, optim, save, tensor
from ..metrics import voc_evaluate
from ..models.overfeat import encode_offsets
from ..models.sliding_window import WindowClassifier, crop_and_resize
from ..ops import box_iou
from ..training import Trainer

# The default train split (2,000 scenes, ~7,000 objects) gives ~30,000 fresh crops an epoch,
# about half of them background. 12 epochs of Adam with a cosine schedule, the last 4 with
# ~3,000 mined hard negatives added (validation crop accuracy ~91 %, on crops that include
# the harder negatives inside objects); 15 cheap epochs for the regressor on frozen features.
SETTINGS = dict(train_images=2000, positives_per_object=2, negatives_per_image=8,
                negative_mix=(3, 3, 2), hard_epochs=4, mining_images=500, hard_per_image=8,
                epochs=12, batch_size=64, lr=2e-3, regressor_epochs=15, regressor_lr=2e-3)
WINDOW = 32


def square_boxes(boxes):
    """The square of side max(w, h) around each box's centre: (K, 4) -> (K, 4)."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    c = (b[:, :2] + b[:, 2:]) / 2
    half = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])[:, None] / 2
    return np.concatenate([c - half, c + half], axis=1)


def _inside(centre, side, size):
    """Square windows (K, 4) of the given centres and sides, moved inside the image."""
    side = np.clip(side, 10, size)
    x1y1 = np.clip(centre - side[:, None] / 2, 0, size - side[:, None])
    return np.concatenate([x1y1, x1y1 + side[:, None]], axis=1)


def sample_windows(rng, boxes, labels, size, positives_per_object, negatives, mix=(3, 3, 2)):
    """Training windows of one scene (see the module docstring).

    Returns windows (K, 4), labels (K,) in 0..C, targets (K, 4) (zeros for background).
    """
    sq = square_boxes(boxes)
    long_side = sq[:, 2] - sq[:, 0]
    centre = (sq[:, :2] + sq[:, 2:]) / 2
    tries = 8
    # positives: `tries` candidates per object, keep the first few that match it
    obj = np.repeat(np.arange(len(boxes)), tries)
    side = long_side[obj] * np.exp(rng.uniform(np.log(0.85), np.log(1.45), len(obj)))
    cand = _inside(centre[obj] + rng.uniform(-0.2, 0.2, (len(obj), 2)) * side[:, None],
                   side, size)
    iou = box_iou(cand, sq).data                                                 # (K, M)
    good = (iou[np.arange(len(obj)), obj] >= 0.5) & (iou.argmax(1) == obj)
    take = np.zeros(len(obj), bool)
    for k in range(len(boxes)):
        take[np.flatnonzero(good & (obj == k))[:positives_per_object]] = True
    pos, pos_obj = cand[take], obj[take]
    # negatives: anywhere, near an object, inside an object (its parts), mixed as `mix` says
    n = 4 * negatives
    side = np.exp(rng.uniform(np.log(10), np.log(size), n))
    anywhere = _inside(rng.uniform(0, size, (n, 2)), side, size)
    k = rng.integers(0, len(boxes), n)
    side = long_side[k] * np.exp(rng.uniform(np.log(0.4), np.log(2.5), n))
    near = _inside(centre[k] + rng.uniform(-0.8, 0.8, (n, 2)) * side[:, None], side, size)
    k = rng.integers(0, len(boxes), n)
    side = long_side[k] * np.exp(rng.uniform(np.log(0.2), np.log(0.6), n))
    part = _inside(centre[k] + rng.uniform(-0.35, 0.35, (n, 2)) * long_side[k, None], side, size)
    counts = negatives * np.asarray(mix) // sum(mix)
    counts[0] += negatives - counts.sum()
    neg = []
    for cand, count in zip((anywhere, near, part), counts):
        low = box_iou(cand, sq).data.max(axis=1) < 0.3
        neg.append(cand[low][:count])
    neg = np.concatenate(neg)
    windows = np.concatenate([pos, neg])
    targets = np.zeros((len(windows), 4))
    targets[:len(pos)] = encode_offsets(pos, boxes[pos_obj])
    window_labels = np.concatenate([labels[pos_obj], np.zeros(len(neg), np.int64)])
    return windows, window_labels, targets


def make_crops(scenes, rng, positives_per_object, negatives_per_image, mix=(3, 3, 2)):
    """Crops of every scene of ``scenes`` (ShapesScenes.arrays() dict), windows drawn with
    ``rng``: a dict of ``crops`` (K, 3, 32, 32) float32, ``labels`` (K,) int64 0..C,
    ``targets`` (K, 4) float32."""
    crops, labels, targets = [], [], []
    for image, boxes, lab in zip(scenes["images"], scenes["boxes"], scenes["labels"]):
        w, y, t = sample_windows(rng, boxes, lab, image.shape[-1], positives_per_object,
                                 negatives_per_image, mix)
        crops.append(crop_and_resize(image, w, WINDOW)), labels.append(y), targets.append(t)
    return {"crops": np.concatenate(crops).astype(np.float32),
            "labels": np.concatenate(labels), "targets": np.concatenate(targets).astype(np.float32)}


class WindowCrops:
    """Training batches of crops, drawn afresh every epoch from the same scenes.

    Each pass (``iter``) samples new windows in every scene (``sample_windows``), shuffles
    them, and turns each batch by one of the 8 symmetries of the square (flips and 90°
    turns: a rotated shape keeps its class). Fresh windows every epoch show the classifier
    many more backgrounds and framings than one fixed set would, at the cost of cropping
    (~3 s per epoch for 2,000 scenes). ``generator`` is the Trainer-seedable random state.
    """

    def __init__(self, scenes, batch_size, positives_per_object, negatives_per_image,
                 mix=(3, 3, 2), seed=0):
        self.scenes, self.batch_size = scenes, batch_size
        self.counts = (positives_per_object, negatives_per_image, mix)
        self.generator = np.random.default_rng(seed)
        self.hard_negatives = np.zeros((0, 3, WINDOW, WINDOW), np.float32)   # mined, added

    def sample(self):
        """One epoch's crops: dict of ``crops``, ``labels``, ``targets`` (see make_crops),
        the hard negatives (``mine_hard_negatives``) last."""
        d = make_crops(self.scenes, self.generator, *self.counts)
        k = len(self.hard_negatives)
        return {"crops": np.concatenate([d["crops"], self.hard_negatives]),
                "labels": np.concatenate([d["labels"], np.zeros(k, np.int64)]),
                "targets": np.concatenate([d["targets"], np.zeros((k, 4), np.float32)])}

    def __len__(self):
        """Batches per epoch, at most (the progress bar's total): every object gives up to
        ``positives_per_object`` crops and every scene ``negatives_per_image``."""
        objects = sum(len(b) for b in self.scenes["boxes"])
        crops = (objects * self.counts[0] + len(self.scenes["boxes"]) * self.counts[1]
                 + len(self.hard_negatives))
        return -(-crops // self.batch_size)

    def __iter__(self):
        epoch = self.sample()
        order = self.generator.permutation(len(epoch["labels"]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            crops = np.rot90(epoch["crops"][idx], int(self.generator.integers(4)), axes=(2, 3))
            if self.generator.random() < 0.5:
                crops = crops[..., ::-1]
            yield tensor(np.ascontiguousarray(crops)), tensor(epoch["labels"][idx])


def mine_hard_negatives(net, scenes, per_image, score_thresh=0.5):
    """Background windows the classifier takes for shapes: the "hard negatives".

    Runs the net densely over each scene (Overfeat's pass: every window of the detector at
    once), keeps the windows whose IoU with every object's square box is < 0.3 but whose
    best shape score is >= ``score_thresh``, and returns crops of the ``per_image`` highest
    of each scene (NMS at IoU 0.5 first, so that they are not all one spot): (K, 3, 32, 32).
    Training on them (bootstrapping, as in Dalal–Triggs and R-CNN) teaches the classifier
    what the random negatives seldom show: parts of shapes, shapes cut by the window, pairs.
    """
    from ..models.overfeat import Overfeat
    from ..ops import nms
    overfeat = Overfeat(net)
    crops = []
    for image, boxes in zip(scenes["images"], scenes["boxes"]):
        windows, _, probs = overfeat.score_windows(image)
        score = probs[:, 1:].max(axis=1)
        hard = (box_iou(windows, square_boxes(boxes)).data.max(axis=1) < 0.3) \
            & (score >= score_thresh)
        windows, score = windows[hard], score[hard]
        keep = nms(windows, score, 0.5).data[:per_image]
        if len(keep):
            crops.append(crop_and_resize(image, windows[keep], WINDOW))
    return np.concatenate(crops) if crops else np.zeros((0, 3, WINDOW, WINDOW), np.float32)


def train_window_classifier(epochs=None, seed=0, progress=True, **overrides):
    """Train a WindowClassifier on ShapesScenes crops (classifier, then regression head).

    Returns (model, info): info holds ``seconds``, the crop counts, ``val_accuracy`` (crop
    classification on the val split), ``history`` (classifier) and ``regressor_history``.
    """
    settings = dict(SETTINGS, **overrides)
    if epochs is not None:
        settings["epochs"] = epochs
    start = time.perf_counter()
    scenes = D.ShapesScenes("train", n=settings["train_images"], seed=seed).arrays()
    counts = (settings["positives_per_object"], settings["negatives_per_image"],
              settings["negative_mix"])
    val = make_crops(D.ShapesScenes("val", n=200, seed=seed).arrays(),
                     np.random.default_rng([seed, 1]), *counts)
    mean = scenes["images"].mean(axis=(0, 2, 3))
    std = scenes["images"].std(axis=(0, 2, 3))

    from ..random import manual_seed
    manual_seed(seed)
    net = WindowClassifier(len(D.ShapesScenes.CLASSES), mean=mean, std=std)
    # stage 1: features + classifier, cross-entropy on every crop, fresh crops every epoch
    params = list(net.features.parameters()) + list(net.classifier.parameters())
    opt = optim.Adam(params, lr=settings["lr"])
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=settings["epochs"])
    train = WindowCrops(scenes, settings["batch_size"], *counts, seed=seed)
    val_loader = D.DataLoader(D.TensorDataset(val["crops"], val["labels"]), batch_size=512)
    trainer = Trainer(net, opt, scheduler=sched, progress=progress)
    trainer.fit(train, val_loader, epochs=max(1, settings["epochs"] - settings["hard_epochs"]),
                seed=seed)
    if settings["epochs"] > trainer.epoch:
        # bootstrapping: the last epochs also see the background windows the net gets wrong
        mined = {k: v[:settings["mining_images"]] for k, v in scenes.items()}
        train.hard_negatives = mine_hard_negatives(net, mined, settings["hard_per_image"])
        trainer.fit(train, val_loader, epochs=settings["epochs"])
    history = trainer.history

    # stage 2: the regression head on the frozen features of positive crops (one fresh draw)
    crops = train.sample()
    reg_history = train_regressor(net, crops, val, settings, seed, progress)
    net.eval()
    info = dict(seconds=time.perf_counter() - start, crops_per_epoch=len(crops["labels"]),
                hard_negatives=len(train.hard_negatives),
                positive_crops=int((crops["labels"] > 0).sum()),
                val_accuracy=history["val_accuracy"][-1], history=history,
                regressor_history=reg_history, settings=settings)
    return net, info


def train_regressor(net, crops, val, settings, seed, progress):
    """Fit ``net.regressor`` to the positive crops' offsets, on their conv features computed
    once with the trained (frozen) convolutions. Returns the Trainer's history."""
    def features(images):
        with no_grad():
            return np.concatenate([net.features(net.normalize(tensor(images[i:i + 512]))).data
                                   for i in range(0, len(images), 512)])

    def loader(d, **kw):
        pos = d["labels"] > 0
        return D.DataLoader(D.TensorDataset(features(d["crops"][pos]), d["targets"][pos]), **kw)

    opt = optim.Adam(net.regressor.parameters(), lr=settings["regressor_lr"])
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=settings["regressor_epochs"])
    trainer = Trainer(net.regressor, opt, loss_fn=_box_loss, metric_fn=None, scheduler=sched,
                      progress=progress)
    return trainer.fit(loader(crops, batch_size=128, shuffle=True, generator=seed),
                       loader(val, batch_size=512), epochs=settings["regressor_epochs"],
                       seed=seed)


def _box_loss(outputs, targets):
    """Smooth-L1 between predicted and true offsets (in window sides, so beta = 0.1)."""
    return F.smooth_l1_loss(outputs, targets, beta=0.1)


def save_window_classifier(net, path, task, info):
    """Write the model and a ``meta`` naming ``task`` (``tinyvision eval`` dispatches on it)."""
    meta = dict(task=task, num_classes=net.num_classes, window=net.window,
                seconds=info["seconds"], val_accuracy=info["val_accuracy"])
    save({"model": net.state_dict(), "meta": meta, "history": info["history"]}, path)


def load_window_classifier(path):
    """The WindowClassifier saved by ``save_window_classifier``, and its meta."""
    state = load(path)
    meta = state["meta"]
    net = WindowClassifier(int(meta["num_classes"]), window=int(meta["window"]))
    net.load_state_dict(state["model"])
    net.eval()
    return net, meta


def test_scenes(n=None):
    """The default test split (500 scenes), or its first ``n``, as arrays."""
    return D.ShapesScenes("test", n=n).arrays()


def evaluate_detector(detector, scenes):
    """mAP@0.5 (VOC, all-point) of ``detector`` over ``scenes`` and the mean milliseconds per
    image it took. Returns (map50, ms_per_image, detections)."""
    start = time.perf_counter()
    dets = detector(scenes["images"])
    ms = (time.perf_counter() - start) * 1e3 / len(scenes["images"])
    result = voc_evaluate([d["boxes"] for d in dets], [d["labels"] for d in dets],
                          [d["scores"] for d in dets], scenes["boxes"], scenes["labels"])
    return result["map"], ms, dets
