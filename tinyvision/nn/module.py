"""``Module`` and ``Parameter``: the container every layer and model is made of.

A Module keeps its Parameters, buffers (non-learned state such as BatchNorm's running mean)
and sub-modules as attributes; assigning one registers it, as in PyTorch, so
``named_parameters``, ``state_dict`` and ``train``/``eval`` find everything by walking the tree.
"""
import itertools
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from ..serialization import load, save
from ..tensor import Tensor, as_array


class Parameter(Tensor):
    """A Tensor that is a learned weight: ``requires_grad=True`` and found by ``parameters()``."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        super().__init__(as_array(data), requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and models: subclass, assign parts in ``__init__``, write ``forward``."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration -------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 "assigning attributes")
        if name in self._buffers and (value is None or type(value) is Tensor):
            self._buffers[name] = value  # a new value for a buffer stays a buffer (as PyTorch)
            return
        target = (self._parameters if isinstance(value, Parameter) else
                  self._modules if isinstance(value, Module) else None)
        for store in (self._parameters, self._buffers, self._modules):
            if store is not target:  # a replaced entry keeps its place in the order
                store.pop(name, None)
        if target is None:
            object.__setattr__(self, name, value)
        else:
            self.__dict__.pop(name, None)
            target[name] = value

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name, tensor):
        """Non-learned state saved in the state dict (running statistics, counters)."""
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor if tensor is None or isinstance(tensor, Tensor) else Tensor(tensor)

    def register_parameter(self, name, param):
        self._parameters[name] = param

    def add_module(self, name, module):
        self._modules[name] = module

    # ---- calling ------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        out = self.forward(*args, **kwargs)
        for hook in self._forward_hooks.values():
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    def register_forward_hook(self, hook):
        """Call ``hook(module, inputs, output)`` after each forward (CAM/Grad-CAM use this).
        Returns a handle whose ``remove()`` unregisters it."""
        key = next(_hook_ids)  # not id(hook): the same function may be registered twice
        self._forward_hooks[key] = hook
        return _RemovableHandle(self._forward_hooks, key)

    # ---- walking the tree ---------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(name, module) for this module and all below it, depth first. A module reachable
        by two names is listed once, under the first, unless ``remove_duplicate=False``."""
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, prefix + ("." if prefix else "") + name,
                                           remove_duplicate)

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_children(self):
        return ((n, m) for n, m in self._modules.items() if m is not None)

    def children(self):
        return (m for _, m in self.named_children())

    def _named(self, store, prefix, recurse):
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, m in modules:
            for name, t in getattr(m, store).items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))  # a shared weight is listed once
                yield mod_prefix + ("." if mod_prefix else "") + name, t

    def named_parameters(self, prefix="", recurse=True):
        return self._named("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix="", recurse=True):
        return self._named("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        return (b for _, b in self.named_buffers(recurse=recurse))

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients --------------------------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def to(self, target):
        """Cast floating parameters and buffers to a dtype, or move them to 'cpu'/'cuda'."""
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for name, t in store.items():
                    if t is not None and (t.dtype.kind == "f" or isinstance(target, str)):
                        moved = t.to(target)
                        t.data = moved.data
                        if t.grad is not None:
                            t.grad = t.grad.astype(t.dtype) if not isinstance(target, str) else None
        return self

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    # ---- state --------------------------------------------------------------------------
    def state_dict(self):
        """Every parameter and buffer by dotted name, as arrays (shared with the model)."""
        out = OrderedDict()
        for m_prefix, m in self.named_modules(remove_duplicate=False):  # every name, as PyTorch
            dot = m_prefix + ("." if m_prefix else "")
            for store in (m._parameters, m._buffers):
                for name, t in store.items():
                    if t is not None:
                        out[dot + name] = t.data
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into the parameters and buffers, after checking every key and shape.

        Nothing is changed unless everything fits. With ``strict=False`` missing and
        unexpected keys are allowed (shapes must still match). Returns (missing, unexpected).
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict ({type(self).__name__}): expected a dict of arrays "
                            f"(from state_dict() or tv.load), got {type(state_dict).__name__}")
        own = {}
        for m_prefix, m in self.named_modules(remove_duplicate=False):
            dot = m_prefix + ("." if m_prefix else "")
            for store in (m._parameters, m._buffers):
                for name, t in store.items():
                    if t is not None:
                        own[dot + name] = t
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {unexpected}")
        for k, t in own.items():
            if k in state_dict and np.shape(state_dict[k]) != t.shape:
                problems.append(f"shape mismatch for {k!r}: the model has {t.shape}, "
                                f"the state dict {np.shape(state_dict[k])}")
        if problems:
            raise ValueError(f"load_state_dict ({type(self).__name__}): " + "; ".join(problems))
        for k, t in own.items():
            if k in state_dict:
                t.data[...] = as_array(state_dict[k])
        return missing, unexpected

    def save(self, path):
        """Write the state dict to ``path`` (.npz), atomically."""
        save(dict(self.state_dict()), path)

    def load(self, path, strict=True):
        """Read a state dict written by ``save`` into this model (checked before any change)."""
        return self.load_state_dict(load(path), strict=strict)

    # ---- printing -----------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self.named_children()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


_hook_ids = itertools.count()


class _RemovableHandle:
    def __init__(self, store, key):
        self.store, self.key = store, key

    def remove(self):
        self.store.pop(self.key, None)
