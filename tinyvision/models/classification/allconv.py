"""An all-convolutional classifier: 1x1 convolutions and global average pooling, no FC layer.

Two lecture ideas in one net. A fully connected layer on a C x 1 x 1 input *is* a 1x1
convolution (Network in Network [LCY14], Overfeat): write the classifier that way and the
net accepts any input size, producing a map of class scores. Global average pooling then
turns each class's map into one score (Sec. 3.2 of [LCY14]): no weights to overfit, and
the map before pooling says *where* the class is — what CAM (Zhou et al., 2016) reads.
Strided convolutions replace max pooling where [SDBR15] showed it loses nothing.

    [conv 3x3 - BN - ReLU] x2, conv 3x3 stride 2 ... (three stages)
    conv 1x1 (C -> num_classes)   the "FC layer" at every position: class score maps
    global average pool           one score per class

References
----------
[LCY14] M. Lin, Q. Chen, S. Yan. Network In Network. ICLR 2014.
[SDBR15] J. Springenberg, A. Dosovitskiy, T. Brox, M. Riedmiller. Striving for Simplicity:
         The All Convolutional Net. ICLR 2015 workshop.
"""
from ... import functional as F
from ... import nn


def _cbr(cin, cout, stride=1):
    return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU()]


class AllConvNet(nn.Module):
    """Three conv stages, a 1x1 conv to class maps, global average pooling."""

    def __init__(self, num_classes=10, in_channels=3, widths=(32, 64, 128)):
        super().__init__()
        layers, cin = [], in_channels
        for i, w in enumerate(widths):
            layers += _cbr(cin, w) + _cbr(w, w, stride=2 if i < len(widths) - 1 else 1)
            cin = w
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Conv2d(cin, num_classes, 1)   # FC as a 1x1 conv

    def class_maps(self, x):
        """(N, num_classes, h, w) score maps before pooling (CAM reads these)."""
        return self.classifier(self.features(x))

    def forward(self, x):
        return F.adaptive_avg_pool2d(self.class_maps(x), 1).flatten(1)
