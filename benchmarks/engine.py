"""Autograd-engine benchmark: tinyvision against PyTorch (CPU) in the same run.

Two figures matter before any kernel does:
  * the fixed cost of one recorded op (forward + its share of backward) on a tiny tensor,
    where Python overhead is everything;
  * a whole MLP training step (forward, cross entropy, backward, Adam), in samples/second.

    python benchmarks/engine.py            # full
    python benchmarks/engine.py --quick    # fewer repeats, for CI

Prints medians over repeats and the ratio tinyvision/PyTorch (time; < 1 means faster).
"""
import argparse
import statistics
import time

import numpy as np

import tinyvision as tv
import tinyvision.functional as F
from tinyvision import nn, optim

try:
    import torch
    torch.set_num_threads(2)
except ImportError:
    torch = None


def median_seconds(fn, repeats, inner):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - start) / inner)
    return statistics.median(times)


def op_chain(lib, n_ops=100):
    """A chain of ``n_ops`` cheap ops on a (4, 4) tensor, then backward."""
    if lib == "tinyvision":
        x = tv.tensor(np.ones((4, 4), np.float32), requires_grad=True)
    else:
        x = torch.ones(4, 4, requires_grad=True)

    def step():
        y = x
        for _ in range(n_ops // 2):
            y = (y * 1.0001) + 0.001
        y.sum().backward()
    return step


def mlp_step(lib, batch, sizes):
    rng = np.random.default_rng(0)
    xb = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    yb = rng.integers(0, sizes[-1], batch)
    if lib == "tinyvision":
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        model = nn.Sequential(*layers[:-1])
        opt = optim.Adam(model.parameters(), lr=1e-3)
        x, y = tv.tensor(xb), yb

        def step():
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return step
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.from_numpy(xb), torch.from_numpy(yb)

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (CI)")
    args = parser.parse_args(argv)
    repeats = 5 if args.quick else 15
    peers = ["tinyvision"] + (["torch"] if torch is not None else [])
    if torch is None:
        print("PyTorch is not installed: tinyvision figures only (pip install torch==2.13.0)")

    rows = []
    t = {lib: median_seconds(op_chain(lib), repeats, 20) for lib in peers}
    rows.append(("100 tiny ops + backward", "(4, 4)", t, "µs/op", lambda s: s / 100 * 1e6))
    for batch, sizes in ((64, (2, 128, 128, 5)), (128, (784, 256, 10)), (256, (784, 512, 512, 10))):
        t = {lib: median_seconds(mlp_step(lib, batch, sizes), repeats, 10) for lib in peers}
        rows.append((f"MLP {'-'.join(map(str, sizes))} train step", f"batch {batch}", t,
                     "samples/s", lambda s, b=batch: b / s))

    print(f"{'benchmark':34} {'shape':10} {'tinyvision':>14} {'PyTorch':>14} {'time ratio':>11}")
    for name, shape, t, unit, conv in rows:
        ours = f"{conv(t['tinyvision']):,.1f} {unit}"
        if "torch" in t:
            theirs = f"{conv(t['torch']):,.1f}"
            ratio = f"{t['tinyvision'] / t['torch']:.2f}x"
        else:
            theirs, ratio = "n/a", "n/a"
        print(f"{name:34} {shape:10} {ours:>14} {theirs:>14} {ratio:>11}")


if __name__ == "__main__":
    main()
