"""Adam, AMSGrad and AdamW: adaptive moment estimation.

For each parameter p with gradient g at step t = 1, 2, ... (β₁, β₂ betas,
λ weight decay, ε eps):

    g ← −g                                  if maximize
    g ← g + λ·p                             Adam: L2 decay folded into g
    p ← p − lr·λ·p                          AdamW: decay decoupled from g
    m ← β₁·m + (1 − β₁)·g                   first moment,  Kingma & Ba Alg. 1
    v ← β₂·v + (1 − β₂)·g²                  second moment
    v_max ← max(v_max, v)                   AMSGrad only; then v is read as v_max
    m̂ = m / (1 − β₁ᵗ),   v̂ = v / (1 − β₂ᵗ)  bias corrections
    p ← p − lr · m̂ / (√v̂ + ε)

m and v start at zero, so early on they are biased towards zero by the factors
(1 − β₁ᵗ) and (1 − β₂ᵗ); the corrections undo that (Kingma & Ba §3).

AdamW (Loshchilov & Hutter 2019, Alg. 2) shrinks p directly instead of adding
λ·p to the gradient: with Adam the decay term would be divided by √v̂ like
the gradient, so weights with large gradients would be decayed less.

References
----------
- Kingma & Ba (2015). Adam: A method for stochastic optimization. ICLR.
- Reddi, Kale & Kumar (2018). On the convergence of Adam and beyond. ICLR (AMSGrad).
- Loshchilov & Hutter (2019). Decoupled weight decay regularization. ICLR (AdamW).
- PyTorch documentation, ``torch.optim.Adam`` and ``torch.optim.AdamW``.
"""
import numpy as np

from .optimizer import Optimizer, call_closure


class Adam(Optimizer):
    """Adam (and AMSGrad with ``amsgrad=True``), as ``torch.optim.Adam``.

    Parameters
    ----------
    params : iterable of Parameters or dicts
    lr : float, learning rate (default 1e-3)
    betas : (float, float), decay rates (β₁, β₂) of the moment averages, each in [0, 1)
    eps : float, added to √v̂ for numerical stability (default 1e-8)
    weight_decay : float, λ: L2 penalty added to the gradient (default 0)
    amsgrad : bool, normalise by the running maximum of v (Reddi et al. 2018)
    maximize : bool, ascend the objective instead of descending it

    State per parameter: ``step`` (int), ``exp_avg`` (m), ``exp_avg_sq`` (v)
    and, with amsgrad, ``max_exp_avg_sq`` (v_max); arrays in the parameter's dtype.
    """

    _decoupled = False  # AdamW sets this: decay p directly instead of through g

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, maximize=False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize)
        super().__init__(params, defaults)

    def _check_options(self, o):
        if not o["lr"] >= 0:
            self._fail("lr", ">= 0", o["lr"])
        if not o["eps"] >= 0:
            self._fail("eps", ">= 0", o["eps"])
        if len(o["betas"]) != 2:
            self._fail("betas", "a pair (beta1, beta2)", o["betas"])
        for i, beta in enumerate(o["betas"]):
            if not 0 <= beta < 1:
                self._fail(f"betas[{i}]", "in [0, 1)", beta)
        if not o["weight_decay"] >= 0:
            self._fail("weight_decay", ">= 0", o["weight_decay"])

    def step(self, closure=None):
        """Update every parameter that has a gradient; return ``closure()`` if given."""
        loss = call_closure(closure) if closure is not None else None
        for group in self.param_groups:
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = -p.grad if group["maximize"] else p.grad
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(p.data)
                    state["exp_avg_sq"] = np.zeros_like(p.data)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = np.zeros_like(p.data)
                state["step"] += 1
                t = state["step"]

                if wd != 0:
                    if self._decoupled:
                        p.data *= 1 - lr * wd
                    else:
                        g = g + wd * p.data

                m, v = state["exp_avg"], state["exp_avg_sq"]
                m *= beta1
                m += (1 - beta1) * g
                v *= beta2
                v += (1 - beta2) * g * g
                if group["amsgrad"]:
                    np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                    v = state["max_exp_avg_sq"]

                # NOTE: the bias corrections are Python floats (float64) even for
                # float32 parameters: 1 − β₂ᵗ is ~1e-3 at t = 1 and would lose
                # digits in float32. They are applied to the scalars, not to the
                # arrays: m̂/(√v̂ + ε) = (m / bc1) / (√v / √bc2 + ε).
                bias_correction1 = 1 - beta1 ** t
                bias_correction2 = 1 - beta2 ** t
                # NOTE: ε is added outside the square root, after the bias
                # correction (Kingma & Ba Alg. 1). √(v̂ + ε) or √v + ε would give
                # different steps whenever √v̂ is not much larger than ε.
                denom = np.sqrt(v) / bias_correction2 ** 0.5 + eps
                p.data -= (lr / bias_correction1) * (m / denom)
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019), as ``torch.optim.AdamW``.

    Same arguments as ``Adam`` but ``weight_decay`` defaults to 1e-2 and shrinks
    the parameter directly, p ← p·(1 − lr·λ), before the Adam step.
    """

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)
