"""Learning-rate schedules, as ``torch.optim.lr_scheduler``.

A scheduler rewrites ``group["lr"]`` of its optimizer's parameter groups each
time ``step()`` is called (once per epoch or iteration, after
``optimizer.step()``). ``last_epoch`` counts the calls; building a scheduler
counts as the first (last_epoch = 0). With η₀ the group's initial lr and
t = last_epoch:

    StepLR             η_t = η₀ · γ^⌊t / step_size⌋
    MultiStepLR        η_t = η₀ · γ^(number of milestones ≤ t)
    ExponentialLR      η_t = η₀ · γ^t
    LambdaLR           η_t = η₀ · λ(t)
    LinearLR           η_t = η₀ · (s + (e − s) · min(t, T) / T)       (warm-up)
    CosineAnnealingLR  η_t = η_min + ½(η₀ − η_min)(1 + cos(π t / T_max))

Like PyTorch, all but LambdaLR apply these *recursively*, as a factor on the
current lr (η_t = η_{t−1} · γ, ...). That gives the same values when the
scheduler is the only thing changing the lr, and composes when it is not
(e.g. a warm-up and a decay stepped together). For the cosine schedule the
recursive form is (SGDR, Loshchilov & Hutter 2017, without restarts)

    η_t = η_min + (η_{t−1} − η_min) · (1 + cos(π t / T)) / (1 + cos(π (t−1) / T)),  T = T_max

except at t = T_max + 1 + 2k·T_max, where the denominator is 1 + cos(π) = 0 and
PyTorch instead adds (η₀ − η_min)(1 − cos(π / T_max)) / 2: past T_max the lr
climbs back up along the cosine, with period 2·T_max.

References
----------
- Loshchilov & Hutter (2017). SGDR: Stochastic gradient descent with warm
  restarts. ICLR.
- Goyal et al. (2017). Accurate, large minibatch SGD: training ImageNet in 1
  hour (linear warm-up).
- PyTorch documentation, ``torch.optim.lr_scheduler``.
"""
import copy
import math
import types
from collections import Counter

from .optimizer import Optimizer


class LRScheduler:
    """Base class: subclasses define ``get_lr()``, the lrs for ``self.last_epoch``."""

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: optimizer must be an Optimizer, "
                            f"got {type(optimizer).__name__}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{type(self).__name__}: resuming with last_epoch="
                                   f"{last_epoch} needs param_groups[{i}]['initial_lr'] "
                                   f"(load the optimizer's state_dict first)")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        # The constructor's own step: moves last_epoch to 0 (or on by one when
        # resuming); schedules that only scale the current lr leave it as it is.
        self._is_initial = True
        self.step()
        self._is_initial = False

    def get_lr(self):
        raise NotImplementedError

    def get_last_lr(self):
        """The lrs set by the latest ``step()``, one per parameter group."""
        return list(self._last_lr)

    def step(self):
        """Advance one epoch and write the new lrs into the optimizer."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _current_lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self):
        """Everything but the optimizer: ``last_epoch``, ``base_lrs``, the options."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict):
        self.__dict__.update(copy.deepcopy(state_dict))


def _check_positive_int(scheduler, name, value):
    if not (isinstance(value, int) and value > 0):
        raise ValueError(f"{type(scheduler).__name__}: {name} must be a positive int, "
                         f"got {value!r}")


class LambdaLR(LRScheduler):
    """η_t = η₀ · lr_lambda(t); ``lr_lambda`` is a function or one per group."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"LambdaLR: lr_lambda must have one function per "
                                 f"parameter group ({n}), got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * fn(self.last_epoch)
                for fn, base_lr in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self):
        # Plain functions and lambdas are not saved (a checkpoint holds no code);
        # the attributes of callable objects are.
        state = {k: copy.deepcopy(v) for k, v in self.__dict__.items()
                 if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else dict(fn.__dict__)
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict):
        state_dict = copy.deepcopy(state_dict)
        saved = state_dict.pop("lr_lambdas")
        self.__dict__.update(state_dict)
        for fn, attrs in zip(self.lr_lambdas, saved):
            if attrs is not None:
                fn.__dict__.update(attrs)


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        _check_positive_int(self, "step_size", step_size)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class MultiStepLR(LRScheduler):
    """Multiply the lr by ``gamma`` at each epoch listed in ``milestones``."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = Counter(milestones)  # a repeated milestone decays twice
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [lr * factor for lr in self._current_lrs()]


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every epoch."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class LinearLR(LRScheduler):
    """Scale the lr by a factor going linearly from ``start_factor`` to ``end_factor``
    over ``total_iters`` epochs, then keep it (a linear warm-up with the defaults).
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5,
                 last_epoch=-1):
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor!r}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor!r}")
        _check_positive_int(self, "total_iters", total_iters)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._current_lrs()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        # factor(t) / factor(t−1) with factor(t) = s + (e − s)·t/T
        s, e, T, t = self.start_factor, self.end_factor, self.total_iters, self.last_epoch
        ratio = 1.0 + (e - s) / (T * s + (t - 1) * (e - s))
        return [lr * ratio for lr in self._current_lrs()]


class CosineAnnealingLR(LRScheduler):
    """η_t = η_min + ½(η₀ − η_min)(1 + cos(π t / T_max)), applied recursively.

    Past T_max the lr rises again along the cosine (period 2·T_max), as in PyTorch.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        _check_positive_int(self, "T_max", T_max)
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if (t - 1 - T) % (2 * T) == 0:
            # The ratio below would divide by 1 + cos(π) = 0: step up from the
            # minimum by the first cosine increment instead.
            return [lr + (base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for lr, base_lr in zip(self._current_lrs(), self.base_lrs)]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - eta_min) + eta_min for lr in self._current_lrs()]
