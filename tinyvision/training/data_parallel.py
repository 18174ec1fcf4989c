"""Data-parallel training on the cores of one machine: W processes, one gradient per step.

Why processes, not threads. tinyvision's models are small and its steps are many small
operations: most of a detector's step is Python and NumPy calls too short to split between
threads, so a second thread hardly helps (measured on 2 cores, Faster R-CNN's recipe: 4.2
batches/s on one thread, 4.6 on two). A second *process* runs the other half of the batch
with its own interpreter, the way PyTorch's DistributedDataParallel runs one process per
device.

One optimizer step in W processes (rank 0 is the Trainer's own process; the others are
forked at the start of each epoch, run that epoch's loop, and exit at its end):

    every rank: the same batch (the fork copied the data's random state, so the order
        and the augmentation agree)
    rank r: its share of the batch, samples [lo_r, hi_r) (np.array_split's sizes, so rank 0
        always has one); the losses of that share; backward
    rank r: writes n_r/n * (its gradient) and n_r/n * (its loss values) into row r of a
        shared buffer
    barrier
    every rank: the sum of the rows, in rank order, as the gradient: bit-identical in every
        process, so each one's clip and optimizer.step() leave identical parameters, with
        nothing to broadcast
    barrier (no row is rewritten before every rank has read it)

For a loss that is a mean over samples this is the full batch's gradient. Two things differ
from one process, as in DistributedDataParallel: batch norm normalises each share by its
own statistics (and the running statistics kept are rank 0's), and a loss normalised by a
count over the batch (the RPN's sampled anchors, the focal loss's positives) is normalised
per share. Each process runs max(1, cores // W) threads for its kernels and BLAS.

Needs os.fork (Linux, macOS).
"""
import ctypes
import os
import sys
import traceback
from multiprocessing import get_context

import numpy as np

from ..kernels._threads import usable_cores


def shares(n, workers):
    """[lo, hi) of each rank's share of a batch of n samples (the first ranks get one more)."""
    sizes = [n // workers + (1 if r < n % workers else 0) for r in range(workers)]
    bounds = np.cumsum([0] + sizes)
    return [(int(bounds[r]), int(bounds[r + 1])) for r in range(workers)]


class Team:
    """The W processes of one epoch; ``with Team(params, workers) as team:`` forks them.

    Inside the block every process runs the same code: ``team.rank`` tells which one it is.
    ``team.share(inputs, targets)`` gives its part of a batch and the part's weight n_r/n;
    ``team.all_reduce(weight, values)`` replaces the .grad of every parameter of ``params`` by
    the weighted sum over ranks and returns the summed ``values`` (a list of floats). A forked
    process leaves the block by exiting; an exception in any process breaks the barrier and
    the others stop with RuntimeError.
    """

    MAX_VALUES = 64

    def __init__(self, params, workers):
        if not hasattr(os, "fork"):
            raise RuntimeError(f"Trainer: workers={workers} needs os.fork, which this system "
                               f"({sys.platform}) does not have; use workers=1")
        self.params, self.workers, self.rank, self.children = list(params), workers, 0, []
        self.offsets = np.cumsum([0] + [p.data.size for p in self.params])
        ctx = get_context("fork")
        self.barrier = ctx.Barrier(workers)
        # rows of: the weighted gradient | a has-gradient flag per parameter | the values
        self.width = int(self.offsets[-1]) + len(self.params) + 1 + self.MAX_VALUES
        self.shared = ctx.RawArray(ctypes.c_double, workers * self.width)
        self.rows = np.frombuffer(self.shared, dtype=np.float64).reshape(workers, self.width)

    def __enter__(self):
        threads = max(1, usable_cores() // self.workers)
        self._saved = (os.environ.get("OMP_NUM_THREADS"), _blas_threads(None))
        sys.stdout.flush(), sys.stderr.flush()
        for rank in range(1, self.workers):
            pid = os.fork()
            if pid == 0:                                   # a forked rank: run the loop, exit
                self.rank, self.children = rank, []
                break
            self.children.append(pid)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        _blas_threads(threads)
        return self

    def __exit__(self, kind, error, tb):
        if self.rank != 0:
            # A diverged loss stops every rank at the same step, after the last barrier: no
            # rank waits, and breaking the barrier then could fail a rank that is still waking
            # from it. A broken barrier is another rank's failure, told by that rank. Any other
            # error is this rank's: print it and wake the ranks waiting for this one.
            if kind is not None and not issubclass(kind, FloatingPointError) and not (
                    kind is RuntimeError and "another rank" in str(error)):
                traceback.print_exception(kind, error, tb)
                self.barrier.abort()
            sys.stdout.flush(), sys.stderr.flush()
            os._exit(0 if kind is None else 1)
        if kind is not None:
            self.barrier.abort()
        failed = [pid for pid in self.children if os.waitstatus_to_exitcode(
            os.waitpid(pid, 0)[1]) != 0]
        omp, blas = self._saved
        if omp is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = omp
        _blas_threads(blas)
        if failed and kind is None:
            raise RuntimeError(f"Trainer: {len(failed)} of the {self.workers - 1} forked "
                               f"training processes failed (their traceback is above)")
        return False

    def share(self, inputs, targets):
        """(inputs, targets, weight) of this rank's part of the batch."""
        n = inputs.shape[0] if hasattr(inputs, "shape") else len(inputs)
        lo, hi = shares(n, self.workers)[self.rank]
        return inputs[lo:hi], targets[lo:hi], (hi - lo) / n      # arrays, Tensors or lists

    def all_reduce(self, weight, values):
        """Sum n_r/n-weighted gradients and ``values`` over the ranks (module docstring)."""
        if len(values) > self.MAX_VALUES:
            raise ValueError(f"Trainer: at most {self.MAX_VALUES} logged values per step with "
                             f"workers > 1, got {len(values)}")
        row, grads = self.rows[self.rank], int(self.offsets[-1])
        row[:] = 0.0
        for i, p in enumerate(self.params):
            if p.grad is not None and weight > 0:
                row[self.offsets[i]:self.offsets[i + 1]] = weight * np.asarray(p.grad).reshape(-1)
                row[grads + i] = 1.0
        v = grads + len(self.params)
        row[v] = len(values)
        row[v + 1:v + 1 + len(values)] = np.asarray(values, dtype=np.float64) * weight
        self._wait()
        total = self.rows.sum(axis=0)                      # rank order: the same everywhere
        flags = total[grads:grads + len(self.params)]
        count = int(self.rows[0, v])                       # rank 0 always has samples
        summed = total[v + 1:v + 1 + count].tolist()
        for i, p in enumerate(self.params):
            if flags[i] > 0:
                g = total[self.offsets[i]:self.offsets[i + 1]].reshape(p.data.shape)
                p.grad = g.astype(p.data.dtype)
            else:
                p.grad = None
        self._wait()
        return summed

    def _wait(self):
        try:
            self.barrier.wait()
        except Exception:    # BrokenBarrierError: another rank failed or stopped
            raise RuntimeError("Trainer: another rank of the data-parallel team stopped") \
                from None


_BLAS = []


def _blas_threads(n):
    """Set OpenBLAS's thread count to n (None: leave it) and return the previous count, or
    None where NumPy's BLAS is not an OpenBLAS found in this process."""
    if not _BLAS:
        _BLAS.append(_find_openblas())
    lib = _BLAS[0]
    if lib is None:
        return None
    get, set_ = lib
    previous = int(get())
    if n is not None:
        set_(int(n))
    return previous


def _find_openblas():
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                set_ = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                if get is not None and set_ is not None:
                    return get, set_
    return None
