"""Benchmark cases for pooling: max/avg/adaptive pooling forward (+ backward), per implementation.

Each tinyvision run is the public op through autograd (``F.max_pool2d`` etc. on a Tensor that
requires grad, then ``backward`` with a fixed upstream gradient), with the kernels forced by
``kernels.use``; the peer is ``torch.nn.functional`` the same way.  The automatic choice in
kernels/__init__.py (CPU_PREFERENCE["pool2d"]) is set from these figures.

The issue's target: max_pool2d 2x2 forward+backward on (32, 64, 32, 32) in at most 0.5x
PyTorch's time.
"""
import numpy as np

import tinyvision as tv
import tinyvision.functional as F
from _harness import Case, torch
from tinyvision import kernels

IMPLEMENTATIONS = ("reference", "cython", "numba")


def _tinyvision(name, op, x, gy, kwargs, backward):
    t = tv.tensor(x, requires_grad=backward)

    def run():
        with kernels.use(name):
            y = getattr(F, op)(t, **kwargs)
            if backward:
                t.grad = None
                y.backward(gy)
    return run


def _torch(op, x, gy, kwargs, backward):
    tx, tgy = torch.from_numpy(x).requires_grad_(backward), torch.from_numpy(gy)

    def run():
        y = getattr(torch.nn.functional, op)(tx, **kwargs)
        if backward:
            tx.grad = None
            y.backward(tgy)
    return run


def cases(quick):
    rng = np.random.default_rng(0)
    cifar, stem, late, spp = (((4, 8, 16, 16), (4, 8, 28, 28), (4, 32, 7, 7), (4, 16, 13, 13))
                              if quick else
                              ((32, 64, 32, 32), (32, 64, 56, 56), (32, 512, 7, 7),
                               (32, 256, 13, 13)))
    table = [  # label, function, x shape, its arguments, with backward
        ("max_pool2d 2x2 fwd+bwd", "max_pool2d", cifar, dict(kernel_size=2), True),
        ("max_pool2d 2x2 fwd", "max_pool2d", cifar, dict(kernel_size=2), False),
        ("max_pool2d 3x3 s2 p1 fwd+bwd", "max_pool2d", stem,
         dict(kernel_size=3, stride=2, padding=1), True),
        ("avg_pool2d 2x2 fwd+bwd", "avg_pool2d", cifar, dict(kernel_size=2), True),
        ("avg_pool2d 3x3 s2 p1 fwd+bwd", "avg_pool2d", stem,
         dict(kernel_size=3, stride=2, padding=1), True),
        ("adaptive_avg_pool2d 1x1 fwd+bwd", "adaptive_avg_pool2d", late,
         dict(output_size=1), True),
        ("adaptive_max_pool2d 6x6 fwd+bwd", "adaptive_max_pool2d", spp,
         dict(output_size=6), True),
    ]
    out = []
    for label, op, shape, kwargs, backward in table:
        x = rng.standard_normal(shape).astype(np.float32)
        y_shape = getattr(F, op)(x, **kwargs).shape
        gy = rng.standard_normal(y_shape).astype(np.float32)
        runs = {n: _tinyvision(n, op, x, gy, kwargs, backward) for n in IMPLEMENTATIONS}
        if torch is not None:
            runs["torch"] = _torch(op, x, gy, kwargs, backward)
        out.append(Case(label, f"{shape}->{tuple(y_shape[2:])}", runs))
    return out
