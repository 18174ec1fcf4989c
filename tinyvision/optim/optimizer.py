"""The optimizer base class: parameter groups, per-parameter state, checkpoints.

An optimizer walks its parameters and applies an update rule

    p ← p − lr · u(g, state)

to each parameter ``p`` with gradient ``g = p.grad``, where ``u`` is the
optimizer's direction (the gradient itself for plain SGD, a momentum buffer, an
Adam ratio m̂ / (√v̂ + ε), ...). Subclasses write ``u``; this module does the
bookkeeping they share, with PyTorch's names and semantics:

- ``param_groups``: a list of dicts. Each holds ``"params"`` (a list of
  parameters) and that group's options (``lr``, ``momentum``, ...); an option a
  group leaves out takes the optimizer's ``defaults``.
- ``state``: a dict from parameter object to that parameter's state dict
  (``momentum_buffer``, ``exp_avg``, ...), filled lazily on the first step.
- ``state_dict()``: the same information with each parameter replaced by its
  index in the order of ``param_groups`` (0, 1, 2, ...): only arrays, numbers,
  lists and dicts, which load into a fresh optimizer built over the same
  parameters (``load_state_dict``).

A parameter is anything with ``.data`` (an ndarray, updated in place) and
``.grad`` (an ndarray of the same shape, or None): ``tinyvision.nn.Parameter``
in practice. Parameters whose ``.grad`` is None are skipped by ``step()``.

References
----------
- PyTorch documentation, ``torch.optim.Optimizer`` (the interface followed here).
"""
import copy
from collections import defaultdict

import numpy as np

from ..autograd.grad_mode import enable_grad


def _is_param(obj):
    return hasattr(obj, "data") and hasattr(obj, "grad")


class Optimizer:
    """Base class of all optimizers.

    Parameters
    ----------
    params : iterable of Parameters, or iterable of dicts
        The parameters to optimize, or parameter groups: dicts with a
        ``"params"`` entry and per-group options that override ``defaults``.
    defaults : dict
        Default options for every group.
    """

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self._check_options(self.defaults)
        self.state = defaultdict(dict)
        self.param_groups = []

        name = type(self).__name__
        if _is_param(params) or isinstance(params, (np.ndarray, dict)):
            raise TypeError(f"{name}: params must be an iterable of Parameters or of "
                            f"dicts, got a single {type(params).__name__}; wrap it in a list")
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: params must be an ordered collection (list, tuple), "
                            f"got a set, whose order changes between runs")
        groups = list(params)
        if len(groups) == 0:
            raise ValueError(f"{name}: params must be a non-empty iterable of "
                             f"Parameters or dicts, got an empty one")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def _check_options(self, options):
        """Raise ValueError for an out-of-range option. Subclasses extend this."""

    def _fail(self, option, expected, got):
        raise ValueError(f"{type(self).__name__}: {option} must be {expected}, got {got!r}")

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group):
        """Add a group of parameters (a dict with ``"params"`` and options)."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: param_group must be a dict, "
                            f"got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}.add_param_group: param_group must have a 'params' entry")
        group = dict(param_group)
        params = group["params"]
        if _is_param(params):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: params must be an ordered collection (list, tuple), "
                            f"got a set, whose order changes between runs")
        group["params"] = list(params)

        for i, p in enumerate(group["params"]):
            if not _is_param(p):
                raise TypeError(f"{name}: params[{i}] must be a Parameter (an object with "
                                f".data and .grad), got {type(p).__name__}")
            if not np.issubdtype(p.data.dtype, np.floating):
                raise TypeError(f"{name}: params[{i}] must have a floating dtype, "
                                f"got {p.data.dtype}")
        for key, default in self.defaults.items():
            group.setdefault(key, default)
        self._check_options(group)

        ids = [id(p) for p in group["params"]]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{name}: a parameter group holds the same parameter twice")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if seen.intersection(ids):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # --------------------------------------------------------------- stepping
    def zero_grad(self, set_to_none=True):
        """Reset every parameter's gradient: to None (default) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad[...] = 0

    def step(self, closure=None):
        """Update the parameters once. ``closure`` re-evaluates and returns the loss."""
        raise NotImplementedError

    # ------------------------------------------------------------ checkpoints
    def state_dict(self):
        """Return ``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``.

        Parameters are numbered in the order of ``param_groups``; state arrays
        are copies, so the dict does not change when training goes on.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {index[id(p)]: copy.deepcopy(s)
                 for p, s in self.state.items() if id(p) in index and s}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load a dict made by ``state_dict()`` into this optimizer.

        The optimizer must have been built over parameters of the same number,
        group sizes and order. Floating state arrays are cast to their
        parameter's dtype; the group options (lr, betas, ...) are replaced by
        the saved ones.
        """
        name = type(self).__name__
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: expected {len(self.param_groups)} "
                             f"parameter groups, got {len(saved_groups)}")
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} has "
                                 f"{len(g['params'])} parameters, the saved one has "
                                 f"{len(s['params'])}")

        by_index = {}
        for g, s in zip(self.param_groups, saved_groups):
            by_index.update(zip(s["params"], g["params"]))
        self.state = defaultdict(dict)
        for key, value in state_dict["state"].items():
            key = int(key)  # JSON turns the integer keys into strings
            if key not in by_index:
                raise ValueError(f"{name}.load_state_dict: state for parameter {key}, "
                                 f"which no parameter group lists")
            p = by_index[key]
            self.state[p] = {k: _cast_like(v, p.data) for k, v in value.items()}

        new_groups = []
        for g, s in zip(self.param_groups, saved_groups):
            group = {k: copy.deepcopy(v) for k, v in s.items() if k != "params"}
            group["params"] = g["params"]
            new_groups.append(group)
        self.param_groups = new_groups


def call_closure(closure):
    """Run ``closure()`` with graph recording on, even inside ``no_grad()``, as PyTorch does."""
    with enable_grad():
        return closure()


def _cast_like(value, like):
    """Deep-copy ``value``, casting floating arrays to ``like``'s dtype and array module."""
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_like(v, like) for v in value)
    if hasattr(value, "dtype") and getattr(value, "ndim", 0) > 0:
        xp = _array_module(like)
        if np.issubdtype(value.dtype, np.floating):
            return xp.array(value, dtype=like.dtype, copy=True)
        return xp.array(value, copy=True)
    return copy.deepcopy(value)


def _array_module(a):
    """NumPy for a NumPy array, CuPy for a CuPy array (the ``xp`` switch)."""
    if type(a).__module__.startswith("cupy"):
        import cupy
        return cupy
    return np
