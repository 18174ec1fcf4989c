"""What the recipes of the end-to-end detectors share (Faster R-CNN, YOLO v1, SSD, RetinaNet):
the data, the training loop, the COCO-style evaluation, the pictures and the checkpoints.

A detector's recipe module is then its settings and its model::

    TASK, STEM = "ssd", "ssd-shapes"
    SETTINGS = dict(train_images=2000, epochs=20, images_per_batch=8, optimizer="sgd",
                    lr=0.02, momentum=0.9, weight_decay=5e-4, clip_grad_norm=10.0,
                    model=dict(...))                 # the detector's keyword arguments

    def build_model(mean=None, std=None, **model): return SSD(5, mean=mean, std=std, ...)
    def train(epochs=None, seed=0, out=None, progress=True):
        return _detection.train_detector(sys.modules[__name__], epochs, seed, out, progress)
    def evaluate(checkpoint): return _detection.evaluate(sys.modules[__name__], checkpoint)

Data: the first ``train_images`` scenes of ShapesScenes' train split (128 x 128, 1 to 6
objects, 5 classes; labels 1..5 in the targets) and the default test split (500 scenes).
Training: minibatches of ``images_per_batch`` scenes in a new order every epoch, each passed
through the module's ``augment(rng, image, target)`` when it has one (default: a horizontal
flip with probability 1/2), the model's own losses summed (``Trainer(loss_fn=None)``), SGD
with momentum or AdamW, a cosine learning rate over the epochs after a linear warm-up in the
first (``warmup_epochs``, per epoch), optional gradient-norm clipping.

Evaluation: ``evaluate_detections`` (COCO's AP@[.5:.95], AP50, AP75, by area, and VOC's
mAP@0.5) on the test split, the detector run one image at a time; ``ms_per_image`` is that
time. The checkpoint (``out/<STEM>.npz``) is a Trainer checkpoint whose ``meta`` names the
task and the model's keyword arguments, so ``tinyvision eval`` rebuilds it.
"""
import os
import time

import numpy as np

from .. import load, optim, tensor
from ..random import manual_seed
from ..training import Trainer
from .rcnn import pixel_statistics, save_pictures, scenes, targets_of
from ..metrics import evaluate_detections
from ..data import ShapesScenes

NUM_CLASSES = len(ShapesScenes.CLASSES)
METRICS = ("mAP@0.5", "AP", "AP50", "AP75", "APs", "APm", "APl")
DEFAULTS = dict(train_images=2000, epochs=12, images_per_batch=8, optimizer="sgd", lr=0.02,
                momentum=0.9, weight_decay=1e-4, warmup_epochs=0, clip_grad_norm=None,
                workers=1)   # workers: processes sharing each batch (training/data_parallel.py)


def hflip(rng, image, target, p=0.5):
    """A left-right flip with probability ``p`` of a (3, H, W) image and its target's boxes."""
    if rng.random() >= p:
        return image, target
    width = image.shape[-1]
    boxes = np.array(target["boxes"], np.float32).reshape(-1, 4)
    boxes[:, [0, 2]] = width - boxes[:, [2, 0]]
    return image[..., ::-1], dict(target, boxes=boxes)


def dihedral(rng, image, target):
    """One of the 8 symmetries of the square, drawn uniformly, applied to a (3, H, W) image and
    its target's boxes: a transpose (swap x and y), a left-right and an up-down flip, each
    with probability 1/2. ShapesScenes draws every shape at a uniform random angle on an
    isotropic background, so each of the 8 maps a scene to an equally likely scene with the
    same labels, and the boxes map exactly (an axis-aligned box stays axis-aligned)."""
    boxes = np.array(target["boxes"], np.float32).reshape(-1, 4)
    if rng.random() < 0.5:                                   # (x, y) -> (y, x)
        image, boxes = image.transpose(0, 2, 1), boxes[:, [1, 0, 3, 2]]
    image, target = hflip(rng, image, dict(target, boxes=boxes))    # x -> W − x
    boxes = target["boxes"]
    if rng.random() < 0.5:                                   # y -> H − y
        image, boxes[:, [1, 3]] = image[..., ::-1, :], image.shape[-2] - boxes[:, [3, 1]]
    return image, dict(target, boxes=boxes)


class DetectionBatches:
    """Minibatches of ``images_per_batch`` scenes in a new order every epoch, each scene through
    ``augment(rng, image, target)``: (images (N, 3, H, W) Tensor, list of target dicts).
    ``generator`` is the state Trainer.fit(seed=...) reseeds."""

    def __init__(self, scene_arrays, images_per_batch, augment=hflip, seed=0):
        self.scenes, self.images_per_batch, self.augment = scene_arrays, images_per_batch, augment
        self.generator = np.random.default_rng(seed)

    def __len__(self):
        return len(self.scenes["images"]) // self.images_per_batch

    def __iter__(self):
        rng, s = self.generator, self.scenes
        order = rng.permutation(len(s["images"]))
        for k in range(len(self)):
            images, targets = [], []
            for i in order[k * self.images_per_batch:(k + 1) * self.images_per_batch]:
                image, target = s["images"][i], {"boxes": s["boxes"][i], "labels": s["labels"][i]}
                if self.augment is not None:
                    image, target = self.augment(rng, image, target)
                images.append(image)
                targets.append(target)
            yield tensor(np.ascontiguousarray(np.stack(images), np.float32)), targets


def make_optimizer(model, settings):
    """SGD with momentum (``optimizer="sgd"``) or AdamW, and the schedule: a linear warm-up
    over the first ``warmup_epochs`` (from 1/10 of lr) then a cosine decay to 0."""
    params = [p for p in model.parameters() if p.requires_grad]
    if settings["optimizer"] == "sgd":
        opt = optim.SGD(params, lr=settings["lr"], momentum=settings["momentum"],
                        weight_decay=settings["weight_decay"])
    elif settings["optimizer"] == "adamw":
        opt = optim.AdamW(params, lr=settings["lr"], weight_decay=settings["weight_decay"])
    else:
        raise ValueError(f"recipe: optimizer must be 'sgd' or 'adamw', got {settings['optimizer']!r}")
    epochs, warm = settings["epochs"], settings["warmup_epochs"]

    def factor(epoch):                     # the multiplier of lr in epoch ``epoch`` (from 0)
        if epoch < warm:
            return float(0.1 + 0.9 * epoch / warm)
        return float(0.5 * (1 + np.cos(np.pi * (epoch - warm) / max(epochs - warm, 1))))

    return opt, optim.lr_scheduler.LambdaLR(opt, factor)


def train_detector(recipe, epochs=None, seed=0, out=None, progress=True):
    """Train ``recipe``'s detector (its SETTINGS, build_model and optional augment), evaluate
    it on the test split and, with ``out``, save its checkpoint and a picture of its
    detections beside the ground truth. Returns the task-recipe dict (recipes/__init__.py)
    plus ``history``, ``cpu_seconds`` and ``parameters`` (the model's parameter count)."""
    settings = dict(DEFAULTS, **recipe.SETTINGS)
    if epochs is not None:
        settings["epochs"] = epochs
    start, cpu = time.perf_counter(), cpu_time()
    _, train_scenes = scenes("train", settings["train_images"])
    manual_seed(seed)
    model = recipe.build_model(*pixel_statistics(train_scenes["images"]))
    opt, sched = make_optimizer(model, settings)
    checkpoint = None
    if out is not None:
        os.makedirs(out, exist_ok=True)
        checkpoint = os.path.join(out, f"{recipe.STEM}.npz")
    meta = dict(task=recipe.TASK, train_images=settings["train_images"],
                epochs=settings["epochs"], workers=settings["workers"],
                model=dict(settings.get("model", {})))
    trainer = Trainer(model, opt, loss_fn=None, scheduler=sched, checkpoint=checkpoint,
                      meta=meta, clip_grad_norm=settings["clip_grad_norm"], progress=progress,
                      workers=settings["workers"])
    batches = DetectionBatches(train_scenes, settings["images_per_batch"],
                               getattr(recipe, "augment", hflip), seed)
    history = trainer.fit(batches, epochs=settings["epochs"], seed=seed)
    seconds, cpu_seconds = time.perf_counter() - start, cpu_time() - cpu

    _, test_scenes = scenes("test")
    metrics, predictions, ms = evaluate_model(model, test_scenes)
    result = dict(metrics=metrics, seconds=seconds, cpu_seconds=cpu_seconds, ms_per_image=ms,
                  parameters=count_parameters(model), checkpoint=checkpoint, history=history,
                  predictions=predictions, pictures=[])
    if out is not None:
        result["pictures"] = [save_pictures(test_scenes, predictions,
                                            os.path.join(out, f"{recipe.STEM}-detections.png"),
                                            score_threshold=0.5)]
    return result


def cpu_time():
    """Processor seconds of this process and of its finished children (the forked ranks of
    ``workers`` > 1, which exit at the end of each epoch)."""
    t = os.times()
    return time.process_time() + t.children_user + t.children_system


def count_parameters(model):
    return int(sum(p.data.size for p in model.parameters()))


def evaluate_model(model, test_scenes, n=None):
    """(metrics, predictions, ms per image) of a detector on the first ``n`` (all) scenes, one
    image at a time, scored by evaluate_detections (the METRICS names)."""
    model.eval()
    images = test_scenes["images"][:n]
    start = time.perf_counter()
    predictions = [model(image[None])[0] for image in images]
    ms = (time.perf_counter() - start) * 1e3 / len(predictions)
    figures = evaluate_detections(predictions, targets_of(test_scenes)[:len(images)],
                                  NUM_CLASSES + 1, images.shape[2:])
    return {k: figures[k] for k in METRICS}, predictions, ms


def load_model(recipe, checkpoint):
    """The detector of a checkpoint ``train_detector`` wrote for ``recipe``, in eval mode."""
    state = load(checkpoint)
    meta = state.get("meta", {})
    if meta.get("task") != recipe.TASK:
        raise ValueError(f"{recipe.TASK}.load_model: {checkpoint} is not a {recipe.TASK} "
                         f"checkpoint (its meta names task {meta.get('task')!r})")
    model = recipe.build_model(**meta.get("model", {}))
    model.load_state_dict(state["model"])
    return model.eval()


def evaluate(recipe, checkpoint):
    """The METRICS of a saved detector on the test split (500 scenes)."""
    return evaluate_model(load_model(recipe, checkpoint), scenes("test")[1])[0]


def print_summary(name, result, what=""):
    """The example scripts' report of a detector recipe's result: training time, parameters,
    the COCO figures and VOC's mAP@0.5 on the test split, and the time per image."""
    m = result["metrics"]
    cpu = result.get("cpu_seconds")
    print(f"{name} trained in {result['seconds']:.0f} s"
          + (f" ({cpu:.0f} s of processor time)" if cpu is not None else "")
          + f", {result['parameters']:,} parameters")
    print(f"test split (500 scenes): mAP@0.5 {m['mAP@0.5']:.3f}, COCO AP {m['AP']:.3f} "
          f"(AP50 {m['AP50']:.3f}, AP75 {m['AP75']:.3f}; small/medium/large "
          f"{m['APs']:.3f}/{m['APm']:.3f}/{m['APl']:.3f})")
    print(f"time per image: {result['ms_per_image']:.1f} ms{what}")
