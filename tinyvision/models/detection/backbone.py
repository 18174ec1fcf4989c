"""The backbone every detector of this package starts from: a small ResNet that returns its
feature maps at strides 4, 8, 16 and 32, optionally topped by a Feature Pyramid Network.

::

    image (N, 3, H, W), standardised
      │ stem: 3x3 conv, stride 2, BN, ReLU                       (w0, H/2,  W/2)
      │ stage 1: BasicBlocks, the first with stride 2  ─► "c2"    (w0, H/4,  W/4)
      │ stage 2                                         ─► "c3"    (w1, H/8,  W/8)
      │ stage 3                                         ─► "c4"    (w2, H/16, W/16)
      │ stage 4                                         ─► "c5"    (w3, H/32, W/32)
      ▼
    ResNetFeatures.forward -> OrderedDict(c2=..., c3=..., c4=..., c5=...)

torchvision's detectors use an ImageNet ResNet-50 whose stem (7x7/2 conv and a 3x3/2 max
pool) brings 800 px images to stride 4; ShapesScenes are 128 px and a 3x3/2 conv is
enough. C_k has stride 2^k, the FPN paper's naming [Lin17a].

``BackboneWithFPN`` runs the body and an FPN (ops.FeaturePyramidNetwork) over the maps
it names, and returns the pyramid: OrderedDict(p3=..., p4=..., p5=..., [extra levels]),
every map with ``out_channels`` channels; ``resnet_fpn_backbone`` builds one by name of
the returned stages, as torchvision's function of the same name.

Both have ``out_channels`` and ``strides`` (a dict name -> stride), what the heads, the
anchor generators and RoI align need to know.
"""
from collections import OrderedDict

from ... import nn
from ...ops.feature_pyramid_network import (FeaturePyramidNetwork, LastLevelMaxPool,
                                            LastLevelP6P7)
from ..classification.resnet import BasicBlock, _conv_bn


class ResNetFeatures(nn.Module):
    """A ResNet body (BasicBlocks, a stride-2 3x3 stem) returning C2..C5 (module docstring).

    Parameters
    ----------
    widths : channels of the four stages (w0, w1, w2, w3)
    layers : BasicBlocks per stage
    in_channels : image channels
    last : the last stage built ("c2".."c5"): a detector that reads only c4 needs no c5
    """

    def __init__(self, widths=(16, 32, 64, 128), layers=(1, 1, 1, 1), in_channels=3, last="c5"):
        super().__init__()
        if len(widths) != 4 or len(layers) != 4:
            raise ValueError(f"ResNetFeatures: widths and layers must have 4 entries (stages "
                             f"C2..C5), got widths {widths!r} and layers {layers!r}")
        names = ["c2", "c3", "c4", "c5"]
        if last not in names:
            raise ValueError(f"ResNetFeatures: last must be one of {names}, got {last!r}")
        depth = names.index(last) + 1
        widths, layers = tuple(widths)[:depth], tuple(layers)[:depth]
        self.stem = nn.Sequential(_conv_bn(in_channels, widths[0], 3, stride=2), nn.ReLU())
        stages, cin = [], widths[0]
        for width, n in zip(widths, layers):
            blocks = []
            for j in range(n):
                blocks.append(BasicBlock(cin, width, stride=2 if j == 0 else 1))
                cin = width
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        for m in self.modules():           # every residual branch starts as the identity
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.branch[-1][1].weight)
        self.names = names[:depth]
        self.out_channels = dict(zip(self.names, widths))
        self.strides = {name: 2 ** (k + 2) for k, name in enumerate(self.names)}

    def forward(self, x):
        x = self.stem(x)
        out = OrderedDict()
        for name, stage in zip(self.names, self.stages):
            x = stage(x)
            out[name] = x
        return out


class BackboneWithFPN(nn.Module):
    """A body (``ResNetFeatures``) and an FPN over the body's maps ``returned`` (names, finest
    first): ``forward(x)`` gives OrderedDict p_k -> (N, out_channels, H/2^k, W/2^k) for
    every returned c_k, then the extra levels ("pool", or "p6" and "p7")."""

    def __init__(self, body, returned=("c3", "c4", "c5"), out_channels=64, extra_blocks=None):
        super().__init__()
        unknown = [r for r in returned if r not in body.names]
        if not returned or unknown:
            raise ValueError(f"BackboneWithFPN: returned must name maps of the body "
                             f"({body.names}), got {returned!r}")
        self.body, self.returned = body, list(returned)
        self.fpn = FeaturePyramidNetwork([body.out_channels[r] for r in returned], out_channels,
                                         extra_blocks)
        self.out_channels = out_channels
        last = body.strides[returned[-1]]
        names = ["p" + r[1:] for r in returned]
        self.strides = {n: body.strides[r] for n, r in zip(names, returned)}
        if extra_blocks is not None:
            for k, extra in enumerate(extra_blocks.names, 1):
                self.strides[extra] = last * 2 ** k

    def forward(self, x):
        features = self.body(x)
        pyramid = self.fpn(OrderedDict((r, features[r]) for r in self.returned))
        return OrderedDict(("p" + k[1:] if k in self.returned else k, v)
                           for k, v in pyramid.items())


def resnet_fpn_backbone(widths=(16, 32, 64, 128), layers=(1, 1, 1, 1), returned_layers=(2, 3, 4),
                        out_channels=64, extra_blocks="pool"):
    """A ``BackboneWithFPN`` on ``ResNetFeatures(widths, layers)``, as torchvision's function:

    returned_layers : stages (1..4, i.e. C2..C5) the FPN reads; (2, 3, 4) gives P3..P5
    out_channels : the pyramid's channels
    extra_blocks : "pool" (LastLevelMaxPool, Faster R-CNN), "p6p7" (LastLevelP6P7 on P5,
        RetinaNet) or None
    """
    body = ResNetFeatures(widths, layers)
    if not returned_layers or any(k not in (1, 2, 3, 4) for k in returned_layers):
        raise ValueError(f"resnet_fpn_backbone: returned_layers must be stages in 1..4, got "
                         f"{returned_layers!r}")
    returned = [f"c{k + 1}" for k in sorted(returned_layers)]
    if extra_blocks == "pool":
        extra = LastLevelMaxPool()
    elif extra_blocks == "p6p7":
        extra = LastLevelP6P7(out_channels, out_channels, use_p5=True)
    elif extra_blocks is None:
        extra = None
    else:
        raise ValueError(f"resnet_fpn_backbone: extra_blocks must be 'pool', 'p6p7' or None, "
                         f"got {extra_blocks!r}")
    return BackboneWithFPN(body, returned, out_channels, extra)
