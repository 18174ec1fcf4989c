"""Optimizers and learning-rate schedules, with PyTorch's names and update rules.

    SGD      p ← p − lr·v,  v ← μ·v + (1 − τ)·g           (sgd.py)
    Adam     p ← p − lr·m̂ / (√v̂ + ε)                      (adam.py)
    AdamW    Adam with p ← p·(1 − lr·λ) decoupled decay   (adam.py)
    LBFGS    p ← p + t·d,  d = −H·g by the two-loop recursion, strong-Wolfe t (lbfgs.py)

Schedulers live in ``tinyvision.optim.lr_scheduler``.

References
----------
- Sutskever et al. (2013); Kingma & Ba (2015); Loshchilov & Hutter (2019);
  Nocedal & Wright (2006). Full citations in each module.
"""
from . import lr_scheduler
from .adam import Adam, AdamW
from .lbfgs import LBFGS
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "LBFGS", "lr_scheduler"]
