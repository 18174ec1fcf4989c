"""Per-op benchmark: every kernel implementation against PyTorch (CPU), in the same run.

    python benchmarks/ops.py              # full: the shapes of the README table
    python benchmarks/ops.py --quick      # small shapes, few repeats (CI)
    python benchmarks/ops.py --markdown   # the README's table

Each op family lives in its own module (ops_kernels.py, ops_conv.py, ops_pool.py,
ops_resample.py, ops_norm.py) and exports ``cases(quick) -> [Case]``; this script times them all (medians, ms), prints
GFLOP/s where it applies and the time ratio to PyTorch (below 1: tinyvision is faster),
then Numba's first-call latency with a cold and a warm on-disk cache.
"""
import argparse
import importlib
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import print_table, run_cases, torch  # noqa: E402

FAMILIES = ["ops_kernels", "ops_conv", "ops_pool", "ops_resample", "ops_norm"]

# One small call of each Numba kernel, run in a fresh process so its JIT cost is visible.
FIRST_CALL = """
import time, numpy as np
start = time.perf_counter()
from tinyvision import kernels
import tinyvision.functional as F
import tinyvision as tv
kernels.use("numba")
x = tv.randn(2, 3, 8, 8, requires_grad=True)
w = tv.randn(4, 3, 3, 3, requires_grad=True)
y = F.conv2d(x, w, padding=1)
y = F.max_pool2d(y, 2)
y = F.interpolate(y, scale_factor=2, mode="bilinear")
y.sum().backward()
print(time.perf_counter() - start)
"""


def numba_first_call():
    """Seconds for a fresh process to import and run conv/pool/resample once via Numba."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = []
        for _ in ("cold", "warm"):
            res = subprocess.run([sys.executable, "-c", FIRST_CALL], env=env, capture_output=True,
                                 text=True)
            if res.returncode != 0:
                raise RuntimeError("the first-call probe failed:\n" + res.stderr[-2000:])
            out.append(float(res.stdout.strip().splitlines()[-1]))
        return out


def main(argv=None):
    parser = argparse.ArgumentParser(description="Per-op benchmark against PyTorch.")
    parser.add_argument("--quick", action="store_true", help="small shapes, few repeats (CI)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--only", nargs="*", default=None,
                        help="families to run (default all): " + " ".join(FAMILIES))
    args = parser.parse_args(argv)
    if torch is None:
        print("PyTorch is not installed: no peer column (pip install torch==2.13.0)")
    repeats = 3 if args.quick else 7
    cases = []
    for name in args.only or FAMILIES:
        cases += importlib.import_module(name).cases(args.quick)
    start = time.perf_counter()
    print_table(run_cases(cases, repeats), markdown=args.markdown)
    cold, warm = numba_first_call()
    print(f"\nNumba first call in a new process (conv2d + max_pool2d + bilinear, fwd+bwd): "
          f"{cold:.1f} s with a cold cache, {warm:.1f} s with a warm one")
    print(f"(benchmark took {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
