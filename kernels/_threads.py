"""The threads that run the native kernels' outer loops (im2col, winograd, depthwise_conv2d).

``parallel_range(body, count, work)`` splits range(count) into one contiguous part per
thread and calls body(first, last) for each part, one on the calling thread and the others
on a shared pool; body must release the GIL (the Cython kernels run their loops in a
``with nogil`` block), and parts must write disjoint memory.

NOTE: why not OpenMP's prange. NumPy's BLAS (OpenBLAS) keeps its own threads on the same
cores, and libgomp's idle threads spin for milliseconds after each parallel loop (its
default wait policy, fixed when the library loads; with PyTorch imported first, Cython's
code binds to PyTorch's libgomp). A kernel followed by a GEMM then fights for the cores:
on 2 cores an OpenMP Winograd transform (0.5 ms) and the GEMM after it (0.9 ms) took
9.3 ms a pair, 1.8 ms on these threads; a 3x3 conv2d of (32, 3, 32, 32) forward+backward
(im2col, GEMMs, col2im) took 16 ms with OpenMP kernels and 5.3 ms with these. Numba's
parallel=True uses the same OpenMP here, so its kernels run on these threads too. The
threads wait on a lock, asleep.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

# Below this many elements of work a kernel runs on the calling thread alone: handing work
# to another thread costs ~20 µs.
MIN_PARALLEL_WORK = 1 << 16

_pool, _pool_size = None, 0
_pool_lock = threading.Lock()


def usable_cores():
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def num_threads():
    """Threads per kernel call: OMP_NUM_THREADS if set (as for BLAS), else the usable cores."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return usable_cores()


def _executor(workers):
    """The shared pool, (re)made with at least ``workers`` threads."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < workers:
            _pool, _pool_size = ThreadPoolExecutor(workers, "tinyvision-kernel"), workers
        return _pool


def parallel_range(body, count, work):
    """Run body(first, last) over range(count) in per-thread parts; see the module docstring."""
    parts = min(num_threads(), count) if work >= MIN_PARALLEL_WORK else 1
    if parts <= 1:
        body(0, count)
        return
    bounds = [count * i // parts for i in range(parts + 1)]
    pool = _executor(parts - 1)
    futures = [pool.submit(body, bounds[i], bounds[i + 1]) for i in range(1, parts)]
    try:
        body(bounds[0], bounds[1])
    finally:                          # never return while another part still writes
        for future in futures:
            future.result()


def _after_fork_in_child():
    # The pool's threads do not exist in a forked child: start a new pool there when needed.
    global _pool, _pool_size, _pool_lock
    _pool, _pool_size, _pool_lock = None, 0, threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
