"""``Function``: the one way a differentiable op is written, built-in or yours.

A Function is a class with two static methods on plain arrays, as ``torch.autograd.Function``::

    class SquareFn(Function):
        @staticmethod
        def forward(ctx, x):            # x: ndarray
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, gy):          # gy: dL/dy, same shape as y
            (x,) = ctx.saved_tensors
            return 2 * x * gy           # dL/dx = dL/dy * dy/dx

    y = SquareFn.apply(t)               # t a Tensor; y a Tensor that remembers ctx

``apply`` unwraps Tensor arguments to their arrays, runs ``forward``, and, when some input
needs a gradient and recording is on, keeps ``ctx`` as the output's ``grad_fn``: the node of
the graph that ``Tensor.backward`` walks. ``backward`` returns one gradient per positional
argument of ``forward`` (None for arguments that need none).
"""
import weakref

import numpy as np

from . import grad_mode
from ..tensor import Tensor


class Context:
    """What one call of a Function keeps for its backward: the graph node.

    Attributes
    ----------
    needs_input_grad : tuple of bool, one per positional argument of ``forward``.
    saved_tensors : tuple of arrays given to ``save_for_backward``.
    Any other attribute a Function sets (``ctx.stride = 2``) is kept too.
    """

    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays

    def mark_non_differentiable(self, *arrays):
        """Outputs that never carry a gradient (indices, masks)."""
        self.non_differentiable = {id(a) for a in arrays}

    def release(self):
        """Drop saved arrays and graph edges once backward has run (the memory goes back)."""
        fn = self.fn
        self.__dict__.clear()
        self.fn, self.released = fn, True


class Function:
    """Base class of differentiable ops: subclass and write ``forward``/``backward``."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        arrays = [a.data if isinstance(a, Tensor) else a for a in args]
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = Context()
        ctx.needs_input_grad = needs
        try:
            out = cls.forward(ctx, *arrays, **kwargs)
        except ValueError as e:
            # NumPy's broadcasting/matmul complaints, given the op's name and the shapes.
            shapes = ", ".join(str(getattr(a, "shape", type(a).__name__)) for a in arrays)
            raise ValueError(f"{_op_name(cls)}: {e} (input shapes: {shapes})") from None

        record = grad_mode._enabled and any(needs)
        if record:
            ctx.fn = cls
            ctx.inputs = tuple(a if n else None for a, n in zip(args, needs))
        if not isinstance(out, tuple):
            return _wrap(out, ctx if record else None, 0)
        if record:
            # Multi-output ops get zeros for outputs that no path used (PyTorch materialises
            # them too), so backward needs their shapes and dtypes.
            ctx.output_meta = [(o.shape, o.dtype) for o in out]
        return tuple(_wrap(o, ctx if record else None, i) for i, o in enumerate(out))


def _wrap(array, ctx, index):
    t = Tensor.__new__(Tensor)
    differentiable = (ctx is not None and array.dtype.kind in "fc"
                      and id(array) not in getattr(ctx, "non_differentiable", ()))
    if isinstance(array, np.generic):  # NumPy gives scalars for some 0-d results (x[0, 1], v @ v)
        array = np.asarray(array)
    t.data = array
    t.grad = None
    t.requires_grad = differentiable
    t.grad_fn = ctx if differentiable else None
    t._output_index = index
    return t


def _op_name(cls):
    name = cls.__name__
    return name[:-2].lower() if name.endswith("Fn") else name


def retain(tensor):
    """Ask backward to store ``tensor``'s gradient in ``tensor.grad`` though it is not a leaf."""
    ctx = tensor.grad_fn
    if not hasattr(ctx, "retained"):
        ctx.retained = {}
    ctx.retained[tensor._output_index] = weakref.ref(tensor)
