"""Single-object localization: a classifier with a second head that regresses the box.

The lecture's first step from "what is in the picture" to "where is it": when an image holds
exactly one object, its box is four numbers, so localization is *regression* beside
classification. One backbone computes features; two heads read them:

    image (N, 3, S, S)
      -> backbone: [conv 3x3 - BN - ReLU, conv 3x3 stride 2 - BN - ReLU] per stage
      -> flatten -> FC - ReLU (shared)                       features h (N, hidden)
           -> class head  FC -> s (N, C)      class scores, trained with cross-entropy
           -> box head    FC -> b (N, 4)      (cx, cy, w, h) / S, trained with L2 or smooth-L1

The box is (cx, cy, w, h) divided by the image side, so every target lies in [0, 1] and does
not depend on the image size. The head ends in an FC layer, not a global average pool: the
flattened map keeps *where* each feature fired, which a pooled vector would throw away.

The multitask loss (the lecture's weighted sum of two losses):

    L = α · CE(s, y) + (1 − α) · L_box(b, b*)                                    (1)
    CE(s, y) = −log softmax(s)_y                                                 (2)
    L_box = Σ_{j ∈ cx,cy,w,h} ℓ(b_j − b*_j),  ℓ(d) = d² (L2)                     (3)
                                  or  ℓ(d) = smooth_L1(d) = 0.5 d²/β if |d| < β else |d| − β/2

α trades the two tasks against each other for the shared layers: α → 1 makes a plain
classifier whose box head barely trains; α → 0 spends the features on the box. Box errors
are fractions of the image side, small numbers (1 px at S = 32 is 0.03): smooth-L1 with
β = 1/9 (torchvision's RPN value) is 4.5·d² there, which keeps the two terms of similar
size at α = 1/2 (about 1.6 and 0.4 at the start of training).

    equation map:  (1) localization_loss    (2) F.cross_entropy    (3) box_regression_loss
                   encode/decode: boxes_to_targets (xyxy pixels -> cxcywh / S),
                   targets_to_boxes (back, clipped to the image), used by Localizer.predict

References
----------
[SEZ+14] P. Sermanet, D. Eigen, X. Zhang, M. Mathieu, R. Fergus, Y. LeCun. OverFeat:
         Integrated Recognition, Localization and Detection using Convolutional Networks.
         ICLR 2014 (a regression head on classifier features, Sec. 4).
[Gir15]  R. Girshick. Fast R-CNN. ICCV 2015 (smooth-L1, Eq. 3; the multitask loss, Eq. 1).
CS231n, lecture "Detection and Segmentation": classification + localization, with
         localization treated as regression.
"""
import numbers

import numpy as np

from .. import functional as F
from .. import nn
from ..autograd import no_grad
from ..ops import box_convert
from ..tensor import as_array

BOX_LOSSES = ("l2", "smooth_l1")


def conv_stages(in_channels, widths):
    """[conv 3x3 - BN - ReLU, conv 3x3 stride 2 - BN - ReLU] per width: halves H and W each."""
    layers, cin = [], in_channels
    for w in widths:
        for stride in (1, 2):
            layers += [nn.Conv2d(cin, w, 3, stride=stride, padding=1, bias=False),
                       nn.BatchNorm2d(w), nn.ReLU()]
            cin = w
    return nn.Sequential(*layers)


class Localizer(nn.Module):
    """A CNN with a class head and a box head (see the module docstring).

    Parameters
    ----------
    num_classes : C
    in_channels : channels of the input images
    input_size : side S of the (square) input; the flattened feature map is
        widths[-1] x (S / 2^len(widths))²
    widths : channels of the backbone's stages (each halves the resolution)
    hidden : width of the shared FC layer

    ``forward(x)`` returns ``(scores (N, C), boxes (N, 4))`` with boxes as (cx, cy, w, h)
    divided by S.
    """

    def __init__(self, num_classes=5, in_channels=3, input_size=32, widths=(32, 64, 128),
                 hidden=256):
        super().__init__()
        cells = input_size >> len(widths)
        if cells < 1 or cells << len(widths) != input_size:
            raise ValueError(f"Localizer: input_size must be a multiple of "
                             f"2^{len(widths)} = {1 << len(widths)} (one halving per stage), "
                             f"got {input_size}")
        self.input_size, self.num_classes = input_size, num_classes
        self.backbone = conv_stages(in_channels, widths)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(widths[-1] * cells * cells, hidden),
                                nn.ReLU())
        self.cls_head = nn.Linear(hidden, num_classes)
        self.box_head = nn.Linear(hidden, 4)
        # Start every prediction at the centred half-size box, the mean target's neighbour.
        nn.init.zeros_(self.box_head.weight)
        self.box_head.bias.data[:] = 0.5

    def forward(self, x):
        h = self.fc(self.backbone(x))            # (N, hidden): shared by both heads
        return self.cls_head(h), self.box_head(h)

    def predict(self, x):
        """Labels, scores and boxes for a batch, in eval mode without a graph.

        Returns a dict of ndarrays: ``labels`` (N,) class indices 0..C−1, ``scores`` (N,)
        their softmax probabilities, ``boxes`` (N, 4) xyxy pixels of the input, clipped to it.
        """
        self.eval()
        with no_grad():
            scores, boxes = self(x)
        p = F.softmax(scores, dim=1).data
        labels = p.argmax(1)
        return {"labels": labels, "scores": p[np.arange(len(p)), labels],
                "boxes": targets_to_boxes(boxes.data, self.input_size)}


def targets_to_boxes(boxes, image_size):
    """(N, 4) (cx, cy, w, h) / S -> xyxy pixels, float32, inside the image.

    NOTE: nothing stops a regressed width or height from being negative (early in training
    it happens); it is taken as 0, so x1 <= x2 and y1 <= y2 always hold.
    """
    b = np.array(as_array(boxes), dtype=np.float32)
    b[:, 2:] = np.maximum(b[:, 2:], 0)
    xyxy = box_convert(b * image_size, "cxcywh", "xyxy").data
    return np.clip(xyxy, 0, image_size).astype(np.float32)


def boxes_to_targets(boxes, image_size):
    """xyxy pixel boxes (N, 4) -> regression targets (cx, cy, w, h) / S, float32 in [0, 1].
    The inverse of ``targets_to_boxes`` for boxes inside the image."""
    return (box_convert(boxes, "xyxy", "cxcywh").data / image_size).astype(np.float32)


def box_regression_loss(pred, target, kind="smooth_l1", beta=1 / 9):
    """Eq. (3): Σ over the 4 coordinates of ℓ(pred − target), averaged over the batch.

    ``beta`` is smooth-L1's switch from quadratic to linear, in units of the image side
    (torchvision's 1/9 for its RPN); L2 ignores it.
    """
    if kind not in BOX_LOSSES:
        raise ValueError(f"box_regression_loss: kind must be one of {BOX_LOSSES}, got {kind!r}")
    if kind == "l2":
        per_coordinate = F.mse_loss(pred, target, reduction="none")
    else:
        per_coordinate = F.smooth_l1_loss(pred, target, reduction="none", beta=beta)
    return per_coordinate.sum(1).mean()


def localization_loss(outputs, targets, alpha=0.5, box_loss="smooth_l1"):
    """Eq. (1): {"loss_classifier": α·CE, "loss_box": (1 − α)·L_box}; their sum is L.

    Parameters
    ----------
    outputs : (scores (N, C), boxes (N, 4)) from ``Localizer``
    targets : (labels (N,) in 0..C−1, boxes (N, 4) as (cx, cy, w, h) / S)
    alpha : weight of the classification loss, in [0, 1]
    box_loss : 'smooth_l1' or 'l2'
    """
    if not (isinstance(alpha, numbers.Real) and 0 <= alpha <= 1):
        raise ValueError(f"localization_loss: alpha must be a number in [0, 1], got {alpha!r}")
    scores, boxes = outputs
    labels, box_targets = targets
    shape = np.shape(as_array(box_targets))
    if shape != tuple(boxes.shape):
        raise ValueError(f"localization_loss: box targets must be (N, 4) like the predicted "
                         f"boxes {tuple(boxes.shape)}, got {shape}")
    return {"loss_classifier": F.cross_entropy(scores, labels) * alpha,
            "loss_box": box_regression_loss(boxes, box_targets, box_loss) * (1 - alpha)}
