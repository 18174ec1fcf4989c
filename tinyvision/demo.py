"""The README's demo: train something real in a minute or two, print its metric, draw it.

    tinyvision demo            # an MLP learns to separate five interleaved spirals

It shows the loop a student writes with any framework — data, model, loss, backward,
optimizer step — in tinyvision's PyTorch-shaped API, on data made on the spot (nothing is
downloaded), and draws the decision regions it learned.
"""
import os
import time

import numpy as np
from tqdm import tqdm

import tinyvision as tv
import tinyvision.functional as F
from tinyvision import nn, optim, viz


def train(model, x, y, epochs, lr, batch_size=64, seed=0, progress=True, desc="train"):
    """Mini-batch Adam with a cosine learning-rate schedule on arrays; returns seconds taken."""
    opt = optim.Adam(model.parameters(), lr=lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    bar = tqdm(range(epochs), desc=desc, disable=not progress, ncols=80, mininterval=0.5)
    for _ in bar:
        model.train()
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(model(tv.tensor(x[idx])), y[idx])  # logits -> mean CE
            opt.zero_grad()
            loss.backward()                                            # dL/dθ for every θ
            opt.step()                                                 # Adam update
        sched.step()
        bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    return time.perf_counter() - start


def predict(model, x, batch_size=256):
    model.eval()
    with tv.no_grad():
        return np.concatenate([model(tv.tensor(x[i:i + batch_size])).data.argmax(1)
                               for i in range(0, len(x), batch_size)])


def spirals(out, progress=True):
    """An MLP separates five interleaved spirals; a linear model cannot."""
    tv.manual_seed(0)
    x, y = tv.data.spirals(n_per_class=500, classes=5, noise=0.1, turns=1.5, seed=0)
    order = np.random.default_rng(0).permutation(len(x))
    tr, te = order[:int(0.8 * len(x))], order[int(0.8 * len(x)):]
    linear = nn.Linear(2, 5)
    train(linear, x[tr], y[tr], epochs=20, lr=0.05, progress=progress, desc="linear model")
    mlp = nn.Sequential(nn.Linear(2, 128), nn.ReLU(),
                        nn.Linear(128, 128), nn.ReLU(),
                        nn.Linear(128, 5))
    seconds = train(mlp, x[tr], y[tr], epochs=60, lr=0.01, progress=progress,
                    desc="MLP 2-128-128-5")
    lin_acc = float((predict(linear, x[te]) == y[te]).mean())
    acc = float((predict(mlp, x[te]) == y[te]).mean())
    # The decision regions: the MLP's class at every point of a grid, points on top.
    side = np.linspace(-1.1, 1.1, 220, dtype=np.float32)
    grid = np.stack(np.meshgrid(side, -side), axis=-1).reshape(-1, 2)
    regions = predict(mlp, grid).reshape(220, 220)
    image = viz.draw_masks(np.full((220, 220, 3), 255, np.uint8), regions + 1, alpha=0.45)
    px = np.clip(((x[te] + 1.1) / 2.2 * 219).round().astype(int), 1, 218)
    dark = (np.asarray(viz.PALETTE)[(y[te] + 1) % len(viz.PALETTE)] * 0.6).astype(np.uint8)
    for dy in (-1, 0, 1):                      # each test point as a 3x3 dot
        for dx in (-1, 0, 1):
            image[219 - px[:, 1] + dy, px[:, 0] + dx] = dark
    path = os.path.join(out, "spirals-regions.png")
    viz.save_png(image, path)
    print(f"5 interleaved spirals, {len(tr)} training and {len(te)} test points")
    print(f"  linear model   test accuracy {lin_acc:6.1%}")
    print(f"  MLP (2 hidden) test accuracy {acc:6.1%}   trained in {seconds:.1f} s")
    print(f"  decision regions: {path}")
    return acc


DEMOS = {"spirals": spirals}


def main(name="spirals", out="tinyvision-demo", progress=True):
    os.makedirs(out, exist_ok=True)
    acc = DEMOS[name](out, progress)
    return 0 if acc > 0.9 else 1


if __name__ == "__main__":
    raise SystemExit(main())
