"""Benchmark cases for batch norm: F.batch_norm forward+backward in training, per implementation.

Each tinyvision run is the public op through autograd (``F.batch_norm`` on a Tensor that
requires grad, with γ and β, running statistics updated, then ``backward`` with a fixed
upstream gradient), with the kernels forced by ``kernels.use``; the peer is
``torch.nn.functional.batch_norm`` the same way.  The automatic choice in
kernels/__init__.py (CPU_PREFERENCE["batch_norm"]) is set from these figures.
"""
import numpy as np

import tinyvision as tv
import tinyvision.functional as F
from _harness import Case, torch
from tinyvision import kernels

IMPLEMENTATIONS = ("reference", "cython", "numba")


def _tinyvision(name, x, gy):
    C = x.shape[1]
    t = tv.tensor(x, requires_grad=True)
    w = tv.tensor(np.ones(C, x.dtype), requires_grad=True)
    b = tv.tensor(np.zeros(C, x.dtype), requires_grad=True)
    rm, rv = np.zeros(C, x.dtype), np.ones(C, x.dtype)

    def run():
        with kernels.use(name):
            y = F.batch_norm(t, rm, rv, w, b, training=True)
            t.grad = w.grad = b.grad = None
            y.backward(gy)
    return run


def _torch(x, gy):
    C = x.shape[1]
    tx, tgy = torch.from_numpy(x).requires_grad_(), torch.from_numpy(gy)
    w, b = torch.ones(C, requires_grad=True), torch.zeros(C, requires_grad=True)
    rm, rv = torch.zeros(C), torch.ones(C)

    def run():
        y = torch.nn.functional.batch_norm(tx, rm, rv, w, b, True)
        tx.grad = w.grad = b.grad = None
        y.backward(tgy)
    return run


def cases(quick):
    rng = np.random.default_rng(0)
    shapes = [(8, 16, 16, 16)] if quick else [(64, 16, 32, 32), (64, 64, 8, 8), (256, 512)]
    out = []
    for shape in shapes:
        x = rng.standard_normal(shape).astype(np.float32)
        gy = rng.standard_normal(shape).astype(np.float32)
        runs = {name: _tinyvision(name, x, gy) for name in IMPLEMENTATIONS}
        if torch is not None:
            runs["torch"] = _torch(x, gy)
        out.append(Case("batch_norm train fwd+bwd", str(shape).replace(" ", ""), runs))
    return out
