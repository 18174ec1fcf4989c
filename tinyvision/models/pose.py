"""Pose regression (DeepPose, Toshev & Szegedy 2014): a CNN that outputs the joints' coordinates.

Human pose estimation as plain regression: the network reads the image and writes 2k numbers,
the (x, y) of each of k joints. No part detectors, no graphical model: the whole image is
the context for every joint, and a network trained on enough poses learns where limbs go.

    image (N, 3, S, S)
      -> stem: conv 3x3 stride 2 - BN - ReLU                   (S/2)², widths[0] channels
      -> conv stages: [conv 3x3 - BN - ReLU, conv 3x3 stride 2 - BN - ReLU] per later width
      -> flatten -> FC - ReLU -> dropout -> FC (2k)             ψ(x; θ) ∈ R^{2k}
      -> reshape (N, k, 2)                                     normalised joints ŷ_i

Coordinates are normalised to a box b around the person (centre b_c, side S; here the
whole image, as the figure is somewhere in it), Sec. 3 of [TS14]:

    N(y_i; b) = (y_i − b_c) / S           in [−0.5, 0.5] for a joint inside the image    (1)

and the network is trained with the ℓ2 loss over the visible joints only: [TS14] omits the
terms of joints without a label, and an occluded or cut-off joint has no reliable one (its
term is dropped, not pulled towards zero):

    L = 1/N Σ_n Σ_i v_{n,i} · ‖ N(y_{n,i}) − ψ_i(x_n; θ) ‖²                                (2)

Metric, PCK@a ("percentage of correct keypoints", [YR13]): a visible joint is correct when

    ‖ ŷ_i − y_i ‖ ≤ a · max(w, h)                                                          (3)

with w × h the tight box of the figure's ground-truth joints, in pixels (here a = 0.1; LSP's
usual "PCK@0.2" uses 0.2 of the torso instead). The cascade of refining regressors of [TS14]
is left out: one stage is the idea.

    equation map:  (1) normalize_joints / denormalize_joints   (2) pose_loss   (3) pck

References
----------
[TS14] A. Toshev, C. Szegedy. DeepPose: Human Pose Estimation via Deep Neural Networks.
       CVPR 2014.
[YR13] Y. Yang, D. Ramanan. Articulated Human Detection with Flexible Mixtures of Parts.
       PAMI 2013 (PCK).
"""
import numpy as np

from .. import nn
from ..autograd import no_grad
from ..tensor import as_array
from .localization import conv_stages


class PoseRegressor(nn.Module):
    """DeepPose's one-stage regressor (see the module docstring).

    Parameters
    ----------
    num_joints : k (14 for LSP and ``StickFigures``)
    in_channels : channels of the input images
    input_size : side S of the (square) input, a multiple of 2^len(widths)
    widths : channels of the stem and of each conv stage after it (each halves the
        resolution). The stem is a single strided convolution (DeepPose starts with AlexNet's
        stride-4 11x11 one): full-resolution layers cost the most and are worth the least.
    hidden : width of the FC layer
    dropout : dropout before the last FC layer ([TS14] follows AlexNet: 0.5 there)

    ``forward(x)`` returns (N, k, 2) normalised joints, Eq. (1).
    """

    def __init__(self, num_joints=14, in_channels=3, input_size=64, widths=(32, 64, 128, 128),
                 hidden=512, dropout=0.0):
        super().__init__()
        cells = input_size >> len(widths)
        if cells < 1 or cells << len(widths) != input_size:
            raise ValueError(f"PoseRegressor: input_size must be a multiple of "
                             f"2^{len(widths)} = {1 << len(widths)} (one halving per stage), "
                             f"got {input_size}")
        self.num_joints, self.input_size = num_joints, input_size
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]), nn.ReLU(), *conv_stages(widths[0], widths[1:]))
        self.regressor = nn.Sequential(
            nn.Flatten(), nn.Linear(widths[-1] * cells * cells, hidden), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(hidden, 2 * num_joints))
        nn.init.zeros_(self.regressor[-1].weight)   # start at the centre of the image, y = 0
        nn.init.zeros_(self.regressor[-1].bias)

    def forward(self, x):
        out = self.regressor(self.features(x))                 # (N, 2k): ψ(x; θ)
        return out.reshape(out.shape[0], self.num_joints, 2)

    def predict(self, x):
        """Joints in pixels of the input, (N, k, 2) ndarray (eval mode, no graph)."""
        self.eval()
        with no_grad():
            y = self(x)
        return denormalize_joints(y.data, self.input_size)


def normalize_joints(keypoints, image_size):
    """Eq. (1) with b the image: (..., k, 3) pixel keypoints (x, y, v) -> (..., k, 3) with x, y as
    (x − S/2) / S, (y − S/2) / S and v kept. float32."""
    k = np.array(keypoints, dtype=np.float32)
    k[..., :2] = (k[..., :2] - image_size / 2) / image_size
    return k


def denormalize_joints(joints, image_size):
    """The inverse of Eq. (1) on (..., k, 2) normalised joints: pixels."""
    return np.asarray(joints, dtype=np.float32) * image_size + image_size / 2


def pose_loss(pred, target):
    """Eq. (2): ℓ2 distance² summed over the visible joints, averaged over the images.

    Parameters
    ----------
    pred : (N, k, 2) Tensor, normalised joints from ``PoseRegressor``
    target : (N, k, 3) normalised keypoints (x, y, v); joints with v = 0 add nothing
    """
    t = as_array(target)
    if t.ndim != 3 or t.shape[-1] != 3 or t.shape[:2] != tuple(pred.shape[:2]):
        raise ValueError(f"pose_loss: target must be (N, k, 3) = (x, y, visible) matching the "
                         f"prediction {tuple(pred.shape)}, got {t.shape}")
    visible = (t[..., 2:] > 0).astype(pred.dtype)               # (N, k, 1)
    d = (pred - t[..., :2]) * visible                            # invisible joints: d = 0
    return (d * d).sum() * (1.0 / pred.shape[0])


def pck(pred, keypoints, alpha=0.1, ref=None):
    """Eq. (3): fraction of visible joints within ``alpha`` · reference size of the truth.

    Parameters
    ----------
    pred : (N, k, 2) predicted joints in pixels
    keypoints : (N, k, 3) true joints (x, y, v) in pixels; only v > 0 joints count
    alpha : the threshold as a fraction of the reference size
    ref : (N,) reference sizes in pixels; default max(w, h) of the tight box of all k true
        joints of each image ([YR13])

    Returns
    -------
    (pck, per_joint): a float over all visible joints, and (k,) per joint (NaN for a joint
    never visible).
    """
    pred, kp = as_array(pred).astype(np.float64), as_array(keypoints).astype(np.float64)
    if kp.ndim != 3 or kp.shape[-1] != 3 or pred.shape != kp.shape[:2] + (2,):
        raise ValueError(f"pck: pred must be (N, k, 2) and keypoints (N, k, 3) for the same "
                         f"N, k, got {pred.shape} and {kp.shape}")
    if ref is None:
        extent = kp[..., :2].max(1) - kp[..., :2].min(1)          # (N, 2): w, h
        ref = extent.max(1)
    ref = np.asarray(ref, dtype=np.float64).reshape(-1, 1)
    visible = kp[..., 2] > 0
    correct = (np.linalg.norm(pred - kp[..., :2], axis=-1) <= alpha * ref) & visible
    with np.errstate(invalid="ignore", divide="ignore"):
        per_joint = correct.sum(0) / visible.sum(0)
    return float(correct.sum() / max(visible.sum(), 1)), per_joint
