"""Benchmark cases for convolution: conv2d and conv_transpose2d, forward + backward.

Each tinyvision run is the public op through autograd (``F.conv2d`` on Tensors that require
grad, then ``backward`` with a fixed upstream gradient: grads for the input and the weight),
with the kernels forced by ``kernels.use`` (the algorithm, im2col + GEMM, Winograd or
depthwise, is still chosen from the shapes); the peer is ``torch.nn.functional`` the same
way. FLOPs are the direct convolution's, 2·N·K·(C/groups)·kh·kw·OH·OW per product, three
products for forward + backward, whatever the algorithm does (Winograd does 4x fewer).

The issue's targets (float32, 2 cores): conv2d 3x3 fwd+bwd at most 1.5x PyTorch's time at
each of the five shapes, median at most 1.3x; conv_transpose2d 3x3 stride 2 at most 1.5x;
depthwise 3x3 at most 2x. The automatic choices in kernels/__init__.py (CPU_PREFERENCE
["winograd"], ["depthwise_conv2d"]) are set from these figures.
"""
import numpy as np

import tinyvision as tv
import tinyvision.functional as F
from _harness import Case, torch
from tinyvision import kernels

IMPLEMENTATIONS = ("reference", "cython", "numba")

# (N, C, H, W, K) of the 3x3, padding-1 layers
SHAPES_3X3 = [(32, 3, 32, 32, 64), (32, 64, 32, 32, 64), (32, 128, 16, 16, 128),
              (32, 256, 8, 8, 256), (8, 64, 56, 56, 64)]
QUICK_3X3 = [(4, 3, 16, 16, 8), (4, 16, 16, 16, 16)]


def _runs(x, w, gy, kwargs, transposed=False):
    """One prepared fwd+bwd call per implementation (and torch)."""
    op = F.conv_transpose2d if transposed else F.conv2d
    tx, tw = tv.tensor(x, requires_grad=True), tv.tensor(w, requires_grad=True)

    def tinyvision_run(name):
        def run():
            with kernels.use(name):
                tx.grad = tw.grad = None
                op(tx, tw, **kwargs).backward(gy)
        return run

    runs = {name: tinyvision_run(name) for name in IMPLEMENTATIONS}
    if torch is not None:
        top = torch.nn.functional.conv_transpose2d if transposed else torch.nn.functional.conv2d
        px, pw = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
        pgy = torch.from_numpy(gy)

        def torch_run():
            px.grad = pw.grad = None
            top(px, pw, **kwargs).backward(pgy)
        runs["torch"] = torch_run
    return runs


def _case(op, x, w, kwargs, label, transposed=False):
    rng = np.random.default_rng(1)
    y = (F.conv_transpose2d if transposed else F.conv2d)(x, w, **kwargs)   # for its shape
    gy = rng.standard_normal(y.shape).astype(np.float32)
    if transposed:   # the products are those of the conv2d from y's shape to x's
        N, C_in, H, W = x.shape
        flops = 3 * 2 * N * C_in * w.shape[1] * w.shape[2] * w.shape[3] * H * W
    else:
        N, K, OH, OW = y.shape
        flops = 3 * 2 * N * K * w.shape[1] * w.shape[2] * w.shape[3] * OH * OW
    return Case(op, label, _runs(x, w, gy, kwargs, transposed), flops=flops)


def cases(quick):
    rng = np.random.default_rng(0)

    def normal(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    out = []
    for N, C, H, W, K in QUICK_3X3 if quick else SHAPES_3X3:
        out.append(_case("conv2d 3x3 pad 1 fwd+bwd", normal(N, C, H, W), normal(K, C, 3, 3),
                         dict(padding=1), f"({N},{C},{H},{W})->{K}"))
    N, C, H, K = (4, 32, 8, 16) if quick else (32, 256, 16, 64)
    out.append(_case("conv2d 1x1 fwd+bwd", normal(N, C, H, H), normal(K, C, 1, 1), {},
                     f"({N},{C},{H},{H})->{K}"))
    N, C, H = (4, 16, 16) if quick else (32, 128, 16)
    out.append(_case("conv2d depthwise 3x3 fwd+bwd", normal(N, C, H, H), normal(C, 1, 3, 3),
                     dict(padding=1, groups=C), f"({N},{C},{H},{H})"))
    N, C, H, K = (4, 16, 8, 8) if quick else (32, 64, 16, 32)
    out.append(_case("conv_transpose2d 3x3 s2 fwd+bwd", normal(N, C, H, H), normal(C, K, 3, 3),
                     dict(stride=2, padding=1, output_padding=1),
                     f"({N},{C},{H},{H})->({N},{K},{2 * H},{2 * H})", transposed=True))
    return out
