"""Benchmark cases for resampling: F.interpolate forward + backward, per implementation.

Each tinyvision run is the public op through autograd (``F.interpolate`` on a Tensor that
requires grad, then ``backward`` with a fixed upstream gradient), with the kernels forced by
``kernels.use``; the peer is ``torch.nn.functional.interpolate`` the same way.  The
automatic choice in kernels/__init__.py (CPU_PREFERENCE["resample"]) is set from these
figures.
"""
import numpy as np

import tinyvision as tv
import tinyvision.functional as F
from _harness import Case, torch
from tinyvision import kernels

IMPLEMENTATIONS = ("reference", "cython", "numba")


def _tinyvision(name, x, gy, kwargs, backward=True):
    t = tv.tensor(x, requires_grad=backward)

    def run():
        with kernels.use(name):
            y = F.interpolate(t, **kwargs)
            if backward:
                t.grad = None
                y.backward(gy)
    return run


def _torch(x, gy, kwargs, backward=True):
    tx, tgy = torch.from_numpy(x).requires_grad_(backward), torch.from_numpy(gy)

    def run():
        y = torch.nn.functional.interpolate(tx, **kwargs)
        if backward:
            tx.grad = None
            y.backward(tgy)
    return run


def cases(quick):
    rng = np.random.default_rng(0)
    small, large = ((4, 8, 8, 8), (4, 8, 16, 16)) if quick else ((32, 64, 16, 16), (32, 64, 32, 32))
    table = [  # op, x shape, interpolate's arguments, with backward
        ("bilinear x2 fwd+bwd", small, dict(scale_factor=2, mode="bilinear"), True),
        ("bilinear x2 fwd", small, dict(scale_factor=2, mode="bilinear"), False),
        ("nearest x2 fwd+bwd", small, dict(scale_factor=2, mode="nearest"), True),
        ("bilinear x0.5 fwd+bwd", large, dict(scale_factor=0.5, mode="bilinear"), True),
    ]
    out = []
    for op, shape, kwargs, backward in table:
        x = rng.standard_normal(shape).astype(np.float32)
        y_shape = F.interpolate(x, **kwargs).shape
        gy = rng.standard_normal(y_shape).astype(np.float32)
        runs = {n: _tinyvision(n, x, gy, kwargs, backward) for n in IMPLEMENTATIONS}
        if torch is not None:
            runs["torch"] = _torch(x, gy, kwargs, backward)
        out.append(Case(op, f"{shape}->{tuple(y_shape[2:])}", runs))
    return out
