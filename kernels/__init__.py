"""tinyvision.kernels: the hot loops, and the registry that picks an implementation per call.

Each op is a folder, kernels/<op>/, holding implementations side by side that expose the
same functions; the contract (arguments, shapes, formulas) is written in <op>/reference.py:

    reference   reference.py   plain NumPy: the readable version and the oracle
    cython      _cython        compiled by setup.py from <op>/<op>.pyx
    numba       numba_cpu.py   Numba njit, compiled on first call and cached
    cuda        cuda.py        Numba CUDA kernels, for arrays in GPU memory (CuPy)

    cols = kernels.get("im2col", x).im2col(x, 3, 3, 1, 1, 1, 1, 1, 1)

An array in GPU memory always goes to "cuda"; a NumPy array to the implementation forced
with ``use(name)`` (a call or a ``with`` block; ``TINYVISION_KERNELS=name`` in the
environment sets it at import), else to the first of CPU_PREFERENCE[op] that loads.  One
that cannot load never breaks the package: status() says why, and auto moves on.
"""
import importlib
import importlib.util
import os

from ._gpu import is_gpu_array

MODULES = {"reference": "reference", "cython": "_cython", "numba": "numba_cpu", "cuda": "cuda"}

# Automatic choice for NumPy arrays, fastest first, from `python benchmarks/ops.py --only
# ops_kernels` (2 cores, gcc 12 -O3, Numba 0.68, float32 ms, medians, PyTorch's unfold/fold
# and index_add_ in the same run):                    reference   cython    numba   torch
#   im2col, 3x3, pad 1, x (32, 64, 32, 32)                       19.1      49.4       6.4    27.8
#   col2im, same                                                 15.9       5.2       2.5    17.1
#   im2col / col2im, x (8, 64, 56, 56)                       13.7/14.9  14.8/5.1  4.5/2.2 27.6/16.9
#   scatter_add, 100k x 64 rows into 1000                        55.7       2.3       1.7     2.7
# im2col and scatter_add: Numba first. It compiles for this very CPU (AVX-512; setup.py's
# -O3 targets any x86-64 on purpose) and its parallel loops share the process's thread pool
# well; its cost is a JIT compile of ~1.5 s per dtype on the first call, until the disk
# cache is warm (benchmarks/ops.py prints the cold and warm first-call times).
# pool2d, `python benchmarks/ops.py --only ops_pool` (forward+backward through autograd,
# float32 ms, medians, PyTorch in the same run):     reference   cython    numba   torch
#   max_pool2d 2x2, x (32, 64, 32, 32)                           53.5       1.17      1.16    6.72
#   max_pool2d 3x3 stride 2 pad 1, x (32, 64, 56, 56)           200.0      10.1      11.3    31.6
#   avg_pool2d 2x2 / 3x3 stride 2 pad 1 (same shapes)        45.8/180    1.45/14.1 1.38/16.0 4.29/15.4
#   adaptive_avg_pool2d to 1x1, x (32, 512, 7, 7)                 0.82      0.49      0.71    0.28
#   adaptive_max_pool2d to 6x6, x (32, 256, 13, 13)              30.3       1.89      2.27    5.58
# pool2d: Cython first: a tie within run-to-run noise (+-20%; the two trade places on the
# 3x3 cases), ahead on the adaptive ones, and no JIT.  Numba's AVX-512 wins the 2x2 max
# forward alone (0.27 against 0.36 ms).
# resample, `python benchmarks/ops.py --only ops_resample` (F.interpolate forward+backward
# through autograd, float32 ms, medians, PyTorch in the same run):
#                                                    reference   cython    numba   torch
#   bilinear x2, x (32, 64, 16, 16)                              32.9       3.08      2.91   11.5
#   bilinear x2 forward only                                      7.43      1.02      1.09    4.69
#   nearest x2, x (32, 64, 16, 16)                               36.8       1.66      1.57    5.74
#   bilinear x0.5, x (32, 64, 32, 32)                            14.6       1.78      3.21    6.45
# resample: Cython first: a tie on the x2 cases (the two trade places run to run, 2.6-3.4 ms
# for bilinear over five runs), ahead on the downsample, and no JIT (Numba compiles bilinear
# forward+backward for ~2.6 s per dtype on a cold cache).
# winograd, depthwise_conv2d, `python benchmarks/ops.py --only ops_conv` (F.conv2d forward+
# backward through autograd, float32 ms, the median of seven runs' medians, PyTorch in the
# same runs; one run to the next moves +-20% on this shared VM):
#                                                    reference   cython    numba   torch
#   conv2d 3x3 pad 1 (Winograd), (32, 64, 32, 32)->64           157       55.5      53.2    38.0
#                                (32, 128, 16, 16)->128           73.8      39.9      48.5    33.7
#                                (32, 256, 8, 8)->256             59.9      37.4      39.5    30.7
#                                (8, 64, 56, 56)->64              97.1      36.0      41.7    28.5
#   depthwise 3x3, (32, 128, 16, 16)                             29.9       3.9       5.9     2.5
# winograd: Cython first: ahead on three shapes of four, and no JIT (Numba, compiled for
# this CPU's AVX-512, wins the 32x32 images, whose transforms dominate).  depthwise_conv2d:
# Cython ahead in every run.
# roi, `python benchmarks/detection_ops.py --only roi_align` (forward+backward through
# autograd, 512 RoIs on (2, 256, 50, 50) float32 -> 7x7, roi_align sampling_ratio 2; medians
# of one run with other jobs on both cores, so noisy; PyTorch without torchvision: grid_sample
# and adaptive_max_pool2d equivalents):             reference   cython    numba   torch
#   roi_align / roi_pool fwd+bwd                    3166/1710   143/78  218/130 1696/4724
# roi: Cython first, ahead in both, no JIT (unloaded, one thread: roi_align forward 18 ms,
# backward 35 ms; PyTorch's equivalent 850 ms).
# nms, `python benchmarks/detection_ops.py --only nms` (tinyvision.ops.nms, float32 clustered
# boxes, IoU 0.5, ms, medians, OpenCV's cv2.dnn.NMSBoxes in the same run, machine busy):
#                                                    reference   cython    numba   OpenCV
#   2,000 boxes (675 kept)                                       26.3       1.17      0.57    12.7
#   10,000 boxes (2,947 kept)                                   330        15.0       9.82   209
#   batched_nms, 10,000 boxes, 80 categories                    296         7.33      5.99   749
# nms: Numba first: its sweep vectorises 16 floats a step for this CPU (AVX-512), where
# setup.py's portable -O3 gives Cython 4 (SSE2); Numba's cost is a JIT compile on first call.
# felzenszwalb, each implementation's felzenszwalb() on a ShapesScenes test scene (k = 100/255,
# sigma 0.8, min_size 20), median CPU ms (process time: the 2 cores were shared), the NumPy
# smoothing and weights all share included (0.75 / 27 ms); no peer is installed (scikit-image
# is not a dependency, OpenCV's graph segmentation is in opencv-contrib only):
#                                                    reference   cython    numba
#   128x128 (65k edges)                                          67.0       2.44      2.72
#   512x512 (1M edges)                                         1749        50.8      55.0
# felzenszwalb: Cython first: ahead at both sizes, and no JIT.  No CUDA form (the union-find
# sweep is sequential): get() refuses GPU arrays and status() says why.
# batch_norm: F.batch_norm forward+backward in training through autograd (γ, β, running
# statistics), float32 ms, medians, one thread, PyTorch in the same run, machine busy; first
# column the NumPy code it replaced (~5 passes over x each way, against 2):
#                                        old NumPy  reference   cython    numba   torch
#   x (64, 16, 32, 32)                            4.48      17.9       2.55      1.82    3.96
#   x (64, 64, 8, 8)                              1.23         -       0.75      0.54    1.27
#   x (256, 512)                                  1.69         -       1.16      1.34    0.54
# batch_norm: Numba first: its float64 sums vectorise 8 wide for this CPU (AVX-512), where the
# portable build gives Cython 2 (SSE2); Cython leads only on (N, C) inputs, rare in a CNN.
CPU_PREFERENCE = {
    "im2col": ("numba", "cython", "reference"),
    "scatter_add": ("numba", "cython", "reference"),
    "resample": ("cython", "numba", "reference"),
    "pool2d": ("cython", "numba", "reference"),
    "winograd": ("cython", "numba", "reference"),
    "depthwise_conv2d": ("cython", "numba", "reference"),
    "roi": ("cython", "numba", "reference"),
    "nms": ("numba", "cython", "reference"),
    "felzenszwalb": ("cython", "numba", "reference"),
    "batch_norm": ("numba", "cython", "reference"),
}


class KernelUnavailableError(RuntimeError):
    """The implementation an array must go to could not be loaded."""


def _forced_from_environment():
    name = os.environ.get("TINYVISION_KERNELS", "").strip().lower() or "auto"
    if name not in ("auto", *MODULES):
        raise ValueError(f"TINYVISION_KERNELS={name!r} is not one of {', '.join(MODULES)} or auto")
    return None if name == "auto" else name


_forced = _forced_from_environment()
_loaded = {}      # (op, name) -> the module, or the exception that stopped it loading
_last_used = {}   # op -> name of the implementation get() last handed out


def _check_cython_build(op, module):
    """A Cython build older than its .pyx would run stale code: refuse it."""
    pyx = os.path.join(os.path.dirname(module.__file__), f"{op}.pyx")
    if os.path.exists(pyx) and os.path.getmtime(pyx) > os.path.getmtime(module.__file__):
        raise ImportError(f"stale build: {pyx} changed after {module.__file__} was built; "
                          "rebuild with `pip install -e .`")


def _load(op, name):
    """The module of implementation `name` of `op`, or the exception that stopped it."""
    if (op, name) not in _loaded:
        try:
            if name == "cuda" and importlib.util.find_spec(f"{__name__}.{op}.cuda") is None:
                raise ImportError(f"{op} has no CUDA implementation (see kernels/{op}/__init__.py)")
            module = importlib.import_module(f"{__name__}.{op}.{MODULES[name]}")
            if name == "cython":
                _check_cython_build(op, module)
            if name == "cuda" and not importlib.import_module("numba.cuda").is_available():
                raise ImportError("no CUDA GPU found (numba.cuda.is_available() is False); "
                                  "NUMBA_ENABLE_CUDASIM=1 runs the kernels on Numba's simulator")
            _loaded[op, name] = module
        except Exception as error:  # a missing build, numba or GPU must not break the package
            _loaded[op, name] = error
    return _loaded[op, name]


def _check_op(op):
    if op not in CPU_PREFERENCE:
        raise ValueError(f"tinyvision.kernels: unknown op {op!r}; "
                         f"known: {', '.join(CPU_PREFERENCE)}")


def get(op, x):
    """Return the implementation module that should run `op` on the array x.

    All implementations of an op expose the same functions, so the caller goes on with
    e.g. ``get("im2col", x).im2col(x, ...)``.  Raises KernelUnavailableError, naming the
    implementation and why it failed to load, when the one chosen cannot run.
    """
    _check_op(op)
    if is_gpu_array(x):
        name = "cuda"
    elif _forced is not None:
        name = _forced
    else:
        name = next(n for n in CPU_PREFERENCE[op] if not isinstance(_load(op, n), Exception))
    module = _load(op, name)
    if isinstance(module, Exception):
        raise KernelUnavailableError(f"tinyvision.kernels: the {name!r} implementation of "
                                     f"{op!r} is not available: {type(module).__name__}: {module}")
    _last_used[op] = name
    return module


class use:
    """Force the implementation for NumPy arrays: ``use("numba")``; ``use(None)`` for auto.

    As a plain call the choice stays until changed; as ``with use("reference"): ...`` the
    previous choice comes back when the block ends.
    """

    def __init__(self, name):
        global _forced
        if name is not None and name not in MODULES:
            raise ValueError(f"tinyvision.kernels.use: expected one of {', '.join(MODULES)} "
                             f"or None, got {name!r}")
        self._previous, _forced = _forced, name

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        global _forced
        _forced = self._previous


def last_used(op):
    """Name of the implementation that get() last handed out for `op` (None before any)."""
    _check_op(op)
    return _last_used.get(op)


def status():
    """{op: {name: "ok" or why it cannot run}} for every op and implementation (loads all)."""
    def describe(loaded):
        return f"{type(loaded).__name__}: {loaded}" if isinstance(loaded, Exception) else "ok"
    return {op: {name: describe(_load(op, name)) for name in MODULES} for op in CPU_PREFERENCE}


def print_status():
    """Print status() as a table, with the implementation NumPy arrays go to now."""
    print(f"tinyvision.kernels: NumPy arrays use {_forced or 'the automatic choice'}")
    for op, implementations in status().items():
        auto = next(n for n in CPU_PREFERENCE[op] if implementations[n] == "ok")
        for name, state in implementations.items():
            print(f"  {op:<14} {name:<10} {state}{'  <- auto' if name == auto else ''}")
