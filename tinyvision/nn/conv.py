"""Conv2d and ConvTranspose2d: parameters and PyTorch's default initialisation; the maths is in
tinyvision/functional/conv.py.

Default init, as PyTorch: the weight ~ kaiming_uniform(a=√5), i.e. U(−1/√fan_in, 1/√fan_in),
and the bias ~ U(−1/√fan_in, 1/√fan_in), where fan_in = weight.shape[1]·kh·kw:
(in_channels/groups)·kh·kw for Conv2d and, because PyTorch reads the same dim of the
transposed weight (in, out/groups, kh, kw), (out_channels/groups)·kh·kw for ConvTranspose2d.
"""
import math

import numpy as np

from .. import functional as F
from ..functional.conv import _pair
from . import init
from .module import Module, Parameter

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What both layers share: argument checks, parameters, init, repr."""

    def __init__(self, name, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 output_padding, groups, bias, padding_mode, transposed, dtype):
        super().__init__()
        for arg, v in (("in_channels", in_channels), ("out_channels", out_channels),
                       ("groups", groups)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"{name}: {arg} must be a positive int, got {v!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must be divisible by groups ({groups})")
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {PADDING_MODES}, "
                             f"got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _pair(name, "kernel_size", kernel_size, 1)
        self.stride = _pair(name, "stride", stride, 1)
        self.dilation = _pair(name, "dilation", dilation, 1)
        self.output_padding = _pair(name, "output_padding", output_padding, 0)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int, a pair, 'same' or 'valid', "
                                 f"got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"{name}: padding='same' is not supported for strided "
                                 f"convolutions, got stride={stride}")
            self.padding = padding
        else:
            self.padding = _pair(name, "padding", padding, 0)
        self.padding_mode = padding_mode
        # (out, in/groups, kh, kw) for a convolution, (in, out/groups, kh, kw) transposed
        first, second = (in_channels, out_channels) if transposed else (out_channels, in_channels)
        self.weight = Parameter(np.empty((first, second // groups) + self.kernel_size, dtype))
        self.bias = Parameter(np.empty(out_channels, dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """y = conv2d(x, W) + b, W (out_channels, in_channels/groups, kh, kw); see F.conv2d.

    padding_mode 'reflect', 'replicate' or 'circular' pads x with F.pad first (as PyTorch).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", dtype=np.float32):
        super().__init__("Conv2d", in_channels, out_channels, kernel_size, stride, padding,
                         dilation, 0, groups, bias, padding_mode, False, dtype)

    def forward(self, x):
        if self.padding_mode == "zeros":
            return F.conv2d(x, self.weight, self.bias, self.stride, self.padding,
                            self.dilation, self.groups)
        if self.padding == "valid":
            widths = (0, 0, 0, 0)
        elif self.padding == "same":       # D(k − 1) in all, the odd one right/bottom
            (th, tw) = (d * (k - 1) for d, k in zip(self.dilation, self.kernel_size))
            widths = (tw // 2, tw - tw // 2, th // 2, th - th // 2)
        else:
            widths = (self.padding[1], self.padding[1], self.padding[0], self.padding[0])
        return F.conv2d(F.pad(x, widths, mode=self.padding_mode), self.weight, self.bias,
                        self.stride, 0, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """y = conv_transpose2d(x, W) + b, W (in_channels, out_channels/groups, kh, kw); see
    F.conv_transpose2d. ``forward(x, output_size)`` picks the output_padding that gives
    output_size (H, W), as PyTorch."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 dtype=np.float32):
        if padding_mode != "zeros":
            raise ValueError(f"ConvTranspose2d: only padding_mode='zeros' is supported, got "
                             f"{padding_mode!r}")
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a pair, got "
                             f"{padding!r}")
        super().__init__("ConvTranspose2d", in_channels, out_channels, kernel_size, stride,
                         padding, dilation, output_padding, groups, bias, padding_mode, True,
                         dtype)

    def forward(self, x, output_size=None):
        output_padding = self.output_padding
        if output_size is not None:
            output_padding = self._output_padding(x, output_size)
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  output_padding, self.groups, self.dilation)

    def _output_padding(self, x, output_size):
        size = tuple(output_size)[-2:]
        out = []
        for i in range(2):
            smallest = ((x.shape[-2 + i] - 1) * self.stride[i] - 2 * self.padding[i]
                        + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            if not smallest <= size[i] < smallest + self.stride[i]:
                raise ValueError(
                    f"ConvTranspose2d: output_size {tuple(output_size)} is not reachable: its "
                    f"last two dims must lie in [{smallest}, {smallest + self.stride[i] - 1}]")
            out.append(size[i] - smallest)
        return tuple(out)
