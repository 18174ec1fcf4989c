"""RetinaNet [Lin17]: a one-stage detector as accurate as the two-stage ones, thanks to the focal
loss.

A one-stage detector scores every anchor of a dense grid: ~10^4-10^5 of them per image, all
but a handful background. Trained with plain cross entropy, the sum of the many easy
background losses swamps the few foreground ones; two-stage detectors escape this with a
proposal stage and a 1:3 sampler. RetinaNet keeps every anchor and reshapes the loss
instead: the focal loss FL(p_t) = −α_t (1 − p_t)^γ log(p_t) turns the easy examples down by
(1 − p_t)^γ, so that the hard ones drive the training. The network is a ResNet with an FPN
and two small fully convolutional subnets shared by every level of the pyramid::

    images (N, 3, H, W)
      │ DetectionTransform: standardise, check targets
      │ ResNet body + FPN (resnet_fpn_backbone)                                 backbone
      ▼
    P_l (N, d_fpn, H/2^l, W/2^l), l in levels  ──── AnchorGenerator: A = 9 anchors per cell
      │ the same two subnets on every level:                                   RetinaNetHead
      ├─ class subnet: n x (3x3 conv d, ReLU) -> 3x3 conv K·A -> (N, ΣHWA, K) logits
      └─ box subnet:   n x (3x3 conv d, ReLU) -> 3x3 conv 4·A -> (N, ΣHWA, 4) offsets
    training: Matcher (IoU ≥ 0.5 fg, < 0.4 bg, between ignored)            assign_targets
              L = Σ FL over non-ignored anchors / N_fg + Σ box loss over fg / N_fg  retinanet_loss
    test: per level σ(logits) > 0.05, top 1000, decode; all levels: per-class NMS 0.5,
          top 100                                                        postprocess_detections

Equation map ([Lin17]; x a logit, p = σ(x), y ∈ {0, 1} the anchor's target for one class):

    p_t = p if y = 1 else 1 − p;  α_t = α if y = 1 else 1 − α                   Eq. (2), (3)
    FL(p_t) = −α_t (1 − p_t)^γ log(p_t),  α = 0.25, γ = 2       Eq. (5), ops.sigmoid_focal_loss
    L_cls = (1 / N_fg) Σ_{anchors not ignored} Σ_{classes k} FL                 Sec. 4.1,
    L_box = (1 / N_fg) Σ_{fg anchors} smooth_L1(t − v)                          retinanet_loss
        t: predicted offsets; v: BoxCoder.encode(matched box, anchor), weights (1, 1, 1, 1)
    prior init: final class conv bias b = −log((1 − π) / π), π = 0.01, so that every
        anchor starts with p ≈ π and the background's loss does not blow up at
        iteration 1; all other head convs N(0, 0.01²), bias 0        Sec. 3.3, 4.1, RetinaNetHead
    anchors: 3 scales {2^0, 2^(1/3), 2^(2/3)} x 3 ratios {1:2, 1:1, 2:1} at every cell;
        base size anchor_scale · stride (the paper's 4: 32² on P3 .. 512² on P7)  Sec. 4,
                                                                    retinanet_anchor_sizes
    matching: IoU ≥ 0.5 foreground, IoU < 0.4 background, in between ignored   Sec. 4, Matcher
        (``matcher="atss"``: ATSSMatcher [Zhang20], below)

Sizes here. The paper detects COCO objects (32-800 px) on P3..P7 of 800 px images with
n = 4, d = 256. ShapesScenes are 128 x 128 with objects of 5-109 px (median 22, 90% within
8-64): P6 and P7 (strides 64, 128; 2 x 2 and 1 x 1 maps) would hold anchors of 256 px and
more and no object, while anchors of 4 x 8 = 32 px on P3 miss the small half of the shapes.
So the defaults keep the paper's geometry one octave down: levels P2..P4 (strides 4, 8, 16;
returned_layers (1, 2, 3), no P6/P7) with anchors 4 x stride: 16-25 px on P2, 32-51 on P3,
64-102 on P4. The subnets are n = 2 convs of d = 64 (the FPN's width): the dense heads on
every cell of P2 are most of RetinaNet's cost. ``returned_layers=(2, 3, 4),
extra_blocks="p6p7"``, ``num_convs=4``, ``head_channels=256`` give the paper's network.
The recipe (recipes/retinanet.py) keeps the paper's levels P3..P5 and halves the anchors
instead (``returned_layers=(2, 3, 4), anchor_scale=2``): anchors of 16-25 px on P3 .. 64-102
on P5, as accurate on ShapesScenes as P2..P4 and half the cost of a training step; it
records what was measured.

Matching small objects. With the paper's thresholds the small shapes have almost nothing to
learn from: on 200 training scenes, 91% of the objects under 12 px overlap no anchor of the
recipe's (16 px and up, on the stride-8 grid of P3) by IoU 0.5. Each gets one forced
low-quality match, while the anchors around it, overlapping it by less than 0.4, are taught
"background". Two ways out, both options here: lower thresholds and smaller anchors
(``fg_iou_thresh``, ``bg_iou_thresh``, ``anchor_scale``), or ``matcher="atss"``, adaptive
training sample selection [Zhang20] (ops.ATSSMatcher): each object's IoU threshold is the
mean + std of the IoUs of its nearest anchors, so a small object's threshold drops with its
overlaps. The network, the losses and the test-time path are the same either way. The
recipe records what each gave.

Normalisation: the paper divides both sums by the number of foreground anchors; here that
number is counted over the whole minibatch (one loss computation per batch), torchvision
divides each image's sums by its own count and averages the images.

References
----------
[Lin17] T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollár, "Focal Loss for Dense Object
    Detection", ICCV 2017.
[Lin17a] T.-Y. Lin et al., "Feature Pyramid Networks for Object Detection", CVPR 2017
    (backbone.py, ops.FeaturePyramidNetwork).
[Zhang20] S. Zhang et al., "Bridging the Gap Between Anchor-based and Anchor-free Detection
    via Adaptive Training Sample Selection", CVPR 2020 (ops.ATSSMatcher).
"""
import math

import numpy as np

from ... import functional as F
from ... import nn
from ...autograd import no_grad
from ...ops import (AnchorGenerator, ATSSMatcher, BoxCoder, Matcher, batched_nms, box_iou,
                    clip_boxes_to_image, sigmoid_focal_loss)
from ...tensor import Tensor
from .backbone import resnet_fpn_backbone
from .transform import DetectionTransform, detections

# The paper's settings (Sec. 4, 4.1, 5.1), with the sizes of ShapesScenes (module docstring).
DEFAULTS = dict(
    widths=(16, 32, 64, 128), layers=(1, 1, 1, 1),   # the ResNet body (backbone.py)
    returned_layers=(1, 2, 3), extra_blocks=None,    # P2..P4 (the paper: (2, 3, 4), "p6p7")
    fpn_channels=64,                                 # d of the FPN (256)
    num_convs=2, head_channels=64,                   # n and d of the subnets (4, 256)
    anchor_scale=4.0,                                # anchor base size / stride (4)
    anchor_octave_scales=(1.0, 2 ** (1 / 3), 2 ** (2 / 3)),
    aspect_ratios=(0.5, 1.0, 2.0),
    matcher="iou",                                   # the paper's; "atss": [Zhang20]
    fg_iou_thresh=0.5, bg_iou_thresh=0.4, allow_low_quality_matches=True,   # "iou"
    atss_topk=9,                                     # "atss": nearest locations per level
    focal_alpha=0.25, focal_gamma=2.0, prior_probability=0.01,
    bbox_loss="smooth_l1", smooth_l1_beta=1 / 9,     # Detectron's β = 0.11; torchvision: "l1"
    score_thresh=0.05, nms_thresh=0.5, detections_per_img=100, topk_candidates=1000,
)


def retinanet_anchor_sizes(strides, anchor_scale=4.0, octave_scales=DEFAULTS[
        "anchor_octave_scales"]):
    """One tuple of anchor sizes per level: anchor_scale · stride · 2^(i/3), i = 0, 1, 2
    (Sec. 4 of [Lin17]), e.g. strides (8, 16) -> ((32, 40.3, 50.8), (64, 80.6, 101.6))."""
    return tuple(tuple(anchor_scale * s * o for o in octave_scales) for s in strides)


class RetinaNetHead(nn.Module):
    """The class and box subnets (Fig. 3 (c), (d) of [Lin17]), shared by every pyramid level.

    Each subnet is ``num_convs`` x (3x3 conv of ``channels``, ReLU) and a last 3x3 conv to
    K·A class logits (``classification_head``) or 4·A box offsets (``regression_head``);
    the two subnets share no weights. ``forward(features)`` takes the list of pyramid maps
    (N, in_channels, H_l, W_l) and returns (logits (N, ΣH_l·W_l·A, K), offsets
    (N, ΣH_l·W_l·A, 4)), rows ordered by level, then cell (row-major), then anchor: the
    order of AnchorGenerator's anchors.
    """

    def __init__(self, in_channels, num_anchors, num_classes, num_convs=4, channels=256,
                 prior_probability=0.01):
        super().__init__()
        if not 0 < prior_probability < 1:
            raise ValueError(f"RetinaNetHead: prior_probability must be in (0, 1), got "
                             f"{prior_probability!r}")
        self.num_anchors, self.num_classes = num_anchors, num_classes
        self.classification_head = self._subnet(in_channels, channels, num_convs,
                                                num_anchors * num_classes)
        self.regression_head = self._subnet(in_channels, channels, num_convs, 4 * num_anchors)
        for m in self.modules():                     # Sec. 4.1: N(0, 0.01²), bias 0 ...
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)
        # ... except the last class conv: σ(b) = π for every anchor (the prior, Sec. 3.3)
        nn.init.constant_(self.classification_head[-1].bias,
                          -math.log((1 - prior_probability) / prior_probability))

    @staticmethod
    def _subnet(in_channels, channels, num_convs, out_channels):
        layers = []
        for i in range(num_convs):
            layers += [nn.Conv2d(in_channels if i == 0 else channels, channels, 3, padding=1),
                       nn.ReLU()]
        layers.append(nn.Conv2d(channels if num_convs else in_channels, out_channels, 3,
                                padding=1))
        return nn.Sequential(*layers)

    def forward(self, features):
        logits, offsets = [], []
        for x in features:
            N, _, H, W = x.shape
            # (N, A·K, H, W) -> (N, H, W, A·K) -> (N, H·W·A, K): cell-major, then anchor
            logits.append(self.classification_head(x).permute(0, 2, 3, 1)
                          .reshape(N, H * W * self.num_anchors, self.num_classes))
            offsets.append(self.regression_head(x).permute(0, 2, 3, 1)
                           .reshape(N, H * W * self.num_anchors, 4))
        return F.cat(logits, 1), F.cat(offsets, 1)


class RetinaNet(nn.Module):
    """RetinaNet (module docstring), called as torchvision's detectors.

    In train mode ``model(images, targets)`` returns ``{"classification": ...,
    "bbox_regression": ...}`` (0-d Tensors); in eval mode ``model(images)`` returns one dict
    per image with ``boxes`` (D, 4) float32 xyxy pixels, ``scores`` (D,) and ``labels`` (D,)
    int64 in 1..num_classes.

    Parameters
    ----------
    num_classes : K, the object classes (labels 1..K; the classifier has K sigmoid outputs
        and no background class)
    mean, std : per-channel image statistics (DetectionTransform)
    other keywords : see DEFAULTS and the module docstring
    """

    def __init__(self, num_classes=5, mean=None, std=None, **kwargs):
        super().__init__()
        unknown = sorted(set(kwargs) - set(DEFAULTS))
        if unknown:
            raise TypeError(f"RetinaNet: unknown keyword(s) {unknown}; expected some of "
                            f"{sorted(DEFAULTS)}")
        if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"RetinaNet: num_classes must be an int >= 1, got {num_classes!r}")
        if kwargs.get("matcher", "iou") not in ("iou", "atss"):
            raise ValueError(f"RetinaNet: matcher must be 'iou' or 'atss', got "
                             f"{kwargs['matcher']!r}")
        if kwargs.get("bbox_loss", "smooth_l1") not in ("smooth_l1", "l1"):
            raise ValueError(f"RetinaNet: bbox_loss must be 'smooth_l1' or 'l1', got "
                             f"{kwargs['bbox_loss']!r}")
        c = self.config = dict(DEFAULTS, **kwargs)
        self.num_classes = int(num_classes)
        self.transform = DetectionTransform(mean, std, "RetinaNet")
        self.backbone = resnet_fpn_backbone(c["widths"], c["layers"], c["returned_layers"],
                                            c["fpn_channels"], c["extra_blocks"])
        self.levels = list(self.backbone.strides)
        sizes = retinanet_anchor_sizes(self.backbone.strides.values(), c["anchor_scale"],
                                       c["anchor_octave_scales"])
        self.anchor_generator = AnchorGenerator(sizes, (tuple(c["aspect_ratios"]),) * len(sizes))
        num_anchors = self.anchor_generator.num_anchors_per_location()[0]
        self.head = RetinaNetHead(c["fpn_channels"], num_anchors, self.num_classes,
                                  c["num_convs"], c["head_channels"], c["prior_probability"])
        self.box_coder = BoxCoder((1.0, 1.0, 1.0, 1.0))
        if c["matcher"] == "atss":
            self.matcher = ATSSMatcher(c["atss_topk"], num_anchors)
        else:
            self.matcher = Matcher(c["fg_iou_thresh"], c["bg_iou_thresh"],
                                   c["allow_low_quality_matches"])
        for name in ("score_thresh", "nms_thresh", "detections_per_img", "topk_candidates"):
            setattr(self, name, c[name])
        self._anchors = {}

    def anchors(self, image_size, feature_shapes):
        """The anchors of every level for one image size, (H_l·W_l·A, 4) arrays, cached."""
        key = (tuple(image_size), tuple(tuple(s) for s in feature_shapes))
        if key not in self._anchors:
            self._anchors[key] = [a.numpy() for a in
                                  self.anchor_generator(image_size, feature_shapes)]
        return self._anchors[key]

    def forward(self, images, targets=None):
        x, targets = self.transform.prepare(images, targets, self.training)
        features = list(self.backbone(x).values())                      # P_l, finest first
        anchors = self.anchors(x.shape[2:], [f.shape[2:] for f in features])
        if self.training:
            logits, offsets = self.head(features)
            labels, box_targets = self.assign_targets(targets, anchors)
            return retinanet_loss(logits, offsets, labels, box_targets, self.config)
        with no_grad():
            logits, offsets = self.head(features)
        return self.postprocess_detections(logits.data, offsets.data, anchors, x.shape[2:])

    # ---- training: which anchor learns what ----------------------------------------------------
    def assign_targets(self, targets, anchors):
        """Match every anchor of every image to a ground truth: Matcher on box_iou (the
        paper's), or ATSSMatcher with ``matcher="atss"``. ``anchors``: one (T_l, 4) array per
        level (one (T, 4) array: a single level).

        Returns
        -------
        labels : (N, T) int64: the matched box's class 1..K (foreground), 0 (background) or
            −1 (ignored: IoU in [0.4, 0.5))
        box_targets : (N, T, 4) float32: BoxCoder.encode(matched box, anchor) on the
            foreground rows, 0 elsewhere
        """
        if isinstance(anchors, np.ndarray):
            anchors = [anchors]                                          # a single level
        counts = [len(a) for a in anchors]
        anchors = np.concatenate(anchors)
        T = len(anchors)
        labels = np.zeros((len(targets), T), np.int64)
        box_targets = np.zeros((len(targets), T, 4), np.float32)
        for i, t in enumerate(targets):                                  # images, not anchors
            if len(t["boxes"]) == 0:
                continue                                                 # all background
            if isinstance(self.matcher, ATSSMatcher):
                matched = self.matcher(t["boxes"], anchors, counts).numpy()  # (T,)
            else:
                matched = self.matcher(box_iou(t["boxes"], anchors)).numpy()
            fg = matched >= 0
            labels[i, fg] = t["labels"][matched[fg]]
            labels[i, matched == Matcher.BETWEEN_THRESHOLDS] = -1
            box_targets[i, fg] = self.box_coder.encode(t["boxes"][matched[fg]],
                                                       anchors[fg]).numpy()
        return labels, box_targets

    # ---- test: from dense scores to a few boxes ------------------------------------------------
    def postprocess_detections(self, logits, offsets, anchors, image_size):
        """Per image: on each level the scores p = σ(x) above ``score_thresh``, the best
        ``topk_candidates`` of them (anchor, class pairs) decoded into boxes and clipped;
        then the levels together, NMS per class at ``nms_thresh``, the best
        ``detections_per_img``. logits (N, T, K), offsets (N, T, 4): arrays."""
        K = self.num_classes
        bounds = np.cumsum([0] + [len(a) for a in anchors])             # level l: rows b_l..b_l+1
        results = []
        for scores_all, offsets_i in zip(1 / (1 + np.exp(-logits)), offsets):
            boxes, scores, labels = [], [], []
            for level, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
                s = scores_all[lo:hi].reshape(-1)                        # (T_l·K,) anchor-major
                keep = np.flatnonzero(s > self.score_thresh)
                if len(keep) > self.topk_candidates:
                    keep = keep[np.argpartition(-s[keep], self.topk_candidates)[
                        :self.topk_candidates]]
                rows = keep // K                                         # the anchor of a pair
                decoded = self.box_coder.decode(offsets_i[lo:hi][rows], anchors[level][rows])
                boxes.append(clip_boxes_to_image(decoded, image_size).numpy())
                scores.append(s[keep])
                labels.append(keep % K + 1)
            boxes, scores, labels = (np.concatenate(v) for v in (boxes, scores, labels))
            keep = batched_nms(boxes, scores, labels, self.nms_thresh).numpy()
            keep = keep[:self.detections_per_img]
            results.append(detections(boxes[keep], scores[keep], labels[keep]))
        return results


def retinanet_loss(logits, offsets, labels, box_targets, config=DEFAULTS):
    """The two losses of RetinaNet over a minibatch (Sec. 4.1 of [Lin17]; module docstring).

    Parameters
    ----------
    logits : Tensor (N, T, K) class logits; offsets : Tensor (N, T, 4) predicted offsets
    labels : (N, T) int64: 1..K foreground, 0 background, −1 ignored (assign_targets)
    box_targets : (N, T, 4) encoded offsets of the foreground rows
    config : focal_alpha, focal_gamma, bbox_loss ("smooth_l1" or "l1"), smooth_l1_beta

    Returns
    -------
    {"classification": Σ_{not ignored} FL / N_fg, "bbox_regression": Σ_fg box loss / N_fg}
    with N_fg = max(1, number of foreground anchors in the minibatch).
    """
    K = logits.shape[-1]
    valid = np.flatnonzero(labels.reshape(-1) >= 0)                     # not ignored
    fg = np.flatnonzero(labels.reshape(-1) > 0)
    num_fg = max(1, len(fg))
    # one-hot targets y (V, K): the background's row is all zeros (K sigmoid classifiers)
    y = np.zeros((len(valid), K), np.float32)
    v_labels = labels.reshape(-1)[valid]
    y[np.flatnonzero(v_labels > 0), v_labels[v_labels > 0] - 1] = 1
    x = logits.reshape(-1, K)[valid]
    # NOTE: y goes in as a Tensor: as an ndarray, 1 − y is computed in float64 and the
    # whole backward pass with it.
    cls = sigmoid_focal_loss(x, Tensor(y), config["focal_alpha"], config["focal_gamma"],
                             reduction="sum") / num_fg
    t = offsets.reshape(-1, 4)[fg]
    v = box_targets.reshape(-1, 4)[fg]
    if config["bbox_loss"] == "l1":
        box = F.l1_loss(t, v, reduction="sum") / num_fg
    else:
        box = F.smooth_l1_loss(t, v, reduction="sum", beta=config["smooth_l1_beta"]) / num_fg
    return {"classification": cls, "bbox_regression": box}
