"""The README's results table: every model, its metric, training time and inference time.

    python benchmarks/results.py [--only NAME ...] [--records DIR]

Each row trains the model from scratch on this machine with its recipe (tinyvision/recipes/:
the classifiers' settings, then one module per task of ``recipes.TASKS``; the README's
figures are from 2 cores) and times inference after training. A task's row is named after
the task (``--only fast_rcnn``), labelled by its module's LABEL and DATA, and shows its
module's ROW_METRICS (all its metrics when it has none).

``--records DIR`` takes a task's row from ``DIR/<stem>.json`` instead of training it again,
where a run of the same recipe left one (benchmarks/detectors.py writes them with ``--out
DIR``), so that the detectors' rows and the comparison table come from one training run.
"""
import argparse
import json
import os
import time

import numpy as np

import tinyvision as tv
from tinyvision import demo, nn, recipes


def spirals_mlp():
    tv.manual_seed(0)
    x, y = tv.data.spirals(n_per_class=500, classes=5, noise=0.1, turns=1.5, seed=0)
    order = np.random.default_rng(0).permutation(len(x))
    tr, te = order[:int(0.8 * len(x))], order[int(0.8 * len(x)):]
    model = nn.Sequential(nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                          nn.Linear(128, 5))
    seconds = demo.train(model, x[tr], y[tr], epochs=60, lr=0.01, progress=False)
    acc = float((demo.predict(model, x[te]) == y[te]).mean())
    with tv.no_grad():
        start = time.perf_counter()
        for _ in range(20):
            model(tv.tensor(x[te]))
        per_sample = (time.perf_counter() - start) / 20 / len(te)
    return ("MLP 2-128-128-5 (`tinyvision demo`)", "spirals, 5 classes",
            f"test accuracy {acc:.1%}", f"{seconds:.0f} s", f"{per_sample * 1e3:.4f} ms")


def classifier(model, data, label):
    def row():
        r = recipes.train_classifier(model, data, progress=False)
        return (label, data, f"test accuracy {r['test_accuracy']:.1%}", f"{r['seconds']:.0f} s",
                f"{r['ms_per_image']:.2f} ms")
    row.__name__ = f"{model}-{data}"
    return row


def task(name):
    def row(records=None):
        module = recipes.task(name)
        record = None if records is None else os.path.join(records, f"{module.STEM}.json")
        if record is not None and os.path.exists(record):
            with open(record) as f:
                r = json.load(f)                 # metrics, seconds, ms_per_image of that run
        else:
            r = module.train(progress=False)
        shown = getattr(module, "ROW_METRICS", None) or list(r["metrics"])
        metric = ", ".join(f"{k} {_figure(r['metrics'][k])}" for k in shown)
        return (getattr(module, "LABEL", name), getattr(module, "DATA", "ShapesScenes"), metric,
                f"{r['seconds']:.0f} s", f"{r['ms_per_image']:.2f} ms")
    row.__name__ = name
    return row


def _figure(v):
    return f"{v:.3f}" if isinstance(v, float) else str(v)


ROWS = [spirals_mlp,
        classifier("lenet5", "digits", "LeNet-5"),
        classifier("resnet", "digits", "ResNet-8 (`resnet_small`)"),
        classifier("allconv", "shapes", "all-conv + GAP (`AllConvNet`)")]
TASK_ROWS = [task(name) for name in recipes.TASKS]
ROWS += TASK_ROWS


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="row names: " + " ".join(r.__name__ for r in ROWS))
    parser.add_argument("--records", default=None,
                        help="folder of <stem>.json training records to reuse (detectors.py --out)")
    args = parser.parse_args(argv)
    print("| model | data | metric | training time | inference per image |")
    print("|---|---|---|---|---|")
    for row in ROWS:
        if not args.only or row.__name__ in args.only:
            kwargs = dict(records=args.records) if row in TASK_ROWS else {}
            print("| " + " | ".join(row(**kwargs)) + " |", flush=True)


if __name__ == "__main__":
    main()
