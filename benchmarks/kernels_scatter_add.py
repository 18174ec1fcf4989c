"""Time the CPU implementations of scatter_add: median milliseconds per call.

    python benchmarks/kernels_scatter_add.py [--repeat 21]

The shape is an embedding backward: 100k gradient rows of 64 features added into a
1000-row table, indices drawn with repeats.  Every implementation is checked against the
reference before it is timed.  The automatic choice in kernels/__init__.py
(CPU_PREFERENCE) is set from these figures.
"""
import argparse
import time

import numpy as np

from tinyvision import kernels
from tinyvision.kernels.scatter_add import reference

ROWS, M, F = 1000, 100_000, 64
CPU_IMPLEMENTATIONS = ("reference", "cython", "numba")


def median_ms(fn, repeat):
    fn()  # warm up: Numba compiles (or loads its cache) on the first call
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def time_one(name, index, src, repeat):
    """Milliseconds of one implementation, after checking it against the reference."""
    with kernels.use(name):
        impl = kernels.get("scatter_add", src)
    expected = reference.scatter_add(np.zeros((ROWS, F), src.dtype), index, src)
    out = impl.scatter_add(np.zeros((ROWS, F), src.dtype), index, src)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-3)
    return median_ms(lambda: impl.scatter_add(out, index, src), repeat)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21)
    repeat = parser.parse_args().repeat
    ready = [n for n in CPU_IMPLEMENTATIONS if kernels.status()["scatter_add"][n] == "ok"]
    print(f"median ms of {repeat} calls; out ({ROWS}, {F}), index ({M},), src ({M}, {F})")
    print(f"{'dtype':<9}" + "".join(f"{n:>11}" for n in ready))
    rng = np.random.default_rng(0)
    index = rng.integers(0, ROWS, M)
    for dtype in (np.float32, np.float64):
        src = rng.standard_normal((M, F)).astype(dtype)
        row = "".join(f"{time_one(name, index, src, repeat):>11.2f}" for name in ready)
        print(f"{np.dtype(dtype).name:<9}{row}")


if __name__ == "__main__":
    main()
