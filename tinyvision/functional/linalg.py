"""Matrix products: ``matmul`` (batched, broadcasting) and ``linear`` (y = x Wᵀ + b)."""
import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor
from ._util import operand, unbroadcast


class MatmulFn(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, gy):
        """Y = A B: dL/dA = G Bᵀ, dL/dB = Aᵀ G, summed over broadcast batch dims.

        1-D operands are treated as NumPy does (a row vector on the left, a column on the
        right) and the added axis is removed again.
        """
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g = gy
        if b.ndim == 1:  # first: for vector @ vector, gy is 0-d and becomes (1,), then (1, 1)
            g = np.expand_dims(g, -1)
        if a.ndim == 1:
            g = np.expand_dims(g, -2)
        ga = gb = None
        if na:
            ga = unbroadcast(np.matmul(g, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if nb:
            gb = unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), g), b2.shape).reshape(b.shape)
        return ga, gb


class LinearFn(Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        y = x @ weight.T  # (..., in) @ (in, out) -> (..., out)
        if bias is not None:
            y += bias
        return y

    @staticmethod
    def backward(ctx, gy):
        """y = x Wᵀ + b: dL/dx = G W, dL/dW = Gᵀ x (over all leading dims), dL/db = Σ G."""
        x, weight = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad
        g2 = gy.reshape(-1, gy.shape[-1])  # (rows, out)
        gx = (gy @ weight) if nx else None
        gw = (g2.T @ x.reshape(-1, x.shape[-1])) if nw else None
        gb = g2.sum(axis=0) if (nb and ctx.has_bias) else None
        return gx, gw, gb


def matmul(input, other):
    """Matrix product with NumPy's rules: batched over leading dims, which broadcast."""
    a, b = operand(input, other), operand(other, input)
    sa, sb = np.shape(_arr(a)), np.shape(_arr(b))
    if len(sa) == 0 or len(sb) == 0:
        raise ValueError(f"matmul: both operands need at least 1 dim, got shapes {sa} and {sb}")
    k_a, k_b = sa[-1], (sb[0] if len(sb) == 1 else sb[-2])
    if k_a != k_b:
        raise ValueError(f"matmul: inner dims differ: {sa} @ {sb} ({k_a} != {k_b})")
    try:
        np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dims {sa[:-2]} and {sb[:-2]} do not broadcast: "
                         f"{sa} @ {sb}") from None
    return MatmulFn.apply(a, b)


def _arr(x):
    return x.data if isinstance(x, Tensor) else x


def linear(input, weight, bias=None):
    """y = x Wᵀ + b with x (..., in_features), W (out_features, in_features), b (out_features,)."""
    x, w = _arr(input), _arr(weight)
    if w.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {w.shape}")
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"linear: input's last dim must be in_features = {w.shape[1]}, "
                         f"got input shape {x.shape}")
    if bias is not None and _arr(bias).shape != (w.shape[0],):
        raise ValueError(f"linear: bias must have shape ({w.shape[0]},), got {_arr(bias).shape}")
    return LinearFn.apply(input, weight, bias)
