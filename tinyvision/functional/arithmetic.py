"""Pointwise arithmetic: + − × ÷, pow, neg, exp, log, sqrt, abs, clamp, where, maximum, minimum.

Each op is a Function whose backward is the chain rule for one elementary derivative,
followed by ``unbroadcast`` where the op broadcasts its inputs.
"""
import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor
from ._util import operand, unbroadcast


class AddFn(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = np.shape(a), np.shape(b)
        return np.add(a, b)

    @staticmethod
    def backward(ctx, gy):
        """z = a + b: dz/da = dz/db = 1, so each gets gy, summed over broadcast axes."""
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        return (unbroadcast(gy, sa) if na else None), (unbroadcast(gy, sb) if nb else None)


class SubFn(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = np.shape(a), np.shape(b)
        return np.subtract(a, b)

    @staticmethod
    def backward(ctx, gy):
        """z = a − b: dz/da = 1, dz/db = −1."""
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        return (unbroadcast(gy, sa) if na else None), (unbroadcast(-gy, sb) if nb else None)


class MulFn(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.multiply(a, b)

    @staticmethod
    def backward(ctx, gy):
        """z = a·b: dz/da = b, dz/db = a."""
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        return (unbroadcast(gy * b, np.shape(a)) if na else None,
                unbroadcast(gy * a, np.shape(b)) if nb else None)


class DivFn(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        if np.result_type(a, b).kind in "biu":  # int / int is float32, as in PyTorch
            return np.true_divide(a, b, dtype=np.float32)
        return np.true_divide(a, b)

    @staticmethod
    def backward(ctx, gy):
        """z = a / b: dz/da = 1/b, dz/db = −a/b²."""
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = gy / b
        return (unbroadcast(ga, np.shape(a)) if na else None,
                unbroadcast(-ga * a / b, np.shape(b)) if nb else None)


class PowFn(Function):
    @staticmethod
    def forward(ctx, a, b):
        y = np.power(a, b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        """z = aᵇ: dz/da = b·aᵇ⁻¹ (0 where b = 0), dz/db = aᵇ·ln a (0 where a = 0 and b ≥ 0),
        PyTorch's conventions."""
        a, b, y = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            # NOTE: at a = 0, b = 0 the formula is 0·0⁻¹ = nan, but a⁰ = 1 has derivative 0.
            with np.errstate(divide="ignore", invalid="ignore"):
                da = np.where(b == 0, 0, b * np.power(a, b - 1))
            ga = unbroadcast(gy * da, np.shape(a))
        if nb:
            with np.errstate(divide="ignore", invalid="ignore"):
                log_a = np.where((a == 0) & (b >= 0), 0, np.log(np.where(a == 0, 1, a)))
            gb = unbroadcast(gy * y * log_a, np.shape(b))
        return ga, gb


class NegFn(Function):
    @staticmethod
    def forward(ctx, a):
        return np.negative(a)

    @staticmethod
    def backward(ctx, gy):
        return -gy


class ExpFn(Function):
    @staticmethod
    def forward(ctx, a):
        y = np.exp(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        """d eˣ/dx = eˣ = y."""
        (y,) = ctx.saved_tensors
        return gy * y


class LogFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, gy):
        """d ln x/dx = 1/x."""
        (a,) = ctx.saved_tensors
        return gy / a


class SqrtFn(Function):
    @staticmethod
    def forward(ctx, a):
        y = np.sqrt(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        """d √x/dx = 1/(2√x) = 1/(2y)."""
        (y,) = ctx.saved_tensors
        return gy / (2 * y)


class AbsFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, gy):
        """d|x|/dx = sign(x), taken as 0 at x = 0 (PyTorch's choice)."""
        (a,) = ctx.saved_tensors
        return gy * np.sign(a)


class ClampFn(Function):
    @staticmethod
    def forward(ctx, a, lo=None, hi=None):
        ctx.save_for_backward(a)
        ctx.lo, ctx.hi = lo, hi
        return np.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, gy):
        """The gradient passes where lo ≤ x ≤ hi (bounds included, as PyTorch) and is 0 outside."""
        (a,) = ctx.saved_tensors
        keep = np.ones(a.shape, bool)
        if ctx.lo is not None:
            keep &= a >= ctx.lo
        if ctx.hi is not None:
            keep &= a <= ctx.hi
        return gy * keep


class WhereFn(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        ctx.shapes = np.shape(a), np.shape(b)
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, gy):
        """Each element's gradient goes to the input it was taken from."""
        (cond,) = ctx.saved_tensors
        _, na, nb = ctx.needs_input_grad
        zero = np.zeros((), gy.dtype)
        return (None,
                unbroadcast(np.where(cond, gy, zero), ctx.shapes[0]) if na else None,
                unbroadcast(np.where(cond, zero, gy), ctx.shapes[1]) if nb else None)


class MaximumFn(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, gy):
        """The larger input gets gy; on a tie each gets gy/2 (PyTorch's convention)."""
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        share = np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0)).astype(gy.dtype)
        return (unbroadcast(gy * share, np.shape(a)) if na else None,
                unbroadcast(gy * (1 - share), np.shape(b)) if nb else None)


# ---- public functions ---------------------------------------------------------------------
def _binary(fn, a, b):
    if not isinstance(a, Tensor) and isinstance(b, Tensor):
        return fn.apply(*_promote(operand(a, b), b))
    return fn.apply(*_promote(operand(a, a), operand(b, a)))


def _promote(a, b):
    """PyTorch's promotion across kinds: an integer or bool operand meeting a floating one
    takes the floating one's dtype (NumPy would make int64 + float32 a float64)."""
    ka, kb = _arr(a).dtype.kind, _arr(b).dtype.kind
    if ka in "biu" and kb in "fc":
        return _arr(a).astype(_arr(b).dtype), b
    if kb in "biu" and ka in "fc":
        return a, _arr(b).astype(_arr(a).dtype)
    return a, b


def _arr(x):
    return x.data if isinstance(x, Tensor) else x


def add(input, other, alpha=1):
    """input + alpha·other, broadcasting."""
    return _binary(AddFn, input, other if alpha == 1 else mul(other, alpha))


def sub(input, other, alpha=1):
    """input − alpha·other, broadcasting."""
    return _binary(SubFn, input, other if alpha == 1 else mul(other, alpha))


def mul(input, other):
    return _binary(MulFn, input, other)


def div(input, other):
    return _binary(DivFn, input, other)


def pow(input, exponent):
    return _binary(PowFn, input, exponent)


def maximum(input, other):
    return _binary(MaximumFn, input, other)


def minimum(input, other):
    """min(a, b) = −max(−a, −b): one backward serves both."""
    like = input if isinstance(input, Tensor) else other  # a Python scalar takes its dtype
    return neg(maximum(neg(operand(input, like)), neg(operand(other, like))))


def neg(input):
    return NegFn.apply(operand(input, input))


def exp(input):
    return ExpFn.apply(operand(input, input))


def log(input):
    return LogFn.apply(operand(input, input))


def sqrt(input):
    return SqrtFn.apply(operand(input, input))


def abs(input):
    return AbsFn.apply(operand(input, input))


def clamp(input, min=None, max=None):
    """Limit values to [min, max]; either bound may be None."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    x = operand(input, input)
    return ClampFn.apply(x, lo=_bound(min, x, "min"), hi=_bound(max, x, "max"))


def _bound(b, x, name):
    """A clamp bound as a Python scalar or an array of the input's dtype; Tensor bounds are
    constants here (their gradient is not computed, so one that asks for it is refused)."""
    if b is None or isinstance(b, (int, float)):
        return b
    if isinstance(b, Tensor) and b.requires_grad:
        raise ValueError(f"clamp: gradients w.r.t. the bound {name} are not supported; use "
                         "tv.maximum / tv.minimum for a learnable bound")
    dtype = _arr(x).dtype if _arr(x).dtype.kind in "fc" else None
    return np.asarray(b.data if isinstance(b, Tensor) else b, dtype)


clip = clamp


def where(condition, input, other):
    """Elementwise ``input if condition else other``, broadcasting all three."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {cond.dtype}")
    like = input if isinstance(input, Tensor) else other
    return WhereFn.apply(cond, operand(input, like), operand(other, like))
