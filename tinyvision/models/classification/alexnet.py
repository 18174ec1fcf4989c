"""An AlexNet-style network (Krizhevsky, Sutskever & Hinton, 2012), scaled to small images.

    conv 5x5 (the paper: 11x11 stride 4 on 224 px) -> ReLU -> max-pool 3x3 stride 2
    conv 5x5 -> ReLU -> max-pool 3x3 stride 2
    conv 3x3 -> ReLU -> conv 3x3 -> ReLU -> conv 3x3 -> ReLU -> max-pool 3x3 stride 2
    dropout -> FC -> ReLU -> dropout -> FC -> ReLU -> FC (classes)

What AlexNet added to LeNet: ReLU instead of tanh (training several times faster, Sec. 3.1),
overlapping max pooling (3x3 windows, stride 2; Sec. 3.4), dropout in the fully connected
layers (Sec. 4.2), and depth and width bought with GPUs. Local response normalisation is
left out: later work (VGG, Sec. 4.1) found it did not help. The channel widths are the
paper's divided by ``width_divisor`` so the net trains on a CPU.

References
----------
A. Krizhevsky, I. Sutskever, G. Hinton. ImageNet Classification with Deep Convolutional
Neural Networks. NeurIPS 2012.
"""
from ... import nn


class AlexNetSmall(nn.Module):
    """AlexNet's layer pattern for ``in_channels`` x ``input_size`` x ``input_size`` images."""

    def __init__(self, num_classes=10, in_channels=3, input_size=32, width_divisor=4,
                 dropout=0.5):
        super().__init__()
        c1, c2, c3, c4, c5 = (w // width_divisor for w in (96, 256, 384, 384, 256))
        fc = 4096 // (width_divisor * 4)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 5, padding=2), nn.ReLU(),
            nn.MaxPool2d(3, stride=2, padding=1),
            nn.Conv2d(c1, c2, 5, padding=2), nn.ReLU(),
            nn.MaxPool2d(3, stride=2, padding=1),
            nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c3, c4, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c4, c5, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        side = input_size
        for _ in range(3):  # each pool: H' = (H + 2 - 3) // 2 + 1
            side = (side - 1) // 2 + 1
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout), nn.Linear(c5 * side * side, fc), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(fc, fc), nn.ReLU(),
            nn.Linear(fc, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))
