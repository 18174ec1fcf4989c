"""Autograd from the inside, then an MLP on spirals.

    python examples/01_autograd_mlp.py

1. Build a small expression, call backward(), and check every gradient against central
   differences with tv.gradcheck: what "the backward is proven" means.
2. Write a new differentiable op as a tinyvision.autograd.Function (forward and backward
   on plain arrays, as torch.autograd.Function) and check it the same way.
3. Train an MLP on five interleaved spirals (the `tinyvision demo spirals` run) and write
   the decision regions to tinyvision-demo/spirals-regions.png.
"""
import numpy as np

import tinyvision as tv
import tinyvision.functional as F
from tinyvision import demo
from tinyvision.autograd import Function

# 1. y = Σ softplus(x·w) by hand: log(1 + e^{xw}); dy/dw = xᵀ σ(xw).
x = tv.randn(4, 3, dtype=np.float64)
w = tv.randn(3, 2, dtype=np.float64, requires_grad=True)
y = (1 + (x @ w).exp()).log().sum()
y.backward()
expected = x.data.T @ (1 / (1 + np.exp(-(x.data @ w.data))))
print("dy/dw by autograd equals xᵀσ(xw):", np.allclose(w.grad, expected))
print("gradcheck of log_softmax(x @ w):",
      tv.gradcheck(lambda w: F.log_softmax(x @ w, dim=1), [w]))


# 2. A new op: the "swish" activation x·σ(x), forward and backward side by side.
class SwishFn(Function):
    @staticmethod
    def forward(ctx, x):
        s = 1 / (1 + np.exp(-x))
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, gy):
        """d(xσ)/dx = σ + xσ(1 − σ)."""
        x, s = ctx.saved_tensors
        return gy * (s + x * s * (1 - s))


print("gradcheck of a hand-written Swish:",
      tv.gradcheck(SwishFn.apply, [np.random.default_rng(0).standard_normal((5, 4))]))

# 3. The MLP.
demo.main("spirals")
