"""A MobileNet-style network (Howard et al., 2017): depthwise separable convolutions.

A standard 3x3 convolution from M to N channels costs 3·3·M·N multiply-adds per pixel.
MobileNet factors it (Sec. 3.1) into

    depthwise 3x3:  one 3x3 filter per input channel (``groups = M``)   3·3·M
    pointwise 1x1:  mixes channels                                        M·N

a cost ratio of 1/N + 1/9 (Eq. 5): 8 to 9 times fewer operations for the same layer
shape. Each of the two is followed by BN and ReLU. The width multiplier α (Sec. 3.3)
thins every layer.

References
----------
A. Howard, M. Zhu, B. Chen, D. Kalenichenko, W. Wang, T. Weyand, M. Andreetto, H. Adam.
MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications. 2017.
"""
from ... import nn

# (output channels, stride) of each depthwise separable block, for 32 px inputs: the
# paper's sequence with fewer repeats of the 512-wide block.
BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (1024, 2)]


def depthwise_separable(cin, cout, stride):
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False),  # depthwise
        nn.BatchNorm2d(cin), nn.ReLU(),
        nn.Conv2d(cin, cout, 1, bias=False),                                        # pointwise
        nn.BatchNorm2d(cout), nn.ReLU())


class MobileNet(nn.Module):
    """MobileNet v1's layer pattern; ``alpha`` is the width multiplier."""

    def __init__(self, num_classes=10, in_channels=3, alpha=0.25, blocks=BLOCKS):
        super().__init__()
        width = lambda c: max(8, int(c * alpha))  # noqa: E731
        cin = width(32)
        layers = [nn.Conv2d(in_channels, cin, 3, padding=1, bias=False), nn.BatchNorm2d(cin),
                  nn.ReLU()]
        for cout, stride in blocks:
            layers.append(depthwise_separable(cin, width(cout), stride))
            cin = width(cout)
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                        nn.Linear(cin, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))
