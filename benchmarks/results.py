"""The README's results table: every model, its metric, training time and inference time.

    python benchmarks/results.py

Each row trains the model from scratch on this machine (the README's figures are from 2
cores) and times inference per sample after training. Rows are added as the zoo grows.
"""
import time

import numpy as np

import tinyvision as tv
from tinyvision import demo, nn


def spirals_mlp():
    tv.manual_seed(0)
    x, y = tv.data.spirals(n_per_class=500, classes=5, noise=0.1, turns=1.5, seed=0)
    order = np.random.default_rng(0).permutation(len(x))
    tr, te = order[:int(0.8 * len(x))], order[int(0.8 * len(x)):]
    model = nn.Sequential(nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                          nn.Linear(128, 5))
    seconds = demo.train(model, x[tr], y[tr], epochs=60, lr=0.01, progress=False)
    acc = demo.accuracy(model, x[te], y[te])
    with tv.no_grad():
        start = time.perf_counter()
        for _ in range(20):
            model(tv.tensor(x[te]))
        per_sample = (time.perf_counter() - start) / 20 / len(te)
    return ("MLP 2-128-128-5 (`tinyvision demo`)", "spirals, 5 classes",
            f"test accuracy {acc:.1%}", f"{seconds:.1f} s", f"{per_sample * 1e6:.2f} µs/sample")


ROWS = [spirals_mlp]


def main():
    print("| model | data | metric | training time | inference |")
    print("|---|---|---|---|---|")
    for row in ROWS:
        print("| " + " | ".join(row()) + " |")


if __name__ == "__main__":
    main()
