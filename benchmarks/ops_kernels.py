"""Benchmark cases for the building-block kernels: im2col, col2im and scatter_add.

Peers: ``torch.nn.functional.unfold`` / ``fold`` (PyTorch's im2col / col2im) and
``Tensor.index_add_`` (its scatter-add). The automatic choice in kernels/__init__.py
(CPU_PREFERENCE) is set from these figures.
"""
import numpy as np

from _harness import Case, torch
from tinyvision import kernels
from tinyvision.kernels.im2col import reference as im2col_reference

GEOMETRY = (1, 1, 1, 1, 1, 1)  # sh, sw, ph, pw, dh, dw: a 3x3 conv with padding 1
IMPLEMENTATIONS = ("reference", "cython", "numba")


def _forced(op, name, call):
    """A call of implementation ``name`` of ``op``: ``call(module)``."""
    with kernels.use(name):
        module = kernels.get(op, np.empty(0, np.float32))
    return lambda: call(module)


def cases(quick):
    rng = np.random.default_rng(0)
    shapes = [(4, 16, 16, 16)] if quick else [(32, 64, 32, 32), (8, 64, 56, 56)]
    out = []
    for shape in shapes:
        x = rng.standard_normal(shape).astype(np.float32)
        H, W = shape[2:]
        cols = im2col_reference.im2col(x, 3, 3, *GEOMETRY)
        runs_fwd = {n: _forced("im2col", n, lambda m: m.im2col(x, 3, 3, *GEOMETRY))
                    for n in IMPLEMENTATIONS}
        runs_bwd = {n: _forced("im2col", n, lambda m: m.col2im(cols, H, W, *GEOMETRY))
                    for n in IMPLEMENTATIONS}
        if torch is not None:
            tx = torch.from_numpy(x)
            tcols = torch.from_numpy(cols.reshape(shape[0], -1, H * W))
            runs_fwd["torch"] = lambda: torch.nn.functional.unfold(tx, 3, padding=1)
            runs_bwd["torch"] = lambda: torch.nn.functional.fold(tcols, (H, W), 3, padding=1)
        out += [Case("im2col 3x3 pad 1", str(shape), runs_fwd),
                Case("col2im 3x3 pad 1", str(shape), runs_bwd)]

    rows, m, f = (100, 10_000, 16) if quick else (1000, 100_000, 64)
    index = rng.integers(0, rows, m)
    src = rng.standard_normal((m, f)).astype(np.float32)
    table = np.zeros((rows, f), np.float32)
    runs = {n: _forced("scatter_add", n, lambda mod: mod.scatter_add(table, index, src))
            for n in IMPLEMENTATIONS}
    if torch is not None:
        ttable, tindex, tsrc = torch.from_numpy(table), torch.from_numpy(index), torch.from_numpy(src)
        runs["torch"] = lambda: ttable.index_add_(0, tindex, tsrc)
    out.append(Case("scatter_add (embedding bwd)", f"{m:,}x{f} into {rows:,}", runs))
    return out
