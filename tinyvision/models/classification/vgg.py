"""VGG-style networks (Simonyan & Zisserman, 2015): depth from stacks of 3x3 convolutions.

VGG's argument (Sec. 2.3): two stacked 3x3 convolutions see a 5x5 window and three see
7x7, with fewer weights (3·3²C² = 27C² against 7²C² = 49C²) and more non-linearities. So a
stage is a few 3x3 convs at one width, then a 2x2 max-pool that halves the resolution,
and the width doubles from stage to stage. A configuration lists it:

    [32, 32, "M", 64, 64, "M", 128, "M"]    numbers: conv 3x3 pad 1 + (BN) + ReLU; "M": pool

Batch normalisation (added after the paper, as torchvision's vgg*_bn) makes deep
configurations train from scratch quickly; the classifier is global average pooling plus
one linear layer when ``gap=True`` (fewer weights than the paper's 4096-wide FC layers).

References
----------
K. Simonyan, A. Zisserman. Very Deep Convolutional Networks for Large-Scale Image
Recognition. ICLR 2015.
"""
from ... import nn

CONFIGS = {
    "vgg-small": [32, 32, "M", 64, 64, "M", 128, 128, "M"],
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"],
}


def make_stages(config, in_channels, batch_norm=True):
    """The convolutional part of a VGG from its configuration list."""
    layers = []
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(2))
            continue
        layers.append(nn.Conv2d(in_channels, item, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(item))
        layers.append(nn.ReLU())
        in_channels = item
    return nn.Sequential(*layers), in_channels


class VGG(nn.Module):
    """A VGG for ``in_channels`` x ``input_size`` x ``input_size`` images.

    Parameters
    ----------
    config : a name in CONFIGS or a list of widths and "M".
    gap : classify from globally average-pooled features (True) or flatten them into
        the paper's two hidden FC layers of ``fc_width`` (False).
    """

    def __init__(self, config="vgg-small", num_classes=10, in_channels=3, input_size=32,
                 batch_norm=True, gap=True, fc_width=256, dropout=0.5):
        super().__init__()
        config = CONFIGS[config] if isinstance(config, str) else list(config)
        self.features, width = make_stages(config, in_channels, batch_norm)
        side = input_size // 2 ** config.count("M")
        if side < 1:
            raise ValueError(f"VGG: {config.count('M')} pools do not fit a {input_size}px input")
        if gap:
            self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                            nn.Linear(width, num_classes))
        else:
            self.classifier = nn.Sequential(
                nn.Flatten(), nn.Linear(width * side * side, fc_width), nn.ReLU(),
                nn.Dropout(dropout), nn.Linear(fc_width, fc_width), nn.ReLU(),
                nn.Dropout(dropout), nn.Linear(fc_width, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))
