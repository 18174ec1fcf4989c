"""Batch normalization (Ioffe & Szegedy, 2015), fused forward and backward.

    x̂ = (x − μ_B) / √(σ²_B + ε)        y = γ x̂ + β                     (Alg. 1 of [IS15])

μ_B and σ²_B are taken per channel (dim 1) over the batch and every spatial position. In
training the running statistics move towards the batch's, PyTorch's way:
running ← (1 − momentum)·running + momentum·batch, with the *unbiased* batch variance.

References
----------
[IS15] S. Ioffe, C. Szegedy. Batch Normalization: Accelerating Deep Network Training by
       Reducing Internal Covariate Shift. ICML 2015.
"""
import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor


class BatchNormFn(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, mean, var, eps, training):
        axes = (0,) + tuple(range(2, x.ndim))     # every dim but channels
        shape = (1, -1) + (1,) * (x.ndim - 2)     # a per-channel vector, broadcastable
        invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
        xhat = (x - mean.reshape(shape)) * invstd.reshape(shape)
        ctx.save_for_backward(xhat, invstd, weight)
        ctx.axes, ctx.shape, ctx.batch_stats = axes, shape, training
        y = xhat if weight is None else xhat * weight.reshape(shape)
        return y if bias is None else y + bias.reshape(shape)

    @staticmethod
    def backward(ctx, gy):
        """With g = dL/dx̂ = gy·γ and m elements per channel:

        eval (μ, σ² constants):  dL/dx = g / √(σ²+ε)
        train (μ_B, σ²_B depend on x):  dL/dx = (1/m)/√(σ²_B+ε) · (m g − Σg − x̂ Σ g x̂)
        dL/dγ = Σ gy x̂,  dL/dβ = Σ gy.
        """
        xhat, invstd, weight = ctx.saved_tensors
        axes, shape = ctx.axes, ctx.shape
        nx, nw, nb = ctx.needs_input_grad[:3]
        g = gy if weight is None else gy * weight.reshape(shape)
        gx = None
        if nx:
            if ctx.batch_stats:
                g_mean = g.mean(axis=axes, keepdims=True)
                gxhat_mean = (g * xhat).mean(axis=axes, keepdims=True)
                gx = (g - g_mean - xhat * gxhat_mean) * invstd.reshape(shape)
            else:
                gx = g * invstd.reshape(shape)
        gw = (gy * xhat).sum(axis=axes) if nw else None
        gb = gy.sum(axis=axes) if nb else None
        return gx, gw, gb, None, None, None, None


def _arr(x):
    return x.data if isinstance(x, Tensor) else x


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalize each channel of ``input`` (N, C, *) and scale by ``weight``, shift by ``bias``.

    training=True uses the batch's statistics and, when running_mean/var are given, updates
    them in place (as PyTorch); training=False uses running_mean/var.
    """
    x = _arr(input)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: input must be (N, C, *), got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"batch_norm: input must be floating point, got dtype {x.dtype}")
    C = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and _arr(t).shape != (C,):
            raise ValueError(f"batch_norm: {name} must have shape ({C},) for {C} channels, "
                             f"got {_arr(t).shape}")
    if training:
        axes = (0,) + tuple(range(2, x.ndim))
        m = x.size // C
        if m <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input shape {x.shape}")
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)  # biased: the normalization itself uses 1/m
        if running_mean is not None:
            rm = _arr(running_mean)
            rm *= 1 - momentum
            rm += momentum * mean
        if running_var is not None:
            rv = _arr(running_var)
            rv *= 1 - momentum
            rv += momentum * var * (m / (m - 1))  # the running estimate is unbiased
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when not training")
        mean, var = _arr(running_mean), _arr(running_var)
    return BatchNormFn.apply(input, weight, bias, mean.astype(x.dtype, copy=False),
                             var.astype(x.dtype, copy=False), eps, training)
