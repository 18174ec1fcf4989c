"""Feature Pyramid Network [Lin17a]: every scale of a CNN gets strong, high-level features.

A backbone's deep maps see the whole object but are coarse (stride 32); its early maps are
fine (stride 4) but see only edges. FPN gives every scale both, with a top-down path from
the deepest map and a lateral 1x1 connection from the backbone at each scale::

    C5 ──1x1──► M5 ───────────────3x3──► P5          (stride 32)
                 │ nearest x2
    C4 ──1x1──► M4 = lateral + up(M5) ─3x3──► P4     (stride 16)
                 │ nearest x2
    C3 ──1x1──► M3 = lateral + up(M4) ─3x3──► P3     (stride 8)

    lateral:   L_i = Conv1x1(C_i)           (every level to the same d channels, Sec. 3)
    top-down:  M_i = L_i + Upsample_nearest(M_{i+1}),  M_top = L_top
    output:    P_i = Conv3x3(M_i)           ("to reduce the aliasing effect of upsampling")

``extra_blocks`` adds coarser levels after the pyramid: ``LastLevelMaxPool`` (P6 as a
stride-2 subsampling of P5, Faster R-CNN with FPN [Lin17a] Sec. 4.1) or ``LastLevelP6P7``
(P6 = 3x3/2 conv of C5 or P5, P7 = 3x3/2 conv of ReLU(P6), RetinaNet [Lin17b] Sec. 4).

Names and calling convention follow torchvision.ops.FeaturePyramidNetwork: the input and
output are dicts of (N, C, H, W) maps, ordered from the finest to the coarsest.

References
----------
[Lin17a] T.-Y. Lin, P. Dollár, R. Girshick, K. He, B. Hariharan, S. Belongie, "Feature
    Pyramid Networks for Object Detection", CVPR 2017.
[Lin17b] T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollár, "Focal Loss for Dense Object
    Detection", ICCV 2017.
"""
from collections import OrderedDict

from .. import functional as F
from .. import nn


class LastLevelMaxPool(nn.Module):
    """One more level after the pyramid: max pooling of the coarsest output with kernel 1,
    stride 2 (a plain subsampling), named ``name``."""

    def __init__(self, name="pool"):
        super().__init__()
        self.names = [name]

    def forward(self, results, inputs):
        return [F.max_pool2d(results[-1], 1, 2, 0)]


class LastLevelP6P7(nn.Module):
    """RetinaNet's two extra levels: P6 = Conv3x3/2(x), P7 = Conv3x3/2(ReLU(P6)), where x is
    the coarsest backbone map (C5) when ``use_p5`` is False, else the coarsest output (P5)."""

    def __init__(self, in_channels, out_channels, use_p5=None):
        super().__init__()
        self.p6 = nn.Conv2d(in_channels, out_channels, 3, 2, 1)
        self.p7 = nn.Conv2d(out_channels, out_channels, 3, 2, 1)
        for conv in (self.p6, self.p7):
            nn.init.kaiming_uniform_(conv.weight, a=1)
            nn.init.zeros_(conv.bias)
        self.use_p5 = in_channels == out_channels if use_p5 is None else use_p5
        self.names = ["p6", "p7"]

    def forward(self, results, inputs):
        p6 = self.p6(results[-1] if self.use_p5 else inputs[-1])
        return [p6, self.p7(F.relu(p6))]


class FeaturePyramidNetwork(nn.Module):
    """The top-down pathway with lateral connections (module docstring).

    Parameters
    ----------
    in_channels_list : channels of each input map, finest first
    out_channels : d, the channels of every output map (256 in the paper)
    extra_blocks : optional LastLevelMaxPool or LastLevelP6P7

    ``forward(features)`` takes a dict name -> (N, C_i, H_i, W_i) (finest first) and returns
    an OrderedDict with the same names mapped to the P maps (N, d, H_i, W_i), followed by the
    extra levels' names.
    """

    def __init__(self, in_channels_list, out_channels, extra_blocks=None):
        super().__init__()
        if not in_channels_list or any(int(c) <= 0 for c in in_channels_list):
            raise ValueError(f"FeaturePyramidNetwork: in_channels_list must be positive "
                             f"channel counts, got {in_channels_list!r}")
        self.inner_blocks = nn.ModuleList([nn.Conv2d(c, out_channels, 1) for c in in_channels_list])
        self.layer_blocks = nn.ModuleList([nn.Conv2d(out_channels, out_channels, 3, padding=1)
                                           for _ in in_channels_list])
        for conv in [*self.inner_blocks, *self.layer_blocks]:
            nn.init.kaiming_uniform_(conv.weight, a=1)      # torchvision's (and Detectron's)
            nn.init.zeros_(conv.bias)
        self.extra_blocks = extra_blocks
        self.out_channels = out_channels

    def forward(self, features):
        names, maps = list(features.keys()), list(features.values())
        if len(maps) != len(self.inner_blocks):
            raise ValueError(f"FeaturePyramidNetwork: expected {len(self.inner_blocks)} maps, "
                             f"got {len(maps)} ({names})")
        last_inner = self.inner_blocks[-1](maps[-1])                     # M_top = L_top
        results = [self.layer_blocks[-1](last_inner)]
        for i in range(len(maps) - 2, -1, -1):
            lateral = self.inner_blocks[i](maps[i])                      # L_i
            top_down = F.interpolate(last_inner, size=lateral.shape[-2:], mode="nearest")
            last_inner = lateral + top_down                              # M_i
            results.insert(0, self.layer_blocks[i](last_inner))          # P_i
        if self.extra_blocks is not None:
            results += self.extra_blocks(results, maps)
            names += self.extra_blocks.names
        return OrderedDict(zip(names, results))
