"""``Tensor``: an ndarray that remembers how it was made, so gradients can flow back.

A Tensor is a thin record: ``data`` (the NumPy array, or a CuPy array on a GPU), ``grad``
(an array of the same shape once backward has run, else None), ``requires_grad`` and
``grad_fn`` (the backward node of the op that made it; None for leaves). All arithmetic
lives in ``tinyvision.functional``; the methods here only forward to it, so there is one
place to read each op.

dtype rules (PyTorch's): an ndarray keeps its dtype; Python floats become float32 and Python
ints int64; a Python scalar in an op takes the tensor's dtype.
"""
import numpy as np

from .autograd import grad_mode
from .random import default_generator

float16, float32, float64 = np.float16, np.float32, np.float64
int32, int64, uint8, bool_ = np.int32, np.int64, np.uint8, np.bool_


def as_array(data, dtype=None, copy=False):
    """ndarray from Tensor/ndarray/list/scalar with tinyvision's dtype rules."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"tensor: dtype must be a NumPy dtype or its name, got {dtype!r}") from None
    if isinstance(data, np.generic):  # a NumPy scalar keeps its dtype, as an ndarray does
        data = np.asarray(data)
    if hasattr(data, "__cuda_array_interface__"):  # a CuPy array stays on its device
        return data.astype(dtype, copy=copy) if dtype is not None else (data.copy() if copy else data)
    if isinstance(data, np.ndarray):
        # copy=None: NumPy 2 reads copy=False as "never copy" and refuses a cast that needs one.
        return np.array(data, dtype=dtype, copy=copy or None) if (copy or dtype is not None) else data
    try:
        arr = np.asarray(data, dtype=dtype)
    except ValueError as e:
        why = ("ragged nested lists: every row must have the same length"
               if "inhomogeneous" in str(e) else str(e))
        raise ValueError(f"tensor: cannot make a tensor from this {type(data).__name__} "
                         f"({why})") from None
    if dtype is None and arr.dtype == np.float64:
        arr = arr.astype(np.float32)  # Python floats are float32, as in PyTorch
    if arr.dtype.kind in "OUSV":  # objects, strings, bytes, records
        raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__} "
                        f"(non-numeric items, NumPy dtype {arr.dtype})")
    return arr


class Tensor:
    """A multi-dimensional array with autograd; see ``tinyvision.tensor`` for the dtype rules.

    Parameters
    ----------
    data : array_like
    requires_grad : bool
        Record ops on this tensor so ``backward`` can fill its ``.grad``.
    dtype : NumPy dtype or name, optional
    """

    __slots__ = ("data", "grad", "requires_grad", "grad_fn", "_output_index", "__weakref__")
    __array_priority__ = 1000  # ndarray (op) Tensor goes to Tensor's reflected operator

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = as_array(data, dtype)
        self.grad = None
        self.grad_fn = None
        self._output_index = 0
        self.requires_grad = False
        self.requires_grad_(requires_grad)

    # ---- what it is -------------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    is_leaf = property(lambda self: self.grad_fn is None)
    device = property(lambda self: "cpu" if isinstance(self.data, np.ndarray) else "cuda")

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self):
        return self.data.ndim

    def numel(self):
        return int(self.data.size)

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __repr__(self):
        body = np.array2string(np.asarray(self.data), separator=", ", prefix="tensor(")
        extra = "" if self.dtype in (np.float32, np.int64, np.bool_) else f", dtype={self.dtype}"
        if self.grad_fn is not None:
            extra += f", grad_fn=<{self.grad_fn.fn.__name__}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ---- to and from NumPy --------------------------------------------------------------
    def numpy(self):
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors convert to a Python scalar, "
                             f"got shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    # ---- autograd -----------------------------------------------------------------------
    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.data.dtype.kind not in "fc":
            raise RuntimeError(f"requires_grad: only floating-point tensors can require "
                               f"gradients, got dtype {self.data.dtype}")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_: a non-leaf tensor cannot stop requiring grad; "
                               "use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def backward(self, gradient=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        ``gradient`` (dL/dself, same shape) may be omitted only when self has one element.
        """
        from .autograd.engine import run_backward

        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no grad_fn "
                               "(was it computed under no_grad, or from tensors without "
                               "requires_grad=True?)")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward: gradient can be omitted only for a one-element "
                                   f"output, this one has shape {self.shape}")
            gy = np.ones_like(self.data)
        else:
            gy = as_array(gradient)
            if gy.shape != self.shape:
                raise ValueError(f"backward: gradient must have the output's shape {self.shape}, "
                                 f"got {gy.shape}")
            gy = gy.astype(self.dtype, copy=False)
        run_backward(self, gy, retain_graph=retain_graph)

    def retain_grad(self):
        """Keep this interior tensor's gradient in ``.grad`` after backward (Grad-CAM uses it)."""
        if self.grad_fn is not None:
            from .autograd.function import retain
            retain(self)

    def detach(self):
        """Same data, cut from the graph."""
        return Tensor._make(self.data)

    @staticmethod
    def _make(array, requires_grad=False):
        t = Tensor.__new__(Tensor)
        t.data, t.grad, t.grad_fn, t._output_index = array, None, None, 0
        t.requires_grad = requires_grad
        return t

    # ---- in place (only where no graph is watching) ---------------------------------------
    def _check_inplace(self, name):
        if grad_mode._enabled and (self.requires_grad or self.grad_fn is not None):
            raise RuntimeError(f"{name}: in-place change of a tensor that requires grad; "
                               "wrap it in tv.no_grad() (as an optimizer does) or build a new tensor")

    def __setitem__(self, index, value):
        self._check_inplace("__setitem__")
        self.data[_index_array(index)] = as_array(value)

    def copy_(self, src):
        self._check_inplace("copy_")
        self.data[...] = as_array(src)
        return self

    def fill_(self, value):
        self._check_inplace("fill_")
        self.data.fill(value)
        return self

    def zero_(self):
        return self.fill_(0)

    def add_(self, other, alpha=1):
        self._check_inplace("add_")
        self.data += alpha * as_array(other)
        return self

    def mul_(self, other):
        self._check_inplace("mul_")
        self.data *= as_array(other)
        return self

    def uniform_(self, a=0.0, b=1.0):
        self._check_inplace("uniform_")
        self.data[...] = default_generator().uniform(a, b, self.shape)
        return self

    def normal_(self, mean=0.0, std=1.0):
        self._check_inplace("normal_")
        self.data[...] = default_generator().normal(mean, std, self.shape)
        return self


def _index_array(index):
    """Tensors inside an index become their arrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


def tensor(data, requires_grad=False, dtype=None):
    """A new Tensor holding a copy of ``data`` (as ``torch.tensor``)."""
    return Tensor(as_array(data, dtype, copy=True), requires_grad=requires_grad)


def from_numpy(array):
    """A Tensor sharing memory with ``array`` (as ``torch.from_numpy``)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an ndarray, got {type(array).__name__}")
    return Tensor(array)


def _shape(size):
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)


def zeros(*size, dtype=np.float32, requires_grad=False):
    return Tensor(np.zeros(_shape(size), dtype), requires_grad)


def ones(*size, dtype=np.float32, requires_grad=False):
    return Tensor(np.ones(_shape(size), dtype), requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False):
    return Tensor(np.full(size, fill_value, dtype or as_array(fill_value).dtype), requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    return Tensor(np.zeros_like(as_array(t), dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return Tensor(np.ones_like(as_array(t), dtype), requires_grad)


def arange(start, end=None, step=1, dtype=None):
    arr = np.arange(start, end, step) if end is not None else np.arange(start)
    return Tensor(arr if dtype is None else arr.astype(dtype), dtype=np.float32 if (
        dtype is None and arr.dtype == np.float64) else None)


def linspace(start, end, steps, dtype=np.float32):
    return Tensor(np.linspace(start, end, steps, dtype=dtype))


def eye(n, m=None, dtype=np.float32):
    return Tensor(np.eye(n, m, dtype=dtype))


def rand(*size, dtype=np.float32, requires_grad=False):
    return Tensor(default_generator().random(_shape(size)).astype(dtype), requires_grad)


def randn(*size, dtype=np.float32, requires_grad=False):
    return Tensor(default_generator().standard_normal(_shape(size)).astype(dtype), requires_grad)


def randint(low, high, size, dtype=np.int64):
    return Tensor(default_generator().integers(low, high, size).astype(dtype))


def randperm(n):
    return Tensor(default_generator().permutation(n).astype(np.int64))


# ---- operators and methods: each forwards to tinyvision.functional --------------------------
from . import functional as F  # noqa: E402  (functional needs Tensor defined first)


def _method(fn):
    def method(self, *args, **kwargs):
        return fn(self, *args, **kwargs)
    method.__name__ = fn.__name__
    method.__doc__ = fn.__doc__
    return method


def _reflected(fn):
    return lambda self, other: fn(other, self)


def _compare(op):
    return lambda self, other: Tensor._make(op(self.data, as_array(other)))


for _name in ("sum", "mean", "amax", "amin", "argmax", "argmin", "var", "std", "exp", "log",
              "sqrt", "abs", "clamp", "clip", "relu", "sigmoid", "tanh", "softmax",
              "log_softmax", "reshape", "view", "flatten", "transpose", "permute", "squeeze",
              "unsqueeze", "expand", "split", "chunk", "pow", "matmul", "maximum", "minimum",
              "add", "sub", "mul", "div", "neg"):
    setattr(Tensor, _name, _method(getattr(F, _name)))

Tensor.max = _method(F.max)
Tensor.min = _method(F.min)
Tensor.__add__, Tensor.__radd__ = F.add, _reflected(F.add)
Tensor.__sub__, Tensor.__rsub__ = F.sub, _reflected(F.sub)
Tensor.__mul__, Tensor.__rmul__ = F.mul, _reflected(F.mul)
Tensor.__truediv__, Tensor.__rtruediv__ = F.div, _reflected(F.div)
Tensor.__pow__, Tensor.__rpow__ = F.pow, _reflected(F.pow)
Tensor.__matmul__, Tensor.__rmatmul__ = F.matmul, _reflected(F.matmul)
Tensor.__neg__ = F.neg
Tensor.__abs__ = F.abs
Tensor.__getitem__ = F.getitem
Tensor.__lt__, Tensor.__le__ = _compare(np.less), _compare(np.less_equal)
Tensor.__gt__, Tensor.__ge__ = _compare(np.greater), _compare(np.greater_equal)
Tensor.__eq__ = Tensor.eq = _compare(np.equal)      # elementwise, as PyTorch
Tensor.__ne__ = Tensor.ne = _compare(np.not_equal)
Tensor.__hash__ = object.__hash__  # but dict keys by identity (optimizer state), as PyTorch


def _bool(self):
    if self.data.size != 1:
        raise RuntimeError(f"bool: the truth value of a tensor with {self.data.size} elements "
                           "is ambiguous; use .any() or .all()")
    return bool(self.data)


Tensor.__bool__ = _bool
Tensor.any = lambda self: Tensor._make(np.asarray(self.data.any()))
Tensor.all = lambda self: Tensor._make(np.asarray(self.data.all()))
Tensor.T = property(lambda self: F.permute(self, tuple(reversed(range(self.ndim)))))
Tensor.t = lambda self: F.transpose(self, 0, 1) if self.ndim == 2 else self
Tensor.expand_as = lambda self, other: F.expand(self, other.shape)
Tensor.view_as = lambda self, other: F.reshape(self, other.shape)
Tensor.contiguous = lambda self: self
Tensor.clone = lambda self: F.mul(self, 1)
Tensor.where = lambda self, condition, other: F.where(condition, self, other)


from .autograd.function import Function  # noqa: E402


class _CastFn(Function):
    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, gy):
        return gy.astype(ctx.dtype), None


def _to(self, target):
    """``t.to(dtype)``: a differentiable cast; ``t.to("cpu")`` / ``t.to("cuda")``: a device move."""
    if isinstance(target, str) and target in ("cpu", "cuda") or str(target).startswith("cuda:"):
        if str(target) == self.device or str(target).split(":")[0] == self.device:
            return self
        from .backend import move_to
        return move_to(self, str(target))
    dtype = np.dtype(target)
    return self if dtype == self.dtype else _CastFn.apply(self, dtype)


Tensor.to = _to
Tensor.type = _to
Tensor.float = lambda self: _to(self, np.float32)
Tensor.double = lambda self: _to(self, np.float64)
Tensor.long = lambda self: _to(self, np.int64)
Tensor.int = lambda self: _to(self, np.int32)
Tensor.bool = lambda self: _to(self, np.bool_)
