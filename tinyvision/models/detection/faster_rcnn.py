"""Faster R-CNN [Ren15]: the network proposes its own regions, then classifies them.

Fast R-CNN (models/fast_rcnn.py) spends most of its time *before* the network: selective
search takes seconds per image on the CPU. Faster R-CNN computes the proposals from the
same feature maps the detector uses, with a small fully convolutional Region Proposal
Network (RPN) that scores k anchors at every cell, so proposals cost almost nothing. With
a Feature Pyramid [Lin17] both stages read several strides, and torchvision's FasterRCNN
is the API this file follows::

    images (N, 3, H, W) ─ DetectionTransform: (x − mean) / std
      │ backbone: ResNet C2..C5 + FPN                         resnet_fpn_backbone
      ▼
    features P2..P5 (N, 64, H/4 .. H/32) ───────────────────────────────┐
      │ RPNHead, shared by the levels: 3x3 conv, ReLU,                   │
      │   1x1 -> A objectness logits, 1x1 -> 4A deltas per cell          │ RPNHead
      │ AnchorGenerator: A = 3 anchors per cell (one size a level,       │
      │   aspect ratios 1:2, 1:1, 2:1)                                   │
      │ proposal layer: decode, clip, remove small, top-N per level,     │
      │   NMS 0.7 per level, top-N per image                             │ filter_proposals
      ▼                                                                  │
    proposals (K_i, 4) per image  (+ ground truth, training)             │
      │ sample 128 RoIs, 25% foreground (training)                       │
      │ MultiScaleRoIAlign 7x7 on the level that suits each box  ◄───────┘
      ▼
    (R, 64, 7, 7) -> TwoMLPHead (fc6, fc7) -> FastRCNNPredictor:
      ├─ cls_score -> (R, C+1)            test: softmax, per-class boxes, score > 0.05,
      └─ bbox_pred -> (R, 4(C+1))               NMS 0.5 per class, best 100 (Fast R-CNN's)

Equation map ([Ren15]; i an anchor of the sampled minibatch, p_i its predicted objectness,
p*_i = 1 for a positive anchor, t_i and t*_i predicted and target offsets):

    anchors: at every cell, boxes of the level's size s and ratio r (h = s√r, w = s/√r),
        centred on the cell                              Sec. 3.1.1, ops.AnchorGenerator
    t_x = (x − x_a)/w_a, t_y = (y − y_a)/h_a, t_w = log(w/w_a), t_h = log(h/h_a)
        (t* likewise from the ground truth)              Eq. (2), ops.BoxCoder((1, 1, 1, 1))
    positive: IoU > 0.7 with a ground truth, or the highest IoU for a ground truth;
        negative: IoU < 0.3 for all; the rest ignored    Sec. 3.1.2, ops.Matcher(0.7, 0.3, True)
    256 anchors per image, up to half positive           Sec. 3.1.3, BalancedPositiveNegativeSampler
    L({p_i}, {t_i}) = 1/N_cls Σ L_cls(p_i, p*_i) + λ 1/N_reg Σ p*_i L_reg(t_i, t*_i)   Eq. (1)
        L_cls: binary cross-entropy of the sigmoid       loss_objectness, rpn_loss
        L_reg: smooth-L1 (β = 1/9, as torchvision), both normalised by the number of
        sampled anchors (N_cls = N_reg, λ = 1: torchvision's reading of Eq. (1))
                                                         loss_rpn_box_reg, rpn_loss
    proposals: NMS 0.7 on the decoded, clipped anchors   Sec. 3.3, filter_proposals
    detector: Fast R-CNN's Eq. (1) on the proposals      fast_rcnn_loss (models/fast_rcnn.py)
    training: the four losses summed and minimised jointly ("approximate joint training",
        the proposals treated as constants)              Sec. 3.2 (ii)
    the paper's 4-step alternating training              Sec. 3.2, recipes/faster_rcnn.py,
                                                         train_alternating

Sizes for ShapesScenes (128 x 128, objects 5 to 110 px, median 22, a quarter under 13):
the pyramid starts at P2 (stride 4, 32 x 32 cells) so that the small shapes have anchors
that fit them, and the anchor sizes are 10, 20, 40, 80 px on P2..P5 (the image is 6x
smaller than torchvision's 800 px, whose sizes are 32..512 on P2..P6; there is no P6
here). An 8 px square overlaps a 10 px anchor with IoU 0.64 at best (centred on it): below
0.7, its best anchor is a positive through the low-quality rule. Proposals: 1000 per
level before NMS and 600 after in training, 500 and 300 at test (torchvision: 2000/2000
and 1000/1000 for 800 px images with ~40x as many anchors); the proposals of a trained
model cover 98% of the test objects with IoU >= 0.5 (measured on 150 test scenes). RoI
align reads P2..P5 by FPN's Eq. (1) with canonical_scale 224, as torchvision: every box
under 112 px, i.e. nearly every shape here, then reads P2 (measured: better than
canonical_scale 56, which sends boxes over 28 px to P3..P5: mAP@0.5 0.757 against 0.695
after 12 epochs).

References
----------
[Ren15] S. Ren, K. He, R. Girshick, J. Sun, "Faster R-CNN: Towards Real-Time Object Detection
    with Region Proposal Networks", NeurIPS 2015.
[Lin17] T.-Y. Lin et al., "Feature Pyramid Networks for Object Detection", CVPR 2017.
[Girshick15] R. Girshick, "Fast R-CNN", ICCV 2015 (models/fast_rcnn.py).
"""
import numpy as np

from ... import functional as F
from ... import nn
from ...autograd import no_grad
from ...ops import (AnchorGenerator, BalancedPositiveNegativeSampler, BoxCoder, Matcher,
                    MultiScaleRoIAlign, batched_nms, box_iou, clip_boxes_to_image)
from ...tensor import Tensor
from ..fast_rcnn import FastRCNN, fast_rcnn_loss
from .backbone import ResNetFeatures, resnet_fpn_backbone
from .transform import DetectionTransform

# torchvision's FasterRCNN defaults, with the sizes chosen for 128 px scenes (docstring).
DEFAULTS = dict(
    widths=(16, 32, 64, 128), layers=(1, 1, 1, 1), out_channels=64,
    anchor_sizes=((10,), (20,), (40,), (80,)), aspect_ratios=(0.5, 1.0, 2.0),
    rpn_pre_nms_top_n_train=1000, rpn_pre_nms_top_n_test=500,
    rpn_post_nms_top_n_train=600, rpn_post_nms_top_n_test=300,
    rpn_nms_thresh=0.7, rpn_fg_iou_thresh=0.7, rpn_bg_iou_thresh=0.3,
    rpn_batch_size_per_image=256, rpn_positive_fraction=0.5, rpn_score_thresh=0.0,
    representation_size=256, sampling_ratio=2, canonical_scale=224,
    box_score_thresh=0.05, box_nms_thresh=0.5, box_detections_per_img=100,
    box_fg_iou_thresh=0.5, box_bg_iou_thresh=0.5, box_batch_size_per_image=128,
    box_positive_fraction=0.25, bbox_reg_weights=(10.0, 10.0, 5.0, 5.0),
)


# ---- the region proposal network ---------------------------------------------------------------
class RPNHead(nn.Module):
    """The RPN's "mini-network" slid over every level (Sec. 3.1): a 3x3 conv and ReLU, then
    two sibling 1x1 convs: A objectness logits and 4A box deltas per cell."""

    def __init__(self, in_channels, num_anchors):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, in_channels, 3, padding=1)
        self.cls_logits = nn.Conv2d(in_channels, num_anchors, 1)
        self.bbox_pred = nn.Conv2d(in_channels, 4 * num_anchors, 1)
        for layer in (self.conv, self.cls_logits, self.bbox_pred):   # N(0, 0.01²), Sec. 3.1.3
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)

    def forward(self, features):
        """features: list of (N, C, H_l, W_l) -> (objectness (N, ΣH_l·W_l·A),
        deltas (N, ΣH_l·W_l·A, 4)), rows in the anchors' order (level, cell, anchor)."""
        logits, deltas = [], []
        for x in features:
            t = F.relu(self.conv(x))
            o, d = self.cls_logits(t), self.bbox_pred(t)            # (N, A, H, W), (N, 4A, H, W)
            N, A, H, W = o.shape
            logits.append(o.permute(0, 2, 3, 1).reshape(N, H * W * A))
            deltas.append(d.reshape(N, A, 4, H, W).permute(0, 3, 4, 1, 2).reshape(N, H * W * A, 4))
        return F.cat(logits, 1), F.cat(deltas, 1)


class RegionProposalNetwork(nn.Module):
    """Anchors, the RPN head, its loss and the proposal layer, as torchvision's.

    ``forward(features, image_size, targets=None)`` -> (proposals: a list of N (K_i, 4)
    float32 arrays, losses: {"loss_objectness", "loss_rpn_box_reg"} in training, else {}).
    ``pre_nms_top_n`` / ``post_nms_top_n``: dicts with "training" and "testing" counts.
    """

    def __init__(self, anchor_generator, head, fg_iou_thresh, bg_iou_thresh, batch_size_per_image,
                 positive_fraction, pre_nms_top_n, post_nms_top_n, nms_thresh, score_thresh=0.0,
                 min_size=1e-3):
        super().__init__()
        self.anchor_generator, self.head = anchor_generator, head
        self.box_coder = BoxCoder((1.0, 1.0, 1.0, 1.0))
        self.proposal_matcher = Matcher(fg_iou_thresh, bg_iou_thresh,
                                        allow_low_quality_matches=True)
        self.fg_bg_sampler = BalancedPositiveNegativeSampler(batch_size_per_image,
                                                             positive_fraction)
        self._pre_nms_top_n, self._post_nms_top_n = dict(pre_nms_top_n), dict(post_nms_top_n)
        self.nms_thresh, self.score_thresh, self.min_size = nms_thresh, score_thresh, min_size

    def pre_nms_top_n(self):
        return self._pre_nms_top_n["training" if self.training else "testing"]

    def post_nms_top_n(self):
        return self._post_nms_top_n["training" if self.training else "testing"]

    def forward(self, features, image_size, targets=None):
        objectness, deltas = self.head(features)                         # (N, T), (N, T, 4)
        levels = self.anchor_generator(image_size, [f.shape for f in features])
        anchors = np.concatenate([a.data for a in levels])                # (T, 4)
        level_of = np.repeat(np.arange(len(levels)), [len(a) for a in levels])
        N, T = objectness.shape
        # The proposal layer runs on plain arrays: proposals are constants for the detector.
        boxes = self.box_coder.decode(deltas.data.reshape(N * T, 4), np.tile(anchors, (N, 1)))
        proposals = self.filter_proposals(boxes.data.reshape(N, T, 4), objectness.data, level_of,
                                          image_size)
        if not self.training:
            return proposals, {}
        labels, box_targets = self.assign_targets_to_anchors(anchors, targets)
        return proposals, rpn_loss(objectness, deltas, labels, box_targets, self.fg_bg_sampler)

    def assign_targets_to_anchors(self, anchors, targets):
        """Per image, each anchor's label (1 positive, 0 negative, −1 ignored; Matcher 0.7/0.3
        with low-quality matches) and the offsets t* to its matched ground truth: (labels
        (N, T) int64, box_targets (N, T, 4) float32; zeros where not positive)."""
        labels = np.empty((len(targets), len(anchors)), np.int64)
        box_targets = np.zeros((len(targets), len(anchors), 4), np.float32)
        for i, target in enumerate(targets):
            gt = target["boxes"]
            matches = self.proposal_matcher(box_iou(gt, anchors)).data   # (T,) gt index or < 0
            labels[i] = np.where(matches >= 0, 1,
                                 np.where(matches == Matcher.BETWEEN_THRESHOLDS, -1, 0))
            pos = np.flatnonzero(matches >= 0)
            if len(pos):
                box_targets[i, pos] = self.box_coder.encode(gt[matches[pos]], anchors[pos]).data
        return labels, box_targets

    def filter_proposals(self, boxes, objectness, level_of, image_size):
        """The proposal layer, per image: the pre_nms_top_n best anchors of each level, their
        decoded boxes clipped to the image, tiny boxes dropped, NMS per level, then the
        post_nms_top_n best overall. boxes (N, T, 4), objectness (N, T) logits, level_of
        (T,) -> a list of N (K_i, 4) float32 arrays, best first."""
        k = self.pre_nms_top_n()
        top = []                                                          # per level, (N, k_l)
        for level in np.unique(level_of):
            idx = np.flatnonzero(level_of == level)
            order = np.argsort(-objectness[:, idx], axis=1, kind="stable")[:, :k]
            top.append(idx[order])
        top = np.concatenate(top, axis=1)                                 # (N, Σk_l)
        out = []
        for i in range(len(boxes)):
            b = clip_boxes_to_image(boxes[i, top[i]], image_size).data
            s, lv = objectness[i, top[i]], level_of[top[i]]
            keep = np.flatnonzero((b[:, 2] - b[:, 0] >= self.min_size) &
                                  (b[:, 3] - b[:, 1] >= self.min_size) &
                                  (1 / (1 + np.exp(-s)) >= self.score_thresh))
            keep = keep[batched_nms(b[keep], s[keep], lv[keep], self.nms_thresh).data]
            out.append(b[keep[:self.post_nms_top_n()]].astype(np.float32))
        return out


def rpn_loss(objectness, deltas, labels, box_targets, sampler):
    """Eq. (1) of [Ren15] on the anchors ``sampler`` draws from each image (256, ≤ 50%
    positive), over the whole batch at once: binary cross-entropy of the objectness of every
    sampled anchor, smooth-L1 (β = 1/9) of the positives' deltas, both divided by the number
    of sampled anchors. objectness (N, T), deltas (N, T, 4) Tensors; labels (N, T) (1, 0,
    −1), box_targets (N, T, 4) arrays. Returns {"loss_objectness", "loss_rpn_box_reg"}."""
    pos, neg = sampler(list(labels))
    pos, neg = np.concatenate([p.data for p in pos]), np.concatenate([n.data for n in neg])
    sampled, positive = np.flatnonzero(pos | neg), np.flatnonzero(pos)   # into the N·T rows
    logits = objectness.reshape(-1)[sampled]
    loss_objectness = F.binary_cross_entropy_with_logits(
        logits, Tensor(pos[sampled].astype(logits.data.dtype)))
    t, t_star = deltas.reshape(-1, 4)[positive], box_targets.reshape(-1, 4)[positive]
    loss_box = F.smooth_l1_loss(t, Tensor(t_star), reduction="sum", beta=1 / 9)
    loss_box = loss_box / max(len(sampled), 1)
    return {"loss_objectness": loss_objectness, "loss_rpn_box_reg": loss_box}


# ---- the detection head (Fast R-CNN's, on the proposals) ----------------------------------------
class TwoMLPHead(nn.Module):
    """fc6 and fc7 with ReLU over the flattened RoI features (torchvision's name)."""

    def __init__(self, in_channels, representation_size):
        super().__init__()
        self.fc6 = nn.Linear(in_channels, representation_size)
        self.fc7 = nn.Linear(representation_size, representation_size)

    def forward(self, x):
        return F.relu(self.fc7(F.relu(self.fc6(x.flatten(1)))))


class FastRCNNPredictor(nn.Module):
    """C + 1 class scores and 4(C + 1) per-class box offsets from a RoI's representation."""

    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.cls_score = nn.Linear(in_channels, num_classes)             # num_classes with bg
        self.bbox_pred = nn.Linear(in_channels, 4 * num_classes)
        nn.init.normal_(self.cls_score.weight, std=0.01)                 # [Girshick15] Sec. 2.2
        nn.init.normal_(self.bbox_pred.weight, std=0.001)
        nn.init.zeros_(self.cls_score.bias), nn.init.zeros_(self.bbox_pred.bias)

    def forward(self, x):
        return self.cls_score(x), self.bbox_pred(x)


class RoIHeads(nn.Module):
    """Fast R-CNN on the RPN's proposals: sample RoIs, pool, classify, regress.

    Training samples and test-time post-processing are Fast R-CNN's own
    (``FastRCNN.select_training_samples``: the proposals plus the ground truth, IoU ≥
    fg_iou_thresh foreground, below bg_iou_thresh background, i.e. Matcher(0.5, 0.5), then
    batch_size_per_image with at most positive_fraction foreground; and
    ``FastRCNN.postprocess_detections``: softmax, per-class boxes, score threshold,
    per-class NMS, the best detections_per_img). ``forward(features, proposals, image_size,
    targets)`` -> (detections or None, losses {"loss_classifier", "loss_box_reg"} or {}).
    """

    select_training_samples = FastRCNN.select_training_samples
    postprocess_detections = FastRCNN.postprocess_detections

    def __init__(self, box_roi_pool, box_head, box_predictor, fg_iou_thresh, bg_iou_thresh,
                 batch_size_per_image, positive_fraction, bbox_reg_weights, score_thresh,
                 nms_thresh, detections_per_img, num_classes):
        super().__init__()
        self.box_roi_pool, self.box_head, self.box_predictor = box_roi_pool, box_head, box_predictor
        self.box_coder = BoxCoder(bbox_reg_weights)
        self.num_classes = num_classes
        self.fg_iou, self.bg_iou = fg_iou_thresh, (0.0, bg_iou_thresh)
        self.batch_size_per_image, self.positive_fraction = batch_size_per_image, positive_fraction
        self.score_thresh, self.nms_thresh = score_thresh, nms_thresh
        self.detections_per_img = detections_per_img

    def forward(self, features, proposals, image_size, targets=None):
        if self.training:
            proposals, labels, box_targets = self.select_training_samples(proposals, targets)
        x = self.box_roi_pool(features, proposals, [image_size] * len(proposals))  # (R, C, 7, 7)
        class_logits, box_regression = self.box_predictor(self.box_head(x))
        if self.training:
            return None, fast_rcnn_loss(class_logits, box_regression, labels, box_targets)
        return self.postprocess_detections(class_logits.data, box_regression.data, proposals,
                                           image_size), {}


# ---- the detector ------------------------------------------------------------------------------
class FasterRCNN(nn.Module):
    """Faster R-CNN with an FPN (module docstring), torchvision's calling convention.

    In train mode ``model(images, targets)`` returns {"loss_objectness", "loss_rpn_box_reg",
    "loss_classifier", "loss_box_reg"}; in eval mode ``model(images)`` returns one dict per
    image with boxes (D, 4) xyxy, scores (D,) and labels (D,) in 1..C. ``proposals=`` (a
    list of (K_i, 4) boxes) skips the RPN (no RPN losses): step 2 of alternating training.

    Parameters
    ----------
    num_classes : C, the object classes (outputs have C + 1, background first)
    mean, std : per-channel statistics the images are standardised with (buffers)
    fpn : True: resnet_fpn_backbone's P2..P5 (the default); False: the paper's single map,
        ResNetFeatures' C4 (stride 16) with all anchor sizes on it
    other keywords : torchvision's names (see DEFAULTS)
    """

    def __init__(self, num_classes=5, mean=None, std=None, fpn=True, **settings):
        super().__init__()
        unknown = sorted(set(settings) - set(DEFAULTS))
        if unknown:
            raise TypeError(f"FasterRCNN: unknown arguments {unknown}; known: {sorted(DEFAULTS)}")
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"FasterRCNN: num_classes must be a positive int, got {num_classes!r}")
        s = dict(DEFAULTS, **settings)
        self.num_classes, self.fpn = num_classes, bool(fpn)
        self.transform = DetectionTransform(mean, std, "FasterRCNN")
        if self.fpn:
            self.backbone = resnet_fpn_backbone(s["widths"], s["layers"], (1, 2, 3, 4),
                                                s["out_channels"], extra_blocks=None)
            self.featmap_names, channels = ["p2", "p3", "p4", "p5"], s["out_channels"]
            sizes = s["anchor_sizes"]
        else:
            self.backbone = ResNetFeatures(s["widths"], s["layers"])
            self.featmap_names, channels = ["c4"], s["widths"][2]
            sizes = (tuple(size for level in s["anchor_sizes"] for size in level),)
        ratios = (tuple(s["aspect_ratios"]),) * len(sizes)
        anchors = AnchorGenerator(sizes, ratios)
        self.rpn = RegionProposalNetwork(
            anchors, RPNHead(channels, anchors.num_anchors_per_location()[0]),
            s["rpn_fg_iou_thresh"], s["rpn_bg_iou_thresh"], s["rpn_batch_size_per_image"],
            s["rpn_positive_fraction"],
            dict(training=s["rpn_pre_nms_top_n_train"], testing=s["rpn_pre_nms_top_n_test"]),
            dict(training=s["rpn_post_nms_top_n_train"], testing=s["rpn_post_nms_top_n_test"]),
            s["rpn_nms_thresh"], s["rpn_score_thresh"])
        pool = MultiScaleRoIAlign(self.featmap_names, 7, s["sampling_ratio"],
                                  canonical_scale=s["canonical_scale"])
        self.roi_heads = RoIHeads(
            pool, TwoMLPHead(channels * 7 * 7, s["representation_size"]),
            FastRCNNPredictor(s["representation_size"], num_classes + 1),
            s["box_fg_iou_thresh"], s["box_bg_iou_thresh"], s["box_batch_size_per_image"],
            s["box_positive_fraction"], s["bbox_reg_weights"], s["box_score_thresh"],
            s["box_nms_thresh"], s["box_detections_per_img"], num_classes)

    def features(self, x):
        """The backbone's maps the RPN and RoI align read, in order (finest first)."""
        maps = self.backbone(x)
        return {name: maps[name] for name in self.featmap_names}

    def forward(self, images, targets=None, proposals=None):
        x, targets = self.transform.prepare(images, targets, self.training)
        image_size = tuple(x.shape[2:])
        if self.training:
            return self._losses(x, targets, image_size, proposals)
        with no_grad():
            features = self.features(x)
            if proposals is None:
                proposals, _ = self.rpn(list(features.values()), image_size)
            else:
                proposals = self._given(proposals, len(x))
            detections, _ = self.roi_heads(features, proposals, image_size)
        return detections

    def _losses(self, x, targets, image_size, proposals):
        features = self.features(x)
        losses = {}
        if proposals is None:
            proposals, losses = self.rpn(list(features.values()), image_size, targets)
        else:
            proposals = self._given(proposals, len(x))
        _, detector_losses = self.roi_heads(features, proposals, image_size, targets)
        return {**losses, **detector_losses}

    @staticmethod
    def _given(proposals, n):
        if not isinstance(proposals, (list, tuple)) or len(proposals) != n:
            raise ValueError(f"FasterRCNN: proposals must be a list of {n} (K_i, 4) arrays (one "
                             f"per image), got {type(proposals).__name__}")
        return [np.asarray(getattr(p, "data", p), np.float32).reshape(-1, 4) for p in proposals]
