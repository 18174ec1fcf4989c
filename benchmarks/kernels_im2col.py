"""Time the CPU implementations of im2col and col2im: median milliseconds per call.

    python benchmarks/kernels_im2col.py [--repeat 21]

Shapes are conv layers of a CIFAR-size and an ImageNet-size network (3x3 window, stride 1,
padding 1).  Every implementation is checked against the reference before it is timed.
The automatic choice in kernels/__init__.py (CPU_PREFERENCE) is set from these figures.
"""
import argparse
import time

import numpy as np

from tinyvision import kernels
from tinyvision.kernels.im2col import reference

SHAPES = [(32, 64, 32, 32), (8, 64, 56, 56)]   # x: (N, C, H, W)
WINDOW = (3, 3)                                # kh, kw
STRIDES = (1, 1, 1, 1, 1, 1)                   # sh, sw, ph, pw, dh, dw
CPU_IMPLEMENTATIONS = ("reference", "cython", "numba")


def median_ms(fn, repeat):
    fn()  # warm up: Numba compiles (or loads its cache) on the first call
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def time_one(name, x, gcols, repeat):
    """(im2col ms, col2im ms) of one implementation, after checking it against the reference."""
    with kernels.use(name):
        impl = kernels.get("im2col", x)
    H, W = x.shape[2:]
    np.testing.assert_array_equal(impl.im2col(x, *WINDOW, *STRIDES),
                                  reference.im2col(x, *WINDOW, *STRIDES))
    np.testing.assert_allclose(impl.col2im(gcols, H, W, *STRIDES),
                               reference.col2im(gcols, H, W, *STRIDES), rtol=1e-4, atol=1e-4)
    return (median_ms(lambda: impl.im2col(x, *WINDOW, *STRIDES), repeat),
            median_ms(lambda: impl.col2im(gcols, H, W, *STRIDES), repeat))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21)
    repeat = parser.parse_args().repeat
    ready = [n for n in CPU_IMPLEMENTATIONS if kernels.status()["im2col"][n] == "ok"]
    print(f"median ms of {repeat} calls; 3x3 window, stride 1, padding 1")
    print(f"{'op':<8}{'x shape':<18}{'dtype':<9}" + "".join(f"{n:>11}" for n in ready))
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        for dtype in (np.float32, np.float64):
            x = rng.standard_normal(shape).astype(dtype)
            gcols = rng.standard_normal(reference.im2col(x, *WINDOW, *STRIDES).shape).astype(dtype)
            times = [time_one(name, x, gcols, repeat) for name in ready]  # [(im2col, col2im)]
            for k, op in enumerate(("im2col", "col2im")):
                row = "".join(f"{t[k]:>11.2f}" for t in times)
                print(f"{op:<8}{str(shape):<18}{np.dtype(dtype).name:<9}{row}")


if __name__ == "__main__":
    main()
