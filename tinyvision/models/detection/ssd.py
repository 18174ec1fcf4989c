"""SSD [Liu16]: one network, one pass, boxes predicted from several feature maps at once.

Faster R-CNN proposes regions, then classifies each. SSD drops the second stage: at every
cell of several feature maps it places a few *default boxes* (anchors) of fixed scale and
shape, and a 3x3 convolution predicts, for each of them, the C + 1 class scores and the 4
offsets that move it onto an object. Coarse maps see big objects, fine maps small ones::

    images (N, 3, 128, 128), standardised                          DetectionTransform
      │ ResNetFeatures: c2 (32x32), c3 (16x16), c4 (8x8), c5 (4x4)  backbone
      │ extra layers: 1x1 conv, 3x3/2 conv  -> 2x2, then -> 1x1     extras
      ▼
    6 maps f_k, A_k default boxes per cell (Σ_k |f_k|² A_k = D)     DefaultBoxes
      │ per map: 3x3 conv -> A_k (C+1) scores, 3x3 conv -> A_k·4     SSDHead
      ▼
    cls_logits (N, D, C+1), bbox_regression (N, D, 4)
    training: match, encode, hard negatives, L = (L_conf + α L_loc)/N   compute_loss
    test: softmax, per class threshold + top-k, NMS 0.45, top 100       postprocess_detections

Equation map ([Liu16]; x_ij^p = 1 when default box i matches ground truth j of class p,
c the class scores, l the predicted offsets, g the ground truth, d the default box):

    s_k = s_min + (s_max − s_min)(k − 1)/(m − 1), widths s_k√a, heights s_k/√a,
        a ∈ {1, 2, 1/2, (3, 1/3)}, plus s'_k = √(s_k s_{k+1}) for a = 1
                                                                           Sec. 2.2, DefaultBoxes
    matching: each ground truth to its best default box, then every box with
        Jaccard overlap > 0.5                                              Sec. 2.2, SSDMatcher
    L(x, c, l, g) = (1/N)(L_conf(x, c) + α L_loc(x, l, g)),  α = 1,
        N matched boxes (L = 0 when N = 0)                                 Eq. (1), compute_loss
    L_loc = Σ_{i ∈ Pos} Σ_{m ∈ cx,cy,w,h} x_ij^k smooth_L1(l_i^m − ĝ_j^m)    Eq. (2)
    ĝ^cx = (g^cx − d^cx)/d^w, ĝ^w = log(g^w/d^w) (and y, h), divided by the
        variances (0.1, 0.1, 0.2, 0.2): BoxCoder weights (10, 10, 5, 5)    Eq. (2), encode
    L_conf = −Σ_{i ∈ Pos} x_ij^p log ĉ_i^p − Σ_{i ∈ Neg} log ĉ_i^0,
        ĉ_i^p = softmax(c_i)_p                                             Eq. (3), cross_entropy
    Neg: the negatives of highest L_conf, at most 3 per positive
                                                                 Sec. 2.2, hard_negative_mining

Sizes here. SSD300 reads 6 maps (38² .. 1²) of a 300 px image with s_min = 0.2, s_max = 0.9:
VOC objects are a fifth of the image or more. ShapesScenes' objects are 5 to 110 px of 128
(median 22 px, 0.17): with the paper's scales no default box reaches IoU 0.5 with any object
under 16 px. The recall of the default boxes (the share of objects some default box overlaps
with IoU ≥ 0.5) over the 6,901 objects of the 2,000 training scenes decided the layout
(aspect ratios {1, 2, 1/2} on every map):

    maps 16² .. 1²,  s 0.2 .. 0.9     1,364 boxes, recall 0.58 (objects < 16 px: 0.00)
    maps 16² .. 1²,  s 0.1 .. 0.7     1,364 boxes, recall 0.79 (objects < 16 px: 0.45)
    maps 32² .. 1²,  s 0.06 .. 0.7    5,460 boxes, recall 0.98 (objects < 16 px: 0.94)  <- default

so the finest map is c2 (stride 4): an 8 px object needs boxes of about its size whose
centres are at most a few pixels off, which a stride-8 grid cannot give. The paper's
L2-normalisation of conv4_3 is for VGG's unnormalised activations; ResNetFeatures has batch
norm and needs none.

References
----------
[Liu16] W. Liu, D. Anguelov, D. Erhan, C. Szegedy, S. Reed, C.-Y. Fu, A. C. Berg, "SSD: Single
    Shot MultiBox Detector", ECCV 2016.
"""
import numpy as np

from ... import functional as F
from ... import nn
from ...autograd import no_grad
from ...ops import (BoxCoder, DefaultBoxes, SSDMatcher, batched_nms, box_iou,
                    clip_boxes_to_image, hard_negative_mining)
from .backbone import ResNetFeatures
from .transform import DetectionTransform, detections

# The paper's settings (Sec. 2.2, 3), with the scales chosen for ShapesScenes (docstring).
DEFAULTS = dict(
    widths=(16, 32, 64, 128), layers=(1, 1, 1, 1),   # ResNetFeatures c2..c5
    extra_channels=(128, 128),      # the extra maps after c5: 4x4 -> 2x2 -> 1x1
    aspect_ratios=((2,),) * 6,      # a > 1 per map, each also adds 1/a (SSD300: (2,), (2, 3) ...)
    s_min=0.06, s_max=0.7,          # the paper's 0.2 and 0.9 are for VOC at 300 px
    iou_thresh=0.5,                 # matching: Jaccard overlap > 0.5
    positive_fraction=0.25,         # hard negatives: 3 negatives per positive (torchvision's name)
    box_coder_weights=(10.0, 10.0, 5.0, 5.0),  # 1 / variances (0.1, 0.1, 0.2, 0.2)
    score_thresh=0.01, nms_thresh=0.45, topk_candidates=400, detections_per_img=100,
)


class SSDHead(nn.Module):
    """Per feature map k, a 3x3 conv to A_k·K class scores and a 3x3 conv to A_k·4 offsets.

    ``forward(features)`` -> (cls_logits (N, D, K), bbox_regression (N, D, 4)), the default
    boxes in ``DefaultBoxes``' order: map, then cell (row-major), then box of the cell.
    """

    def __init__(self, in_channels, num_anchors, num_classes):
        super().__init__()
        self.num_classes = num_classes
        self.classification = nn.ModuleList([nn.Conv2d(c, a * num_classes, 3, padding=1)
                                             for c, a in zip(in_channels, num_anchors)])
        self.regression = nn.ModuleList([nn.Conv2d(c, a * 4, 3, padding=1)
                                         for c, a in zip(in_channels, num_anchors)])
        for conv in list(self.classification) + list(self.regression):   # as torchvision's
            nn.init.xavier_uniform_(conv.weight)
            nn.init.zeros_(conv.bias)

    @staticmethod
    def _flatten(x, k):
        """(N, A·k, H, W) -> (N, H·W·A, k): cell by cell, the A boxes of each cell."""
        N = x.shape[0]
        return x.permute(0, 2, 3, 1).reshape(N, -1, k)

    def forward(self, features):
        cls = [self._flatten(conv(f), self.num_classes)
               for conv, f in zip(self.classification, features)]
        reg = [self._flatten(conv(f), 4) for conv, f in zip(self.regression, features)]
        return F.cat(cls, dim=1), F.cat(reg, dim=1)


class SSD(nn.Module):
    """SSD: a ResNet body and extra layers give 6 maps, a 3x3 conv head per map predicts class
    scores and box offsets for every default box (module docstring for the equations).

    Called as torchvision's detectors: in train mode ``model(images, targets)`` returns
    ``{"bbox_regression": ..., "classification": ...}`` (both already divided by N, the
    number of matched default boxes in the batch); in eval mode ``model(images)`` returns
    one dict per image with ``boxes`` (D, 4) xyxy pixels, ``scores`` (D,) (softmax) and
    ``labels`` (D,) in 1..C.

    Parameters
    ----------
    num_classes : C, the object classes (the network predicts C + 1, background first)
    mean, std : per-channel statistics the images are standardised with (buffers)
    widths, layers : ResNetFeatures' stages (c2..c5)
    extra_channels : channels of the extra maps after c5, each half the size of the last
    aspect_ratios : per map the ratios a > 1 (each also adds 1/a), ``DefaultBoxes``'
    s_min, s_max : the scales of the first and last map (module docstring)
    iou_thresh : matching threshold
    positive_fraction : hard negative mining keeps (1 − f)/f negatives per positive (3:1)
    score_thresh, nms_thresh, topk_candidates, detections_per_img : ``postprocess_detections``
    """

    def __init__(self, num_classes=5, mean=None, std=None, widths=DEFAULTS["widths"],
                 layers=DEFAULTS["layers"], extra_channels=DEFAULTS["extra_channels"],
                 aspect_ratios=DEFAULTS["aspect_ratios"], s_min=DEFAULTS["s_min"],
                 s_max=DEFAULTS["s_max"], iou_thresh=DEFAULTS["iou_thresh"],
                 positive_fraction=DEFAULTS["positive_fraction"],
                 score_thresh=DEFAULTS["score_thresh"], nms_thresh=DEFAULTS["nms_thresh"],
                 topk_candidates=DEFAULTS["topk_candidates"],
                 detections_per_img=DEFAULTS["detections_per_img"]):
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
                or num_classes < 1:
            raise ValueError(f"SSD: num_classes must be a positive int, got {num_classes!r}")
        if len(aspect_ratios) != 4 + len(extra_channels):
            raise ValueError(f"SSD: aspect_ratios needs one entry per feature map (4 of the "
                             f"body + {len(extra_channels)} extra = {4 + len(extra_channels)}), "
                             f"got {len(aspect_ratios)}")
        if not 0 < positive_fraction <= 1:
            raise ValueError(f"SSD: positive_fraction must be in (0, 1], got {positive_fraction!r}")
        self.num_classes = int(num_classes)
        self.transform = DetectionTransform(mean, std, "SSD")
        self.backbone = ResNetFeatures(widths, layers)
        # Extra feature layers (Sec. 2.1, Fig. 2): 1x1 conv to half width, 3x3 conv stride 2,
        # without batch norm (as the paper's; a 1x1 map gives it one value per image).
        extras, cin = [], widths[-1]
        for cout in extra_channels:
            extras.append(nn.Sequential(nn.Conv2d(cin, cout // 2, 1), nn.ReLU(),
                                        nn.Conv2d(cout // 2, cout, 3, stride=2, padding=1),
                                        nn.ReLU()))
            cin = cout
        self.extras = nn.ModuleList(extras)
        self.default_boxes = DefaultBoxes(aspect_ratios, s_min=s_min, s_max=s_max)
        self.head = SSDHead(list(widths) + list(extra_channels),
                            self.default_boxes.num_anchors_per_location(), self.num_classes + 1)
        self.box_coder = BoxCoder(DEFAULTS["box_coder_weights"])
        self.matcher = SSDMatcher(iou_thresh)
        self.neg_to_pos_ratio = (1 - positive_fraction) / positive_fraction
        self.score_thresh, self.nms_thresh = score_thresh, nms_thresh
        self.topk_candidates, self.detections_per_img = topk_candidates, detections_per_img
        self._anchor_cache = {}

    # ---- the network -----------------------------------------------------------------------
    def features(self, x):
        """The 6 maps the head reads: c2..c5 of the body, then the extra layers."""
        maps = list(self.backbone(x).values())
        y = maps[-1]
        for extra in self.extras:
            y = extra(y)
            maps.append(y)
        return maps

    def anchors(self, image_size, features):
        """The default boxes (D, 4) xyxy pixels of an image size and its maps (cached)."""
        key = (tuple(image_size),) + tuple(f.shape[-2:] for f in features)
        if key not in self._anchor_cache:
            boxes = self.default_boxes([f.shape[-2:] for f in features], image_size)
            self._anchor_cache[key] = boxes.numpy()
        return self._anchor_cache[key]

    def forward(self, images, targets=None):
        x, targets = self.transform.prepare(images, targets, self.training)
        features = self.features(x)
        cls_logits, bbox_regression = self.head(features)      # (N, D, C+1), (N, D, 4)
        anchors = self.anchors(x.shape[-2:], features)         # (D, 4)
        if self.training:
            return self.compute_loss(targets, cls_logits, bbox_regression, anchors)
        with no_grad():
            return self.postprocess_detections(cls_logits.numpy(), bbox_regression.numpy(),
                                               anchors, x.shape[-2:])

    # ---- training --------------------------------------------------------------------------
    def assign_targets(self, targets, anchors):
        """Matching and encoding (Sec. 2.2, Eq. (2)): per default box its class (0: background)
        and, for the matched ones, the encoded ground truth ĝ.

        Returns labels (N, D) int64 and regression targets (P, 4) float32 of the P matched
        boxes, in the row-major order of ``np.flatnonzero(labels > 0)``.
        """
        labels, matched_gt = [], []
        for t in targets:
            if len(t["boxes"]):
                matches = self.matcher(box_iou(t["boxes"], anchors)).numpy()   # (D,) −1 or j
            else:
                matches = np.full(len(anchors), -1, np.int64)
            positive = matches >= 0
            labels.append(np.where(positive, t["labels"][np.maximum(matches, 0)], 0)
                          if len(t["boxes"]) else np.zeros(len(anchors), np.int64))
            matched_gt.append(t["boxes"][matches[positive]])
        labels = np.stack(labels)                                    # (N, D)
        positive_anchor = np.flatnonzero(labels > 0) % len(anchors)  # (P,) which default box
        gt = np.concatenate(matched_gt).reshape(-1, 4)
        encoded = (self.box_coder.encode(gt, anchors[positive_anchor]).numpy()
                   if len(gt) else np.zeros((0, 4), np.float32))
        return labels, encoded.astype(np.float32)

    def compute_loss(self, targets, cls_logits, bbox_regression, anchors):
        """L = (L_conf + α L_loc) / N, Eq. (1)-(3), over the whole batch at once.

        N is the number of matched default boxes of the batch (at least 1), as torchvision;
        the two terms come back separately, each divided by N (α = 1: their sum is L).
        """
        labels, encoded = self.assign_targets(targets, anchors)     # (N, D), (P, 4)
        K = self.num_classes + 1
        positive = np.flatnonzero(labels.reshape(-1) > 0)            # (P,) rows of (N·D)
        num_matched = max(len(positive), 1)

        # Eq. (2): smooth L1 over the matched boxes' offsets.
        predicted = bbox_regression.reshape(-1, 4)[positive]         # (P, 4)
        bbox_loss = F.smooth_l1_loss(predicted, encoded, reduction="sum", beta=1.0)

        # Eq. (3) for every box, then the positives and the hardest 3N negatives.
        conf = F.cross_entropy(cls_logits.reshape(-1, K), labels.reshape(-1),
                               reduction="none")                     # (N·D,)
        keep = hard_negative_mining(conf.numpy().reshape(labels.shape), labels,
                                    self.neg_to_pos_ratio).numpy()   # (N, D) bool
        cls_loss = conf[np.flatnonzero(keep.reshape(-1))].sum()
        return {"bbox_regression": bbox_loss / num_matched,
                "classification": cls_loss / num_matched}

    # ---- test ------------------------------------------------------------------------------
    def postprocess_detections(self, cls_logits, bbox_regression, anchors, image_size):
        """torchvision's SSD postprocess: per image, softmax; decode and clip every box; per
        class keep scores > score_thresh, the best topk_candidates of each class, NMS at
        nms_thresh per class; the best detections_per_img overall.

        cls_logits (N, D, C+1) and bbox_regression (N, D, 4) arrays; anchors (D, 4).
        """
        e = np.exp(cls_logits - cls_logits.max(axis=2, keepdims=True))
        scores = (e / e.sum(axis=2, keepdims=True))[:, :, 1:]        # (N, D, C), no background
        out = []
        for s, codes in zip(scores, bbox_regression):
            boxes = clip_boxes_to_image(self.box_coder.decode(codes, anchors),
                                        tuple(image_size)).numpy()    # (D, 4)
            box, cls = np.nonzero(s > self.score_thresh)              # candidate (box, class)
            score = s[box, cls]
            # the best topk_candidates of each class: sort by class, then score descending
            order = np.lexsort((-score, cls))
            box, cls, score = box[order], cls[order], score[order]
            first = np.searchsorted(cls, cls, side="left")            # where each class starts
            top = np.arange(len(cls)) - first < self.topk_candidates
            box, cls, score = box[top], cls[top], score[top]
            keep = batched_nms(boxes[box], score, cls, self.nms_thresh).numpy()
            keep = keep[:self.detections_per_img]
            out.append(detections(boxes[box[keep]], score[keep], cls[keep] + 1))
        return out
