"""Model-level benchmark: training throughput and peak memory of a training step,
tinyvision against the same architecture in PyTorch (CPU, 2 threads), in the same run.

    python benchmarks/models.py            # full
    python benchmarks/models.py --quick    # fewer steps (CI)

Each (library, model) runs in its own fresh process so peak memory is its own. After two
warm-up steps (JIT compiles, caches, optimizer state) the C allocator hands its free memory
back to the system (glibc's malloc_trim, in both libraries' processes alike), the process's
resident-set high-water mark is reset (/proc/self/clear_refs), and the peak above the
resident size at that moment is reported: the memory the timed training steps need beyond
the model and the batch. (Without the trim, memory an allocator kept from the warm-up is
reused unseen, and a library that frees to the system looks worse than one that holds on.)
Throughput is the median over steps.
"""
import argparse
import json
import os
import subprocess
import sys
import textwrap

MODELS = {
    # name: (batch, input shape, classes)
    "LeNet-5": (128, (1, 32, 32), 10),
    "ResNet-small (ResNet-8)": (64, (3, 32, 32), 10),
}

PROBE = textwrap.dedent("""
    import ctypes, gc, json, statistics, sys, time
    import numpy as np
    lib, name, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    batch, shape, classes = json.loads(sys.argv[4])

    def rss_kib(field):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])

    rng = np.random.default_rng(0)
    xb = rng.standard_normal((batch, *shape)).astype(np.float32)
    yb = rng.integers(0, classes, batch)
    if lib == "tinyvision":
        import tinyvision as tv, tinyvision.functional as F
        from tinyvision import models, optim
        tv.manual_seed(0)
        model = (models.LeNet5(classes, shape[0], shape[1]) if name == "LeNet-5"
                 else models.resnet_small(classes, shape[0], depth=8))
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x = tv.tensor(xb)
        def step():
            loss = F.cross_entropy(model(x), yb)
            opt.zero_grad(); loss.backward(); opt.step()
    else:
        import torch
        torch.set_num_threads(2)
        nn = torch.nn
        if name == "LeNet-5":
            side = ((shape[1] - 4) // 2 - 4) // 2
            model = nn.Sequential(nn.Conv2d(shape[0], 6, 5), nn.Tanh(), nn.AvgPool2d(2),
                                  nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
                                  nn.Linear(16 * side * side, 120), nn.Tanh(),
                                  nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, classes))
        else:
            def cbr(cin, cout, k, s=1):
                return [nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout)]
            class Block(nn.Module):
                def __init__(self, cin, cout, s):
                    super().__init__()
                    self.branch = nn.Sequential(*cbr(cin, cout, 3, s), nn.ReLU(), *cbr(cout, cout, 3))
                    self.short = (nn.Sequential(*cbr(cin, cout, 1, s)) if (s != 1 or cin != cout)
                                  else nn.Identity())
                def forward(self, x):
                    return torch.relu(self.branch(x) + self.short(x))
            model = nn.Sequential(*cbr(shape[0], 16, 3), nn.ReLU(), Block(16, 16, 1),
                                  Block(16, 32, 2), Block(32, 64, 2), nn.AdaptiveAvgPool2d(1),
                                  nn.Flatten(), nn.Linear(64, classes))
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, y = torch.from_numpy(xb), torch.from_numpy(yb)
        def step():
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(); loss.backward(); opt.step()

    step(); step()                          # warm-up: JIT, caches, optimizer state
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # free memory back to the system, for both alike
    base = rss_kib("VmRSS")                 # the model, the batch, the libraries: not counted
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                        # reset the high-water mark VmHWM
    times = []
    for _ in range(steps):
        start = time.perf_counter(); step(); times.append(time.perf_counter() - start)
    peak = rss_kib("VmHWM")
    print(json.dumps({"images_per_s": batch / statistics.median(times),
                      "peak_extra_mib": (peak - base) / 1024}))
""")


def measure(lib, name, steps):
    batch, shape, classes = MODELS[name]
    res = subprocess.run([sys.executable, "-c", PROBE, lib, name, str(steps),
                          json.dumps([batch, shape, classes])],
                         capture_output=True, text=True, env=dict(os.environ))
    if res.returncode != 0:
        raise RuntimeError(f"{lib} {name} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def memory_ratio(t, p):
    """tinyvision's peak extra memory over PyTorch's; n/a where PyTorch's is under 1 MiB (its
    step then reused memory it already held, and a ratio would mean nothing)."""
    if not p or p["peak_extra_mib"] < 1:
        return "n/a"
    return f"{t['peak_extra_mib'] / p['peak_extra_mib']:.2f}x"


def main(argv=None):
    parser = argparse.ArgumentParser(description="Training throughput and peak memory.")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    steps = 5 if args.quick else 30
    try:
        import torch  # noqa: F401
        libs = ["tinyvision", "torch"]
    except ImportError:
        libs = ["tinyvision"]
        print("PyTorch is not installed: tinyvision figures only (pip install torch==2.13.0)")
    head = ["model", "batch", "tinyvision img/s", "PyTorch img/s", "throughput ratio",
            "tinyvision peak MiB", "PyTorch peak MiB", "memory ratio"]
    rows = []
    for name, (batch, _, _) in MODELS.items():
        r = {lib: measure(lib, name, steps) for lib in libs}
        t = r["tinyvision"]
        p = r.get("torch")
        rows.append([name, str(batch), f"{t['images_per_s']:,.0f}",
                     f"{p['images_per_s']:,.0f}" if p else "n/a",
                     f"{t['images_per_s'] / p['images_per_s']:.2f}x" if p else "n/a",
                     f"{t['peak_extra_mib']:.0f}", f"{p['peak_extra_mib']:.0f}" if p else "n/a",
                     memory_ratio(t, p)])
    if args.markdown:
        print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(x) for x in col) for col in zip(head, *rows)]
        for row in [head] + rows:
            print("  ".join(x.rjust(w) for x, w in zip(row, widths)))
    print("throughput ratio: tinyvision / PyTorch images per second (above 1: tinyvision is "
          "faster); memory ratio: tinyvision / PyTorch peak extra memory of a step")


if __name__ == "__main__":
    main()
