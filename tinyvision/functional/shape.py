"""Ops that move elements without changing them: reshape, transpose, permute, squeeze,
unsqueeze, expand, flatten, indexing, cat, stack, split, pad.

Their backwards move the gradient back to where each element came from: the inverse
reshape or permutation, a sum over copies (expand), a scatter-add (indexing), a slice (cat,
pad), a fold of the mirrored border (reflect pad).
"""
import numpy as np

from .. import kernels
from ..autograd.function import Function
from ..tensor import Tensor
from ._util import normalize_dim, operand, unbroadcast


def _arr(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class ReshapeFn(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, gy):
        return gy.reshape(ctx.shape), None


class PermuteFn(Function):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, gy):
        """Undo the permutation: the inverse of dims is its argsort."""
        return gy.transpose(np.argsort(ctx.dims)), None


class ExpandFn(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, gy):
        """Each input element was copied to many outputs: sum their gradients."""
        return unbroadcast(gy, ctx.shape), None


class GetItemFn(Function):
    @staticmethod
    def forward(ctx, x, index):
        ctx.shape, ctx.index = x.shape, index
        ctx.scatter = _has_integer_array(index)
        return x[index]

    @staticmethod
    def backward(ctx, gy):
        """Put gy back where the elements were read. Basic indexing and masks read each
        element at most once, so assignment is enough; integer arrays may repeat an element,
        so their gradients must be added: a scatter-add. The common case, rows picked by
        one integer array (``w[idx]``: embeddings, sampled RoIs, anchors), runs the native
        ``scatter_add`` kernel; other patterns use NumPy's ``np.add.at``."""
        gx = np.zeros(ctx.shape, gy.dtype)
        index = ctx.index
        if not ctx.scatter:
            gx[index] = gy
        elif _is_row_gather(index, gx):
            rows = np.ascontiguousarray(index, dtype=np.int64).reshape(-1)
            kernels.get("scatter_add", gx).scatter_add(
                gx.reshape(ctx.shape[0], -1), rows, np.ascontiguousarray(gy).reshape(rows.size, -1))
        else:
            np.add.at(gx, index, gy)
        return gx, None


def _is_row_gather(index, gx):
    """``x[idx]`` with one integer ndarray on the first axis, on a float array with rows."""
    return (isinstance(index, np.ndarray) and index.dtype.kind in "iu" and gx.ndim >= 1
            and gx.dtype in (np.float32, np.float64) and isinstance(gx, np.ndarray))


def _has_integer_array(index):
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, (np.ndarray, list)) and np.asarray(i).dtype.kind in "iu" for i in items)


class CatFn(Function):
    @staticmethod
    def forward(ctx, *xs, dim):
        ctx.dim = dim
        ctx.bounds = np.cumsum([x.shape[dim] for x in xs])[:-1]
        return np.concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx, gy):
        """Each input gets its own slab of gy back."""
        return tuple(np.split(gy, ctx.bounds, axis=ctx.dim))


class SplitFn(Function):
    @staticmethod
    def forward(ctx, x, bounds, dim):
        ctx.dim = dim
        return tuple(np.split(x, bounds, axis=dim))

    @staticmethod
    def backward(ctx, *gys):
        """The inverse of a split is a cat of the pieces' gradients."""
        return np.concatenate(gys, axis=ctx.dim), None, None


class PadFn(Function):
    @staticmethod
    def forward(ctx, x, widths, mode, value):
        ctx.widths, ctx.mode, ctx.shape = widths, mode, x.shape
        if mode == "constant":
            return np.pad(x, widths, mode="constant", constant_values=value)
        return np.pad(x, widths, mode={"reflect": "reflect", "replicate": "edge",
                                       "circular": "wrap"}[mode])

    @staticmethod
    def backward(ctx, gy):
        """Constant padding: the centre of gy. Otherwise every border element is a copy of
        some input element, so fold each border back onto its source, one axis at a time."""
        g = gy
        for axis, (lo, hi) in enumerate(ctx.widths):
            if lo == 0 and hi == 0:
                continue
            n = ctx.shape[axis]
            g = np.moveaxis(g, axis, 0)
            centre = g[lo:lo + n].copy()
            if ctx.mode == "reflect":      # y[lo-k] = x[k], y[lo+n-1+k] = x[n-1-k]
                centre[1:lo + 1] += g[:lo][::-1]
                centre[n - 1 - hi:n - 1] += g[lo + n:][::-1]
            elif ctx.mode == "replicate":  # the borders are copies of x[0] and x[n-1]
                centre[0] += g[:lo].sum(axis=0)
                centre[n - 1] += g[lo + n:].sum(axis=0)
            elif ctx.mode == "circular":   # y[lo-k] = x[n-k], y[lo+n+k] = x[k]
                centre[n - lo:] += g[:lo]
                centre[:hi] += g[lo + n:]
            g = np.moveaxis(centre, 0, axis)
        return g, None, None, None


# ---- public functions ---------------------------------------------------------------------
def reshape(input, *shape):
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    x = operand(input, input)
    try:
        np.empty(_arr(x).shape, dtype=bool).reshape(shape)  # checks the shape on no data
    except ValueError:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {_arr(x).shape} "
                         f"({_arr(x).size} elements) into {shape}") from None
    return ReshapeFn.apply(x, shape)


view = reshape


def flatten(input, start_dim=0, end_dim=-1):
    shape = _arr(input).shape
    if not shape:
        return reshape(input, (1,))
    s, e = normalize_dim((start_dim, end_dim), len(shape), "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return reshape(input, shape[:s] + (-1,) + shape[e + 1:]) if shape[s:e + 1] else input


def permute(input, *dims):
    dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
    ndim = _arr(input).ndim
    dims = normalize_dim(dims, ndim, "permute")
    if sorted(dims) != list(range(ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of {ndim} dims")
    return PermuteFn.apply(operand(input, input), dims)


def transpose(input, dim0, dim1):
    ndim = _arr(input).ndim
    d0, d1 = normalize_dim((dim0, dim1), ndim, "transpose")
    dims = list(range(ndim))
    dims[d0], dims[d1] = d1, d0
    return PermuteFn.apply(operand(input, input), tuple(dims))


def squeeze(input, dim=None):
    shape = _arr(input).shape
    dims = normalize_dim(dim, len(shape), "squeeze") if dim is not None else range(len(shape))
    return reshape(input, tuple(n for i, n in enumerate(shape) if not (i in dims and n == 1)))


def unsqueeze(input, dim):
    shape = _arr(input).shape
    (d,) = normalize_dim(dim, len(shape) + 1, "unsqueeze")
    return reshape(input, shape[:d] + (1,) + shape[d:])


def expand(input, *sizes):
    sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
    shape = _arr(input).shape
    lead = len(sizes) - len(shape)
    if lead < 0:
        raise ValueError(f"expand: {len(sizes)} sizes given for a tensor of {len(shape)} dims")
    target = tuple(shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    try:
        np.broadcast_shapes(shape, target)
    except ValueError:
        raise ValueError(f"expand: cannot expand shape {shape} to {target}") from None
    return ExpandFn.apply(operand(input, input), target)


def getitem(input, index):
    """``input[index]`` with NumPy/PyTorch indexing; Tensors in the index act as arrays."""
    if isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, list):
        index = np.asarray(index)
    try:
        return GetItemFn.apply(operand(input, input), index)
    except IndexError as e:
        raise IndexError(f"getitem: {e} (tensor shape {_arr(input).shape})") from None


def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    (d,) = normalize_dim(dim, _arr(tensors[0]).ndim, "cat")
    return CatFn.apply(*tensors, dim=d)


concatenate = cat


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    shapes = {_arr(t).shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    return cat([unsqueeze(t, dim) for t in tensors], dim)


def split(tensor, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` along dim (the last may be smaller), or of the given sizes."""
    shape = _arr(tensor).shape
    (d,) = normalize_dim(dim, len(shape), "split")
    n = shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        if split_size_or_sections <= 0:
            raise ValueError(f"split: split_size must be positive, got {split_size_or_sections}")
        sizes = [split_size_or_sections] * (n // split_size_or_sections)
        if n % split_size_or_sections:
            sizes.append(n % split_size_or_sections)
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError(f"split: sections {sizes} sum to {sum(sizes)}, dim {d} has size {n}")
    return SplitFn.apply(operand(tensor, tensor), list(np.cumsum(sizes)[:-1]), d)


def chunk(input, chunks, dim=0):
    """``chunks`` pieces of equal size ⌈n / chunks⌉ along dim (fewer if n runs out), as torch."""
    if not isinstance(chunks, (int, np.integer)) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
    shape = _arr(input).shape
    (d,) = normalize_dim(dim, len(shape), "chunk")
    return split(input, max(1, -(-shape[d] // chunks)), d)


def pad(input, pad, mode="constant", value=0.0):
    """Pad the last len(pad)//2 dims; ``pad`` lists (left, right) for the last dim first,
    then the one before, as ``torch.nn.functional.pad``. Modes: constant, reflect,
    replicate, circular."""
    shape = _arr(input).shape
    if len(pad) % 2 or len(pad) // 2 > len(shape):
        raise ValueError(f"pad: pad must have an even length of at most 2·ndim = {2 * len(shape)}, "
                         f"got {tuple(pad)}")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise ValueError(f"pad: mode must be constant, reflect, replicate or circular, got {mode!r}")
    k = len(pad) // 2
    widths = [(0, 0)] * (len(shape) - k) + [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(k))]
    if any(lo < 0 or hi < 0 for lo, hi in widths):
        raise ValueError(f"pad: negative padding (cropping) is not supported, got {tuple(pad)}")
    if mode == "reflect":
        for n, (lo, hi) in zip(shape, widths):
            if (lo or hi) and not (lo < n and hi < n):
                raise ValueError(f"pad: reflect padding ({lo}, {hi}) must be smaller than the "
                                 f"dim it pads ({n})")
    if mode == "circular":
        for n, (lo, hi) in zip(shape, widths):
            if lo > n or hi > n:
                raise ValueError(f"pad: circular padding ({lo}, {hi}) must be at most the dim ({n})")
    return PadFn.apply(operand(input, input), tuple(widths), mode, value)
