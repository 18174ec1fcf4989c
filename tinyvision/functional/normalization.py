"""Batch normalization (Ioffe & Szegedy, 2015), fused forward and backward.

    x̂ = (x − μ_B) / √(σ²_B + ε)        y = γ x̂ + β                     (Alg. 1 of [IS15])

μ_B and σ²_B are taken per channel (dim 1) over the batch and every spatial position. In
training the running statistics move towards the batch's, PyTorch's way:
running ← (1 − momentum)·running + momentum·batch, with the *unbiased* batch variance.

The passes over memory are a kernel (kernels/batch_norm/, ``kernels.get("batch_norm", x)``
picks the implementation): two each way, statistics then y forward, the two sums then gx
backward.  The forward keeps x (not x̂) for the backward, which recomputes x̂ = (x − μ)·invstd
as it goes, as PyTorch does: the same memory, and one array fewer written.

References
----------
[IS15] S. Ioffe, C. Szegedy. Batch Normalization: Accelerating Deep Network Training by
       Reducing Internal Covariate Shift. ICML 2015.
"""
import numpy as np

from .. import kernels
from ..autograd.function import Function
from ..kernels._gpu import array_module
from ..tensor import Tensor


class BatchNormFn(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, eps, training, momentum):
        """Training: the batch's μ_B, σ²_B (and the running statistics updated in place);
        else the running ones.  Then y = (x − μ)·γ/√(σ² + ε) + β in one pass."""
        xp, kernel = array_module(x), kernels.get("batch_norm", x)
        x = xp.ascontiguousarray(x)                 # kept for the backward: read as rows
        C = x.shape[1]
        m = x.size // C
        if training:
            mean, var = kernel.batch_norm_stats(x)              # float64, var biased (1/m)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += momentum * var * (m / (m - 1))   # the running estimate is unbiased
        else:
            mean, var = running_mean, running_var
        invstd = (1.0 / xp.sqrt(var + eps)).astype(x.dtype)     # 1/√(σ² + ε)
        mean = mean.astype(x.dtype)
        weight = None if weight is None else weight.astype(x.dtype, copy=False)
        bias = None if bias is None else bias.astype(x.dtype, copy=False)
        ctx.save_for_backward(x, mean, invstd, weight)
        ctx.kernel, ctx.batch_stats = kernel, training
        return kernel.batch_norm_forward(x, mean, invstd, weight, bias)

    @staticmethod
    def backward(ctx, gy):
        """With g = dL/dx̂ = gy·γ and m elements per channel:

        eval (μ, σ² constants):  dL/dx = g / √(σ²+ε)
        train (μ_B, σ²_B depend on x):  dL/dx = (1/m)/√(σ²_B+ε) · (m g − Σg − x̂ Σ g x̂)
        dL/dγ = Σ gy x̂,  dL/dβ = Σ gy.

        Since Σg = γ Σgy = γ dL/dβ and Σ g x̂ = γ dL/dγ, the training case is computed as
        dL/dx = γ/√(σ²_B+ε) · (gy − dL/dβ / m − x̂ dL/dγ / m), from the two sums already
        needed for the parameters: one pass for the sums, one for dL/dx.
        """
        x, mean, invstd, weight = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad[:3]
        gx, gw, gb = ctx.kernel.batch_norm_backward(
            gy.astype(x.dtype, copy=False), x, mean, invstd, weight, ctx.batch_stats,
            grad_input=nx, grad_params=nw or nb)
        return gx, (gw if nw else None), (gb if nb else None), None, None, None, None, None


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
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"batch_norm: input must be floating point (float32 or float64), "
                        f"got dtype {x.dtype}")
    C = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and _arr(t).shape != (C,):
            raise ValueError(f"batch_norm: {name} must have shape ({C},) for {C} channels, "
                             f"got {_arr(t).shape}")
    if training:
        if x.size // C <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input shape {x.shape}")
    elif running_mean is None or running_var is None:
        raise ValueError("batch_norm: running_mean and running_var are needed when not training")
    rm = None if running_mean is None else _arr(running_mean)
    rv = None if running_var is None else _arr(running_var)
    return BatchNormFn.apply(input, weight, bias, rm, rv, eps, training, momentum)
