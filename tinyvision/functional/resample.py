"""Resampling: ``interpolate`` (nearest, nearest-exact, bilinear, linear), as PyTorch's.

Each output pixel reads a source point of the input, per axis (d: output index, `in`/`out`:
the axis' input and output lengths; step = 1/scale_factor when one is given, else in/out):

    nearest         y[d] = x[floor(d·step)]
    nearest-exact   y[d] = x[floor((d + 0.5)·step)]                    (pixel centres)
    (bi)linear      src = d·(in−1)/(out−1)                 align_corners=True
                    src = max((d + 0.5)·step − 0.5, 0)     align_corners=False (default)
                    y[d] = (1−λ)·x[i0] + λ·x[i1],  i0 = floor(src), i1 = i0 + 1, λ = src − i0
                    (in 2-D: the 2x2 pixels around the source point, weights λh·λw)

Worked example (x2, align_corners=False): step = 1/2, so output 3 reads src = 3.5/2 − 0.5 =
1.25: 0.75·x[1] + 0.25·x[2]; output 0 reads src = max(−0.25, 0) = 0: x[0].  With
align_corners=True, in 4 -> out 8: step 3/7, output 3 reads 9/7 = 1.29.

The rules in full, with PyTorch's traps, and the hot loops are in kernels/resample/
(``kernels.get("resample", x)`` picks the implementation).

NOTE: (N, C, L) inputs run as (N, C, 1, L) through the 2-D kernels, so 'nearest' and
'nearest-exact' on them follow PyTorch's 2-D picks (kernels/resample/reference.py), which
its 1-D backward uses too, but its 1-D forward does not: it skips the copy (out = in) and
halving (out = 2·in) shortcuts and works in the input's dtype, so in 5 with scale_factor
1.1 it reads [0, 0, 1, 2, 3] where tinyvision (and PyTorch on (N, C, 1, L)) copy.  Here the
gradient is always the transpose of the forward.
"""
import math

import numpy as np

from .. import kernels
from ..autograd.function import Function
from ._util import operand, shape_of
from .shape import reshape

MODES = ("nearest", "nearest-exact", "bilinear", "linear")
INTERPOLATING = ("bilinear", "linear")    # the modes that take align_corners


class InterpolateNearestFn(Function):
    @staticmethod
    def forward(ctx, x, size, scales, exact):
        """x (N, C, H, W) -> y (N, C, OH, OW) = size: y[oh, ow] = x[ih[oh], iw[ow]]."""
        ctx.in_size, ctx.scales, ctx.exact = x.shape[2:], scales, exact
        return kernels.get("resample", x).nearest_forward(x, *size, *scales, exact=exact)

    @staticmethod
    def backward(ctx, gy):
        """Per image plane y = A_h x A_wᵀ, where row oh of A_h holds a single 1 at column
        ih[oh] (the row copied), so dL/dx = A_hᵀ gy A_w: each output's gradient goes back to
        the one input it copied; an input copied k times gets the sum of k gradients, one
        never copied (downsampling) gets 0."""
        gx = kernels.get("resample", gy).nearest_backward(gy, *ctx.in_size, *ctx.scales,
                                                          exact=ctx.exact)
        return gx, None, None, None


class InterpolateBilinearFn(Function):
    @staticmethod
    def forward(ctx, x, size, scales, align_corners):
        """x (N, C, H, W) -> y (N, C, OH, OW) = size: each output the weighted sum of the
        2x2 input pixels around its source point, weights (1−λh, λh) x (1−λw, λw)."""
        ctx.in_size, ctx.scales, ctx.align_corners = x.shape[2:], scales, align_corners
        return kernels.get("resample", x).bilinear_forward(x, *size, align_corners, *scales)

    @staticmethod
    def backward(ctx, gy):
        """Per image plane y = A_h x A_wᵀ, where row oh of A_h holds 1−λh and λh at columns
        h0[oh], h1[oh] (the two rows read), so dL/dx = A_hᵀ gy A_w: each output's gradient
        is spread back to the 4 inputs it read, with the same weights λh·λw."""
        gx = kernels.get("resample", gy).bilinear_backward(gy, *ctx.in_size, ctx.align_corners,
                                                           *ctx.scales)
        return gx, None, None, None


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _per_axis(value, name, spatial_shape):
    """A number for every spatial axis: a sequence of one per axis, or one number for all."""
    if not isinstance(value, (tuple, list)):
        return (value,) * len(spatial_shape)
    if len(value) != len(spatial_shape):
        raise ValueError(f"interpolate: {name} must have one entry per spatial dim of the "
                         f"input, which has spatial dims {list(spatial_shape)}; got {name}={value}")
    return tuple(value)


def output_size(spatial_shape, size, scale_factor, recompute_scale_factor):
    """(sizes, scales) for the spatial axes, as PyTorch: from size, or from scale_factor.

    With a scale factor the output length is floor(in·scale) (in 5, scale 1.5: out 7), and
    the coordinates use step 1/scale, unless recompute_scale_factor=True, which passes no
    scale (None), so the step becomes in/out (5/7).  NOTE: the two steps differ whenever
    in·scale is not a whole number; PyTorch's default (None/False) keeps 1/scale.
    """
    if size is not None and scale_factor is not None:
        raise ValueError("interpolate: only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("interpolate: either size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("interpolate: recompute_scale_factor is not meaningful with an "
                             "explicit size")
        sizes = _per_axis(size, "size", spatial_shape)
        if not all(_is_int(s) for s in sizes):
            raise TypeError(f"interpolate: size must be an int or a tuple of ints, got {size!r}")
        return tuple(int(s) for s in sizes), (None,) * len(sizes)
    factors = _per_axis(scale_factor, "scale_factor", spatial_shape)
    if not all(isinstance(f, (int, float, np.number)) and not isinstance(f, (bool, np.bool_))
               and math.isfinite(f) for f in factors):
        raise TypeError("interpolate: scale_factor must be a finite number or a tuple of "
                        f"them, got {scale_factor!r}")
    sizes = tuple(int(n * float(f)) for n, f in zip(spatial_shape, factors))  # truncates
    scales = (None,) * len(sizes) if recompute_scale_factor else tuple(map(float, factors))
    return sizes, scales


def _check_input(x, mode, align_corners):
    shape = shape_of(x)
    if mode not in MODES:
        raise NotImplementedError(f"interpolate: mode must be one of {', '.join(MODES)} "
                                  f"(tinyvision has no others), got {mode!r}")
    if mode not in INTERPOLATING and align_corners is not None:
        raise ValueError("interpolate: align_corners can only be set with the interpolating "
                         f"modes linear and bilinear, got align_corners={align_corners!r} with "
                         f"mode={mode!r}")
    if mode in INTERPOLATING and align_corners is not None and \
            not isinstance(align_corners, (bool, np.bool_)):
        raise TypeError(f"interpolate: align_corners must be True, False or None, "
                        f"got {align_corners!r}")
    wanted = {"bilinear": (4,), "linear": (3,)}.get(mode, (3, 4))
    if len(shape) not in wanted:
        layout = " or ".join({3: "3-D (N, C, L)", 4: "4-D (N, C, H, W)"}[n] for n in wanted)
        raise NotImplementedError(f"interpolate: mode {mode!r} needs a {layout} input, got "
                                  f"shape {tuple(shape)}")  # PyTorch's error type
    dtype = x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"interpolate: input must be float32 or float64, got {dtype}")
    if 0 in shape[1:]:
        raise ValueError(f"interpolate: input must have channels and spatial dims >= 1 "
                         f"(the batch may be empty), got shape {tuple(shape)}")


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None):
    """Resample ``input`` to ``size`` or by ``scale_factor``, as torch.nn.functional.interpolate.

    Parameters
    ----------
    input : (N, C, H, W) float32/float64 Tensor or ndarray; (N, C, L) for 'nearest',
        'nearest-exact' and 'linear'.
    size : int or tuple of ints, the output's spatial size (exactly one of size and
        scale_factor).
    scale_factor : float or tuple of floats; output size floor(in·scale_factor).
    mode : 'nearest' (default), 'nearest-exact', 'bilinear' (4-D) or 'linear' (3-D).
    align_corners : for 'bilinear'/'linear' only; default False (pixel centres line up),
        True lines up the corner pixels' centres.
    recompute_scale_factor : True computes the coordinates from the output size (step
        in/out) instead of the given scale factor (step 1/scale_factor).

    Returns a Tensor (N, C, OH, OW) (or (N, C, OL)) of the input's dtype.
    """
    x = operand(input, input)
    _check_input(x, mode, align_corners)
    if mode in INTERPOLATING and align_corners is None:
        align_corners = False
    shape = shape_of(x)
    sizes, scales = output_size(shape[2:], size, scale_factor, recompute_scale_factor)
    if min(sizes) < 1:
        raise ValueError(f"interpolate: output sizes must be >= 1, got {sizes} for input "
                         f"spatial dims {tuple(shape[2:])} (size={size!r}, "
                         f"scale_factor={scale_factor!r})")
    if len(shape) == 3:  # (N, C, L) as (N, C, 1, L): the height axis of length 1 is copied
        y = interpolate_2d(reshape(x, shape[:2] + (1, shape[2])), (1, sizes[0]),
                           (None, scales[0]), mode, align_corners)
        return reshape(y, shape[:2] + (sizes[0],))
    return interpolate_2d(x, sizes, scales, mode, align_corners)


def interpolate_2d(x, sizes, scales, mode, align_corners):
    """The op on checked arguments: x (N, C, H, W), sizes (OH, OW), scales (h, w) or None."""
    if mode in INTERPOLATING:
        return InterpolateBilinearFn.apply(x, tuple(sizes), tuple(scales), bool(align_corners))
    return InterpolateNearestFn.apply(x, tuple(sizes), tuple(scales), mode == "nearest-exact")
