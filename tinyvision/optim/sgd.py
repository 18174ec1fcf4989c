"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

For each parameter p with gradient g (μ momentum, τ dampening, λ weight decay):

    g ← −g                          if maximize
    g ← g + λ·p                     (L2 weight decay, folded into the gradient)
    v ← g                           on the first step (no dampening)
    v ← μ·v + (1 − τ)·g             on later steps
    g ← g + μ·v    (Nesterov)   or  g ← v    (classical momentum)
    p ← p − lr·g

This is PyTorch's form, which differs from Sutskever et al. (2013) Eq. (1)-(2)
(v ← μ·v − lr·g; p ← p + v) only in where lr sits: the two agree while lr is
constant, but here changing lr rescales the next step at once instead of
fading in through the buffer. The Nesterov line is Sutskever et al. (2013)
Eq. (3)-(4) (gradient taken at the look-ahead point p + μ·v) rewritten so that
the stored parameter is the look-ahead one, as in Bengio et al. (2013).

References
----------
- Sutskever, Martens, Dahl & Hinton (2013). On the importance of initialization
  and momentum in deep learning. ICML.
- Bengio, Boulanger-Lewandowski & Pascanu (2013). Advances in optimizing
  recurrent networks. ICASSP.
- Polyak (1964). Some methods of speeding up the convergence of iteration methods.
- PyTorch documentation, ``torch.optim.SGD``.
"""
from .optimizer import Optimizer, call_closure


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    Parameters
    ----------
    params : iterable of Parameters or dicts
    lr : float, learning rate (default 1e-3)
    momentum : float, μ (default 0)
    dampening : float, τ: the share of the gradient left out of the buffer (default 0)
    weight_decay : float, λ: L2 penalty (default 0)
    nesterov : bool, Nesterov momentum; needs momentum > 0 and dampening = 0
    maximize : bool, ascend the objective instead of descending it

    State per parameter: ``momentum_buffer`` (same shape and dtype as the
    parameter), when momentum ≠ 0.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _check_options(self, o):
        if not o["lr"] >= 0:
            self._fail("lr", ">= 0", o["lr"])
        if not o["momentum"] >= 0:
            self._fail("momentum", ">= 0", o["momentum"])
        if not o["weight_decay"] >= 0:
            self._fail("weight_decay", ">= 0", o["weight_decay"])
        if o["nesterov"] and (o["momentum"] <= 0 or o["dampening"] != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening = 0, "
                             f"got momentum={o['momentum']!r}, dampening={o['dampening']!r}")

    def step(self, closure=None):
        """Update every parameter that has a gradient; return ``closure()`` if given."""
        loss = call_closure(closure) if closure is not None else None
        for group in self.param_groups:
            lr, mu, tau = group["lr"], group["momentum"], group["dampening"]
            wd = group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = -p.grad if group["maximize"] else p.grad
                if wd != 0:
                    g = g + wd * p.data  # a new array: p.grad itself is left as it is
                if mu != 0:
                    v = self.state[p].get("momentum_buffer")
                    if v is None:
                        # NOTE: the first step stores g itself, undamped (PyTorch's rule).
                        v = self.state[p]["momentum_buffer"] = g.copy()
                    else:
                        v *= mu
                        v += (1 - tau) * g
                    g = g + mu * v if group["nesterov"] else v
                p.data -= lr * g
        return loss
