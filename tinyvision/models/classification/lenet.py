"""LeNet-5 (LeCun et al., 1998): the convolutional network that read cheques.

    input 1x32x32
      -> C1 conv 5x5, 6 maps      -> 6x28x28   -> tanh -> S2 avg-pool 2x2 -> 6x14x14
      -> C3 conv 5x5, 16 maps     -> 16x10x10  -> tanh -> S4 avg-pool 2x2 -> 16x5x5
      -> C5 full 120 -> tanh -> F6 full 84 -> tanh -> output, one score per class

The paper's ideas, still in every CNN: local receptive fields (5x5 windows), shared
weights (one kernel slides over the whole image, so a stroke is recognised anywhere), and
spatial subsampling (pooling halves the resolution as the number of maps grows). Two
simplifications, as is usual today: C3 connects to all of S2's maps (the paper's sparse
connection table saved 1998 compute), and the output is a linear layer under a softmax
cross entropy instead of the paper's Euclidean RBF units.

References
----------
Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. Gradient-based learning applied to document
recognition. Proc. IEEE 86(11), 1998.
"""
from ... import nn


class LeNet5(nn.Module):
    """LeNet-5 for ``in_channels`` x ``input_size`` x ``input_size`` images (32 in the paper).

    Parameters
    ----------
    num_classes : int
    in_channels : int
    input_size : int, height = width of the input; the feature map after S4 is
        ((input_size - 4) / 2 - 4) / 2 on a side (5 for 32).
    activation : "tanh" (the paper) or "relu".
    """

    def __init__(self, num_classes=10, in_channels=1, input_size=32, activation="tanh"):
        super().__init__()
        side = ((input_size - 4) // 2 - 4) // 2
        if side < 1:
            raise ValueError(f"LeNet5: input_size must be at least 16, got {input_size}")
        if activation not in ("tanh", "relu"):
            raise ValueError(f"LeNet5: activation must be 'tanh' or 'relu', got {activation!r}")
        act = nn.Tanh if activation == "tanh" else nn.ReLU
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5), act(), nn.AvgPool2d(2),   # C1, S2
            nn.Conv2d(6, 16, 5), act(), nn.AvgPool2d(2),            # C3, S4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * side * side, 120), act(),                 # C5
            nn.Linear(120, 84), act(),                               # F6
            nn.Linear(84, num_classes),                              # output
        )

    def forward(self, x):
        return self.classifier(self.features(x))
