"""ResNet (He, Zhang, Ren & Sun, 2016): learn a residual, add the input back.

A block computes y = F(x) + x (Eq. 1 of [HZRS16]): the layers only have to learn the
change F = H − x, and the identity path carries the signal and the gradient
(∂y/∂x = ∂F/∂x + 1) through any depth. When a block changes the width or halves the
resolution, the shortcut becomes a 1x1 convolution with stride 2 (Eq. 2, "option B").

    BasicBlock (ResNet-18/34, CIFAR nets):  3x3 conv-BN-ReLU, 3x3 conv-BN, + x, ReLU
    Bottleneck (ResNet-50+):                1x1 reduce, 3x3, 1x1 expand (x4), + x, ReLU

Two stems: "cifar" (one 3x3 conv, Sec. 4.2: for 32 px images, 3 stages of 16/32/64
channels, depth 6n+2) and "imagenet" (7x7 stride 2 conv + 3x3 max-pool, Sec. 3.4).

References
----------
[HZRS16] K. He, X. Zhang, S. Ren, J. Sun. Deep Residual Learning for Image Recognition.
         CVPR 2016.
"""
from ... import functional as F
from ... import nn


def _conv_bn(cin, cout, k, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
                         nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, width, stride=1):
        super().__init__()
        cout = width * self.expansion
        self.branch = nn.Sequential(_conv_bn(cin, width, 3, stride), nn.ReLU(),
                                    _conv_bn(width, cout, 3))
        self.shortcut = (_conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout
                         else nn.Identity())

    def forward(self, x):
        return F.relu(self.branch(x) + self.shortcut(x))   # y = F(x) + x


class Bottleneck(BasicBlock):
    expansion = 4

    def __init__(self, cin, width, stride=1):
        nn.Module.__init__(self)
        cout = width * self.expansion
        self.branch = nn.Sequential(_conv_bn(cin, width, 1), nn.ReLU(),
                                    _conv_bn(width, width, 3, stride), nn.ReLU(),
                                    _conv_bn(width, cout, 1))
        self.shortcut = (_conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout
                         else nn.Identity())


class ResNet(nn.Module):
    """A residual network.

    Parameters
    ----------
    block : BasicBlock or Bottleneck
    layers : blocks per stage, e.g. (3, 3, 3) for the CIFAR ResNet-20, (2, 2, 2, 2) for ResNet-18
    widths : channels of each stage (before the bottleneck expansion); the first block of
        every stage after the first halves the resolution.
    stem : "cifar" or "imagenet"
    """

    def __init__(self, block=BasicBlock, layers=(1, 1, 1), widths=(16, 32, 64), num_classes=10,
                 in_channels=3, stem="cifar", zero_init_residual=True):
        super().__init__()
        if len(layers) != len(widths):
            raise ValueError(f"ResNet: layers {layers} and widths {widths} must have the same length")
        if stem == "cifar":
            self.stem = nn.Sequential(_conv_bn(in_channels, widths[0], 3), nn.ReLU())
        elif stem == "imagenet":
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, widths[0], 7, stride=2, padding=3, bias=False),
                nn.BatchNorm2d(widths[0]), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1))
        else:
            raise ValueError(f"ResNet: stem must be 'cifar' or 'imagenet', got {stem!r}")
        stages, cin = [], widths[0]
        for i, (n, width) in enumerate(zip(layers, widths)):
            blocks = []
            for j in range(n):
                blocks.append(block(cin, width, stride=2 if (i > 0 and j == 0) else 1))
                cin = width * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)
        self.out_channels = cin
        if zero_init_residual:
            # Each residual branch starts as zero (its last BN's γ = 0), so every block
            # begins as the identity: "Bag of Tricks" (He et al. 2019), torchvision's option.
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    nn.init.zeros_(m.branch[-1][1].weight)

    def features(self, x):
        """The last stage's feature map (N, C, H/2^(stages-1), W/2^(stages-1))."""
        return self.stages(self.stem(x))

    def forward(self, x):
        return self.fc(F.flatten(self.pool(self.features(x)), 1))


def resnet_small(num_classes=10, in_channels=3, depth=8):
    """The CIFAR ResNet of depth 6n+2 (8, 20, 32, 44, 56, 110) with 16/32/64 channels."""
    if (depth - 2) % 6:
        raise ValueError(f"resnet_small: depth must be 6n+2 (8, 14, 20, ...), got {depth}")
    n = (depth - 2) // 6
    return ResNet(BasicBlock, (n, n, n), (16, 32, 64), num_classes, in_channels, "cifar")


def resnet18(num_classes=1000, in_channels=3):
    return ResNet(BasicBlock, (2, 2, 2, 2), (64, 128, 256, 512), num_classes, in_channels, "imagenet")


def resnet50(num_classes=1000, in_channels=3):
    return ResNet(Bottleneck, (3, 4, 6, 3), (64, 128, 256, 512), num_classes, in_channels, "imagenet")
