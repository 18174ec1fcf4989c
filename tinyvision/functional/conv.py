"""Convolution and transposed convolution, NCHW: ``conv2d`` and ``conv_transpose2d``.

conv2d slides K filters w (K, C/G, kh, kw) over x (N, C, H, W) with stride S, zero
padding P, dilation D and G groups (filter k sees only the C/G channels of its group)::

    y[n, k, oh, ow] = b[k] + Σ_{c,i,j} w[k, c, i, j] · x[n, c', oh·S − P + i·D, ow·S − P + j·D]
    H' = ⌊(H + 2P − D(k − 1) − 1) / S⌋ + 1        (k: the kernel's height; W' likewise)

c' = (k // (K/G))·C/G + c. Unfolding every window into a column (im2col) makes this one
matrix product per image, Y[n] = W₂ cols(x[n]) with W₂ = w.reshape(K, C·kh·kw), and its
gradients two more; _conv_algorithms.py computes the three products (im2col + GEMM,
Winograd F(4x4, 3x3) for 3x3 layers, or a direct kernel for depthwise ones).

The duality: cols(·) is linear, so dL/dx = colsᵀ(W₂ᵀ gY) = col2im(W₂ᵀ gY), which is the
*transposed convolution* of gy. conv_transpose2d is that map run forward (an upsampling:
H_out = (H − 1)S − 2P + D(k − 1) + output_padding + 1), so its own input gradient is a
convolution, and the two ops share one weight gradient with the roles of x and gy swapped.
Conv2dFn and ConvTranspose2dFn below are written with the same three calls for this.

References
----------
K. Chellapilla, S. Puri, P. Simard. High Performance Convolutional Neural Networks for
Document Processing. IWFHR 2006.
V. Dumoulin, F. Visin. A guide to convolution arithmetic for deep learning. arXiv 2016.
A. Lavin, S. Gray. Fast Algorithms for Convolutional Neural Networks. CVPR 2016.
"""
import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor, as_array
from ._conv_algorithms import Geometry, choose
from .shape import pad, squeeze, unsqueeze


class Conv2dFn(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, geometry):
        algorithm = choose(x.shape, weight.shape, geometry)
        cols = algorithm.unfold(x, geometry)              # im2col, Winograd tiles, or x
        y = algorithm.forward(cols, weight, geometry, x.shape)
        if bias is not None:
            y += bias.reshape(-1, 1, 1)
        ctx.save_for_backward(x, weight)
        ctx.algorithm, ctx.geometry, ctx.has_bias = algorithm, geometry, bias is not None
        ctx.cols = cols if ctx.needs_input_grad[1] else None   # kept for the weight gradient
        return y

    @staticmethod
    def backward(ctx, gy):
        """Per image, Y = W₂ cols(x) + b, linear in W₂ and (through cols) in x:

            dL/dW₂ = Σ_n gY[n] cols(x[n])ᵀ
            dL/dx  = colsᵀ(W₂ᵀ gY) = col2im(W₂ᵀ gY)  = conv_transpose2d(gy, w)
            dL/db  = Σ_{n, oh, ow} gy
        """
        x, weight = ctx.saved_tensors
        needs_x, needs_w, needs_b, _ = ctx.needs_input_grad
        algorithm, g = ctx.algorithm, ctx.geometry
        gx = gw = gb = None
        if needs_x or needs_w:
            # The saved cols are used up here: gw reads them, then the transposed convolution
            # that makes gx may overwrite their buffer. (A second backward through a retained
            # graph finds them gone and unfolds x again.)
            cols, ctx.cols = ctx.cols, None
            if cols is None and needs_w:
                cols = algorithm.unfold(x, g)
            # gw = algorithm.weight_grad(cols, gy); gx = algorithm.transpose(gy, weight), the
            # very call ConvTranspose2dFn.forward makes (Winograd does both in one pass).
            gx, gw = algorithm.backward(cols, gy, weight, g, x.shape, needs_x, needs_w)
        if needs_b and ctx.has_bias:
            gb = gy.sum(axis=(0, 2, 3))
        return gx, gw, gb, None


class ConvTranspose2dFn(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, geometry, out_hw):
        # x (N, C_in, H, W) plays the output gradient of a conv2d whose input y is
        # (N, C_out, H_out, W_out) and whose weight is w (C_in, C_out/G, kh, kw).
        y_shape = (x.shape[0], weight.shape[1] * geometry.groups, *out_hw)
        algorithm = choose(y_shape, weight.shape, geometry)
        y = algorithm.transpose(x, weight, geometry, y_shape)   # = conv2d's dL/dx
        if bias is not None:
            y += bias.reshape(-1, 1, 1)
        ctx.save_for_backward(x, weight)
        ctx.algorithm, ctx.geometry, ctx.has_bias = algorithm, geometry, bias is not None
        return y

    @staticmethod
    def backward(ctx, gy):
        """y = Tᵀx, where T is the linear map conv2d(·, w) from y's space to x's, so

            dL/dx = T gy = conv2d(gy, w)
            dL/dw = conv2d's weight gradient with input gy and output gradient x
            dL/db = Σ_{n, h, w} gy
        """
        x, weight = ctx.saved_tensors
        needs_x, needs_w, needs_b, _, _ = ctx.needs_input_grad
        algorithm, g = ctx.algorithm, ctx.geometry
        gx = gw = gb = None
        if needs_x or needs_w:
            cols = algorithm.unfold(gy, g)                  # one unfold of gy serves both
            if needs_x:
                gx = algorithm.forward(cols, weight, g, gy.shape)       # conv2d(gy, w)
            if needs_w:
                gw = algorithm.weight_grad(cols, x, g, weight.shape)
        if needs_b and ctx.has_bias:
            gb = gy.sum(axis=(0, 2, 3))
        return gx, gw, gb, None, None


# ---- public functions ---------------------------------------------------------------------
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as in PyTorch) of NCHW ``input``.

    Parameters
    ----------
    input : (N, C, H, W) or unbatched (C, H, W), float32 or float64.
    weight : (K, C/groups, kh, kw), the same dtype.
    bias : (K,) or None.
    stride, dilation : int or (int, int), >= 1.
    padding : int or (int, int) zeros on each side, or 'valid' (none) or 'same' (output size
        = input size, stride 1 only; an odd total goes one more to the right/bottom).
    groups : int; C and K divisible by it. groups = C is a depthwise convolution.

    Returns
    -------
    (N, K, H', W') with H' = (H + 2P − D(kh − 1) − 1) // S + 1 and W' likewise.
    """
    x, w = _arr(input), _arr(weight)
    if x.ndim == 3:                                   # unbatched, as PyTorch allows
        return squeeze(conv2d(unsqueeze(input, 0), weight, bias, stride, padding, dilation,
                              groups), 0)
    _check_operands("conv2d", x, w, bias, groups, "in_channels/groups")
    kh, kw = w.shape[2:]
    if w.shape[1] * groups != x.shape[1]:
        raise ValueError(f"conv2d: weight {w.shape} with groups={groups} expects "
                         f"{w.shape[1] * groups} input channels, got input {x.shape}")
    sh, sw = _pair("conv2d", "stride", stride, 1)
    dh, dw = _pair("conv2d", "dilation", dilation, 1)
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"conv2d: padding must be an int, a pair, 'same' or 'valid', "
                             f"got {padding!r}")
        if padding == "same" and (sh, sw) != (1, 1):
            raise ValueError(f"conv2d: padding='same' is not supported for strided "
                             f"convolutions, got stride={stride}")
        th, tw = (dh * (kh - 1), dw * (kw - 1)) if padding == "same" else (0, 0)
        ph, pw = th // 2, tw // 2                     # total padding D(k − 1), split evenly
        if th % 2 or tw % 2:                          # the odd one out goes right/bottom
            input = pad(input, (0, tw % 2, 0, th % 2))
            x = _arr(input)
    else:
        ph, pw = _pair("conv2d", "padding", padding, 0)
    g = Geometry(kh, kw, sh, sw, ph, pw, dh, dw, groups)
    OH, OW = g.output_size(*x.shape[2:])
    if OH < 1 or OW < 1:
        raise ValueError(f"conv2d: the {x.shape[2]}x{x.shape[3]} input padded by ({ph}, {pw}) "
                         f"is smaller than the {kh}x{kw} kernel dilated by ({dh}, {dw}): "
                         f"the output would be {OH}x{OW}")
    return Conv2dFn.apply(input, weight, bias, g)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """2-D transposed convolution of NCHW ``input``: the input gradient of conv2d, as a layer.

    Parameters
    ----------
    input : (N, C_in, H, W) or unbatched (C_in, H, W), float32 or float64.
    weight : (C_in, C_out/groups, kh, kw), PyTorch's layout; the same dtype.
    bias : (C_out,) or None.
    stride, dilation : int or (int, int), >= 1.
    padding : int or (int, int): dilation·(k − 1) − padding zeros are added to each side.
    output_padding : int or (int, int) added to one side of the output, smaller than the
        stride or the dilation.
    groups : int; C_in and C_out divisible by it.

    Returns
    -------
    (N, C_out, H_out, W_out), H_out = (H − 1)·S − 2P + D(kh − 1) + output_padding + 1.
    """
    x, w = _arr(input), _arr(weight)
    if x.ndim == 3:
        return squeeze(conv_transpose2d(unsqueeze(input, 0), weight, bias, stride, padding,
                                        output_padding, groups, dilation), 0)
    _check_operands("conv_transpose2d", x, w, bias, groups, "out_channels/groups",
                    out_channels=w.shape[1] * groups if w.ndim == 4 else None)
    if w.shape[0] != x.shape[1]:
        raise ValueError(f"conv_transpose2d: weight {w.shape} expects {w.shape[0]} input "
                         f"channels (its first dim), got input {x.shape}")
    sh, sw = _pair("conv_transpose2d", "stride", stride, 1)
    dh, dw = _pair("conv_transpose2d", "dilation", dilation, 1)
    if isinstance(padding, str):
        raise ValueError(f"conv_transpose2d: padding must be an int or a pair, got {padding!r}")
    ph, pw = _pair("conv_transpose2d", "padding", padding, 0)
    oph, opw = _pair("conv_transpose2d", "output_padding", output_padding, 0)
    if not (oph < max(sh, dh) and opw < max(sw, dw)):
        raise ValueError(f"conv_transpose2d: output_padding must be smaller than the stride or "
                         f"the dilation, got output_padding={output_padding}, stride={stride}, "
                         f"dilation={dilation}")
    kh, kw = w.shape[2:]
    H, W = x.shape[2:]
    OH = (H - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    OW = (W - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    if OH < 1 or OW < 1:
        raise ValueError(f"conv_transpose2d: the output would be {OH}x{OW} for a {H}x{W} "
                         f"input, kernel {kh}x{kw}, stride ({sh}, {sw}), padding ({ph}, {pw}), "
                         f"dilation ({dh}, {dw})")
    g = Geometry(kh, kw, sh, sw, ph, pw, dh, dw, groups)
    # NOTE: output_padding >= stride (allowed when dilation > stride) makes an output whose
    # conv2d has more than H x W windows; the missing ones read zeros: pad x with them.
    EH, EW = g.output_size(OH, OW)
    if (EH, EW) != (H, W):
        input = pad(input, (0, EW - W, 0, EH - H))
    return ConvTranspose2dFn.apply(input, weight, bias, g, (OH, OW))


# ---- argument checks ----------------------------------------------------------------------
def _arr(a):
    if isinstance(a, Tensor):
        return a.data
    return a if hasattr(a, "shape") and hasattr(a, "dtype") else as_array(a)


def _pair(fn, name, value, least):
    """(int, int) from an int or a pair, each >= least."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if (len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                  for v in pair) or min(pair) < least):
        raise ValueError(f"{fn}: {name} must be an int >= {least} or a pair of them, "
                         f"got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_operands(fn, x, w, bias, groups, weight_dim1, out_channels=None):
    """Dims, dtypes, groups and bias shape, shared by conv2d and conv_transpose2d."""
    if x.ndim != 4:
        raise ValueError(f"{fn}: input must be 4-D (N, C, H, W) or 3-D (C, H, W), "
                         f"got shape {tuple(x.shape)}")
    if w.ndim != 4:
        first = "out_channels" if fn == "conv2d" else "in_channels"
        raise ValueError(f"{fn}: weight must be 4-D ({first}, {weight_dim1}, kh, kw), "
                         f"got shape {tuple(w.shape)}")
    if x.dtype not in (np.float32, np.float64) or w.dtype != x.dtype:
        raise TypeError(f"{fn}: input and weight must both be float32 or both float64, got "
                        f"{x.dtype} and {w.dtype}")
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{fn}: groups must be a positive int, got {groups!r}")
    if x.shape[1] % groups or w.shape[0] % groups:
        raise ValueError(f"{fn}: groups={groups} must divide the input channels "
                         f"({x.shape[1]}) and the weight's first dim ({w.shape[0]})")
    if bias is not None:
        b = _arr(bias)
        channels = w.shape[0] if out_channels is None else out_channels
        if b.shape != (channels,) or b.dtype != x.dtype:
            raise ValueError(f"{fn}: bias must be a ({channels},) {x.dtype} array, got shape "
                             f"{tuple(b.shape)}, dtype {b.dtype}")
