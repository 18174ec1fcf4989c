"""Depthwise 2-D convolution in plain NumPy: the readable version and the oracle for the others.

A depthwise convolution (groups = C) filters every input channel on its own: output channel
k reads input channel c = k // m only, where m = K / C is the channel multiplier. As G tiny
GEMMs it would waste BLAS; as kh·kw multiply-adds over whole planes it is a simple loop.

The contract, shared by every implementation in this folder (same names, same arguments);
float32 or float64, C-contiguous results:

``depthwise_conv2d(x, w, sh, sw, ph, pw, dh, dw) -> y``
    x (N, C, H, W), w (K, 1, kh, kw) with K = m·C  ->  y (N, K, OH, OW)::

        y[n, k, oh, ow] = Σ_ij w[k, 0, i, j]·x[n, k // m, oh·sh − ph + i·dh, ow·sw − pw + j·dw]
        (0 where that position lies in the padding)
        OH = (H + 2·ph − dh·(kh − 1) − 1) // sh + 1,  OW likewise

``depthwise_conv2d_backward_input(gy, w, C, H, W, sh, sw, ph, pw, dh, dw) -> gx``
    gx (N, C, H, W) = the adjoint of x ↦ y: every gy[n, k, oh, ow]·w[k, 0, i, j] is added back
    to the input position it was read from (positions in the padding are dropped).

``depthwise_conv2d_backward_weight(x, gy, kh, kw, sh, sw, ph, pw, dh, dw) -> gw``
    gw (K, 1, kh, kw): gw[k, 0, i, j] = Σ_{n, oh, ow} gy[n, k, oh, ow] · x[n, k // m, h, w],
    the same positions (h, w) as above.
"""
import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def output_size(size, k, s, p, d):
    """(size + 2p − d(k − 1) − 1) // s + 1."""
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def check_geometry(fn, C, K, kh, kw, H, W, sh, sw, ph, pw, dh, dw):
    """Check a depthwise geometry; return (OH, OW)."""
    if C < 1 or K % C:
        raise ValueError(f"{fn}: the output channels ({K}) must be a multiple of the input "
                         f"channels ({C})")
    for name, value, least in (("kh", kh, 1), ("kw", kw, 1), ("sh", sh, 1), ("sw", sw, 1),
                               ("ph", ph, 0), ("pw", pw, 0), ("dh", dh, 1), ("dw", dw, 1)):
        if int(value) != value or value < least:
            raise ValueError(f"{fn}: {name} must be an integer >= {least}, got {value!r}")
    OH, OW = output_size(H, kh, sh, ph, dh), output_size(W, kw, sw, pw, dw)
    if OH < 1 or OW < 1:
        raise ValueError(f"{fn}: a {kh}x{kw} window with dilation ({dh}, {dw}) does not fit "
                         f"the {H}x{W} input padded by ({ph}, {pw})")
    return OH, OW


def check_arrays(fn, **arrays):
    dtypes = {a.dtype for a in arrays.values()}
    if len(dtypes) != 1 or dtypes.pop() not in FLOAT_DTYPES:
        raise TypeError(f"{fn}: " + ", ".join(arrays) + " must share one dtype, float32 or "
                        "float64; got " + ", ".join(str(a.dtype) for a in arrays.values()))
    for name, a in arrays.items():
        if a.ndim != 4:
            raise ValueError(f"{fn}: {name} must be 4-D, got shape {tuple(a.shape)}")


def check_backward(fn, gy, other, C, H, W, sh, sw, ph, pw, dh, dw, kh=None, kw=None):
    """Check a backward's arguments: gy (N, K, OH, OW) must be what the forward gives for
    an (N, C, H, W) input; ``other`` is w (K, 1, kh, kw) or x (N, C, H, W). Return (OH, OW)."""
    check_arrays(fn, gy=gy, **({"w": other} if kh is None else {"x": other}))
    K = gy.shape[1]
    if kh is None:
        kh, kw = other.shape[2:]
        if other.shape[:2] != (K, 1):
            raise ValueError(f"{fn}: w must have shape ({K}, 1, kh, kw), got {other.shape}")
    elif other.shape[0] != gy.shape[0]:
        raise ValueError(f"{fn}: x and gy hold {other.shape[0]} and {gy.shape[0]} images")
    OH, OW = check_geometry(fn, C, K, kh, kw, H, W, sh, sw, ph, pw, dh, dw)
    if gy.shape[2:] != (OH, OW):
        raise ValueError(f"{fn}: gy must be {OH}x{OW} for a {H}x{W} input, got "
                         f"{gy.shape[2]}x{gy.shape[3]}")
    return OH, OW


def _taps(kh, kw, OH, OW, sh, sw, dh, dw):
    """For each tap (i, j): the slices of the padded input that it reads for all outputs."""
    for i in range(kh):
        for j in range(kw):
            yield i, j, (slice(i * dh, i * dh + sh * (OH - 1) + 1, sh),
                         slice(j * dw, j * dw + sw * (OW - 1) + 1, sw))


def depthwise_conv2d(x, w, sh, sw, ph, pw, dh, dw):
    """y = x ⋆ w channel by channel; see the module docstring."""
    check_arrays("depthwise_conv2d", x=x, w=w)
    (N, C, H, W), (K, _, kh, kw) = x.shape, w.shape
    OH, OW = check_geometry("depthwise_conv2d", C, K, kh, kw, H, W, sh, sw, ph, pw, dh, dw)
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    xk = np.repeat(xpad, K // C, axis=1)                      # (N, K, Hp, Wp): channel k // m
    y = np.zeros((N, K, OH, OW), x.dtype)
    for i, j, (rows, cols) in _taps(kh, kw, OH, OW, sh, sw, dh, dw):
        y += w[None, :, 0, i, j, None, None] * xk[:, :, rows, cols]
    return y


def depthwise_conv2d_backward_input(gy, w, C, H, W, sh, sw, ph, pw, dh, dw):
    """gx (N, C, H, W): the adjoint of depthwise_conv2d in x; see the module docstring."""
    OH, OW = check_backward("depthwise_conv2d_backward_input", gy, w, C, H, W,
                            sh, sw, ph, pw, dh, dw)
    N, K = gy.shape[:2]
    kh, kw = w.shape[2:]
    gxk = np.zeros((N, K, H + 2 * ph, W + 2 * pw), gy.dtype)  # per output channel, padded
    for i, j, (rows, cols) in _taps(kh, kw, OH, OW, sh, sw, dh, dw):
        gxk[:, :, rows, cols] += w[None, :, 0, i, j, None, None] * gy
    gx = gxk.reshape(N, C, K // C, *gxk.shape[2:]).sum(axis=2)  # the m channels of c add up
    return np.ascontiguousarray(gx[:, :, ph:ph + H, pw:pw + W])


def depthwise_conv2d_backward_weight(x, gy, kh, kw, sh, sw, ph, pw, dh, dw):
    """gw (K, 1, kh, kw): the gradient of depthwise_conv2d in w; see the module docstring."""
    check_backward("depthwise_conv2d_backward_weight", gy, x, x.shape[1], *x.shape[2:],
                   sh, sw, ph, pw, dh, dw, kh, kw)
    (N, C, H, W), (_, K, OH, OW) = x.shape, gy.shape
    xk = np.repeat(np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))), K // C, axis=1)
    gw = np.zeros((K, 1, kh, kw), x.dtype)
    for i, j, (rows, cols) in _taps(kh, kw, OH, OW, sh, sw, dh, dw):
        gw[:, 0, i, j] = np.einsum("nkhw,nkhw->k", gy, xk[:, :, rows, cols])
    return gw
