"""Classification recipes: a classifier of the zoo on digits or shapes, trained to its bar.

    result = recipes.train_classifier("lenet5", "digits", out="runs")
    result["test_accuracy"], result["seconds"]

Data sets for classification:
    digits   the UCI handwritten digits (scikit-learn's copy), upsampled to 1x32x32; 10 classes
    shapes   ShapesScenes in single-object mode, 3x32x32; 5 classes (8,000 training images)
"""
import os
import time

import numpy as np

from .. import data as D
from .. import models, optim
from ..data import transforms as T
from ..data.digits import CLASSES as DIGIT_CLASSES
from ..random import manual_seed
from ..training import Trainer

DATASETS = ("digits", "shapes")

# Settings per (model, data): epochs, batch size, optimizer, learning rate, and keyword
# arguments for the model's constructor. Unlisted pairs use DEFAULT. Chosen to reach the
# README's quality bars within minutes on 2 cores.
SETTINGS = {
    ("lenet5", "digits"): dict(epochs=30, batch_size=32, optimizer="adam", lr=2e-3),
    ("resnet", "digits"): dict(epochs=20, batch_size=64, optimizer="sgd", lr=0.1),
    ("allconv", "shapes"): dict(epochs=12, batch_size=64, optimizer="sgd", lr=0.05,
                                model_kwargs=dict(widths=(16, 32, 64))),
}
DEFAULT = dict(epochs=10, batch_size=64, optimizer="sgd", lr=0.05)
SHAPES_TRAIN_IMAGES = 8000


def load_classification(name, seed=0):
    """(train, test, num_classes, in_channels, class_names) for a classification data set.

    The training set carries a light augmentation (±2 px translation): the test set never does.
    """
    if name == "digits":
        train, test = D.digits("train", size=32), D.digits("test", size=32)
        background = float(train[0][0][0, 0, 0])  # the standardised value of blank paper
        train = _Augmented(train, T.RandomTranslate(2 / 32, fill=background))
        return train, test, 10, 1, DIGIT_CLASSES
    if name == "shapes":
        # 32x32 is enough to tell the five shapes apart (objects are 10 to 24 px) and 4x
        # cheaper than 64x64; 8,000 generated training images rather than the default
        # split's 2,000, drawn once (~5 s). Each channel is standardised with the training
        # images' mean and standard deviation: the textured backgrounds put the raw means
        # far from 0.
        kw = dict(single_object=True, image_size=32, seed=seed)
        train = D.ShapesScenes("train", n=SHAPES_TRAIN_IMAGES, **kw).arrays()
        test = D.ShapesScenes("test", **kw).arrays()
        mean = train["images"].mean(axis=(0, 2, 3), keepdims=True)
        std = train["images"].std(axis=(0, 2, 3), keepdims=True)
        train = D.TensorDataset((train["images"] - mean) / std, train["label"])
        test = D.TensorDataset((test["images"] - mean) / std, test["label"])
        train = _Augmented(train, T.RandomHorizontalFlip(0.5))
        return train, test, len(D.ShapesScenes.CLASSES), 3, D.ShapesScenes.CLASSES
    raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")


class _Augmented(D.Dataset):
    """A data set whose items pass through ``transform(image)`` (labels unchanged)."""

    def __init__(self, dataset, transform):
        self.dataset, self.transform = dataset, transform

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        image, label = self.dataset[i]
        return self.transform(image), label


def build_classifier(model, num_classes, in_channels, input_size, data=None):
    """The zoo's ``model`` for this input, with the recipe's constructor arguments for
    ``data`` (e.g. the all-conv net's narrower widths on shapes)."""
    if model not in models.CLASSIFIERS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(models.CLASSIFIERS)}")
    kwargs = {"input_size": input_size} if model in ("lenet5", "alexnet", "vgg") else {}
    kwargs.update(SETTINGS.get((model, data), {}).get("model_kwargs", {}))
    return models.CLASSIFIERS[model](num_classes, in_channels, **kwargs)


def _optimizer(name, params, lr):
    if name == "adam":
        return optim.Adam(params, lr=lr)
    return optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4, nesterov=True)


def train_classifier(model, data, epochs=None, batch_size=None, lr=None, optimizer=None,
                     seed=0, out=None, progress=True):
    """Train ``model`` on ``data`` and evaluate it on the test split.

    Returns a dict: test_accuracy, seconds (training), ms_per_image (inference, batch 64),
    history, and the checkpoint/picture paths when ``out`` is a folder.
    """
    settings = dict(DEFAULT, **SETTINGS.get((model, data), {}))
    for key, value in (("epochs", epochs), ("batch_size", batch_size), ("lr", lr),
                       ("optimizer", optimizer)):
        if value is not None:
            settings[key] = value
    train, test, num_classes, in_channels, class_names = load_classification(data, seed)
    input_size = test[0][0].shape[-1]
    manual_seed(seed)                     # the initial weights depend on the seed alone
    net = build_classifier(model, num_classes, in_channels, input_size, data)
    opt = _optimizer(settings["optimizer"], net.parameters(), settings["lr"])
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=settings["epochs"])
    checkpoint = None
    if out is not None:
        os.makedirs(out, exist_ok=True)
        checkpoint = os.path.join(out, f"{model}-{data}.npz")
    meta = dict(model=model, data=data, num_classes=num_classes, in_channels=in_channels,
                input_size=input_size, **settings)
    trainer = Trainer(net, opt, scheduler=sched, checkpoint=checkpoint, meta=meta,
                      progress=progress)
    loader = D.DataLoader(train, batch_size=settings["batch_size"], shuffle=True, generator=seed)
    test_loader = D.DataLoader(test, batch_size=256)
    start = time.perf_counter()
    history = trainer.fit(loader, test_loader, epochs=settings["epochs"], seed=seed)
    seconds = time.perf_counter() - start
    result = dict(model=model, data=data, test_accuracy=history["val_accuracy"][-1],
                  seconds=seconds, ms_per_image=inference_ms(net, test), history=history,
                  checkpoint=checkpoint, class_names=class_names)
    if out is not None:
        result["pictures"] = save_pictures(net, test, class_names, history, out,
                                           f"{model}-{data}")
    return result


def evaluate(model, dataset, batch_size=256):
    """Test accuracy of ``model`` on a classification data set (eval mode, no graph)."""
    from .. import no_grad
    model.eval()
    correct = 0
    with no_grad():
        for x, y in D.DataLoader(dataset, batch_size=batch_size):
            correct += int((model(x).data.argmax(1) == np.asarray(y.data)).sum())
    return correct / len(dataset)


def inference_ms(model, dataset, batch=64, repeats=5):
    """Median milliseconds per image of a no-grad forward pass at batch size ``batch``."""
    from .. import no_grad, tensor
    x = tensor(np.stack([dataset[i][0] for i in range(min(batch, len(dataset)))]))
    model.eval()
    times = []
    with no_grad():
        model(x)
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3 / x.shape[0]


def save_pictures(model, dataset, class_names, history, out, stem, n=32):
    """A grid of test images titled with prediction/truth, and the training curves."""
    from .. import no_grad, tensor, viz
    images = np.stack([dataset[i][0] for i in range(n)])
    labels = [dataset[i][1] for i in range(n)]
    model.eval()
    with no_grad():
        pred = model(tensor(images)).data.argmax(1)
    shown = images - images.min(axis=(1, 2, 3), keepdims=True)
    shown = shown / np.maximum(shown.max(axis=(1, 2, 3), keepdims=True), 1e-8)
    titles = [f"{class_names[p]}" + ("" if p == t else f" (not {class_names[t]})")
              for p, t in zip(pred, labels)]
    grid = os.path.join(out, f"{stem}-predictions.png")
    viz.save_image_grid(shown.astype(np.float32), grid, nrow=8, labels=titles,
                        scale=max(1, 96 // images.shape[-1]))
    curves = os.path.join(out, f"{stem}-history.png")
    viz.plot_history(history, curves)
    return [grid, curves]
