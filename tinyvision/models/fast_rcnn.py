"""Fast R-CNN [Girshick15]: one CNN pass per image, RoI pooling, one network trained end to end.

R-CNN (rcnn.py) runs its CNN once per proposal: 300 overlapping crops of one image share
most of their pixels, and the convolutions recompute them 300 times. Fast R-CNN runs the
convolutions once over the whole image and cuts each proposal out of the *feature map*;
RoI pooling turns every cut-out into the fixed 7 x 7 grid the fully connected layers need.
And it replaces R-CNN's three training stages (softmax fine-tuning, SVMs, ridge regression)
with one network and one loss, trained end to end by SGD::

    images (N, 3, H, W)                     proposals (selective search, per image)
      │ conv_body (the same layers as R-CNN's CNN), stride 8     │ (+ ground truth, training)
      ▼                                                          │ sample 64 RoIs per image,
    features (N, 64, H/8, W/8)                                   │ 25% foreground (training)
      │ RoI pooling 7x7: every proposal's window of the map  ◄───┘        select_training_samples
      ▼                                                                    ops.roi_pool / roi_align
    (R, 64, 7, 7) -> fc6 -> ReLU -> fc7 -> ReLU                            box_head
      ├─ cls_score -> (R, C+1) softmax p
      └─ bbox_pred -> (R, 4(C+1)) per-class offsets t^k
    training: L = L_cls + λ [u ≥ 1] L_loc                                 fast_rcnn_loss
    test: per class k, box P moved by t^k, score p_k; NMS 0.3 per class   postprocess_detections

Equation map ([Girshick15]; p the softmax over C+1 classes, u the true class, 0 background,
t^u the predicted offsets of class u, v the target offsets):

    RoI projection: a box (x1, y1, x2, y2) covers the map cells round(x1/8) .. round(x2/8)
        (spatial_scale 1/8), split into 7x7 bins, each max-pooled          Sec. 2.1, roi_pool
    L(p, u, t^u, v) = L_cls(p, u) + λ [u ≥ 1] L_loc(t^u, v),  λ = 1           Eq. (1)
    L_cls(p, u) = −log p_u                                                   cross_entropy
    L_loc(t^u, v) = Σ_{i ∈ x,y,w,h} smooth_L1(t^u_i − v_i)                   Eq. (2)
    smooth_L1(x) = 0.5 x² if |x| < 1, |x| − 0.5 otherwise                    Eq. (3)
    v: R-CNN's (t_x, t_y, t_w, t_h), normalised to zero mean and unit variance (Sec. 2.3);
        here by the fixed stds (0.1, 0.1, 0.2, 0.2), i.e. BoxCoder(weights=(10, 10, 5, 5)),
        as torchvision
    minibatch: N = 2 images, R = 128 RoIs (64 each), 25% with IoU >= 0.5 (u = class of the
        box), the rest with IoU in [lo, 0.5) (u = 0); horizontal flips      Sec. 2.3

    truncated SVD of an FC layer at test time: W (u x v) ≈ U Σ_t Vᵀ, one layer of
        u·v weights becomes two of t·(u + v): Σ_t Vᵀ (no bias), then U (with W's bias)
        Sec. 3.1, truncated_svd, FastRCNN.compress_heads

Both terms are summed over the RoIs of the minibatch and divided by their number R (so
L_loc counts only the foreground rows but is averaged over all, as torchvision does).

Sizes here: ShapesScenes are 128 x 128, the map 16 x 16 (stride 8, the paper's VGG16 has
16 on ~600 x 1000 images), RoI output 7 x 7 as the paper's; ``roi="align"`` swaps RoI
pooling for RoI align (Mask R-CNN's, no rounding of the box to map cells) as an option.
The paper's background range is IoU in [0.1, 0.5) (a heuristic for hard negatives); the
default here is [0, 0.5), as torchvision, so that the plain background is seen too.

References
----------
[Girshick15] R. Girshick, "Fast R-CNN", ICCV 2015.
[Girshick14] R. Girshick et al., "Rich feature hierarchies for accurate object detection and
    semantic segmentation", CVPR 2014 (rcnn.py).
"""
import numpy as np

from .. import functional as F
from .. import nn
from ..autograd import no_grad
from ..random import default_generator
from ..ops import (BoxCoder, RoIAlign, RoIPool, batched_nms, box_iou, clip_boxes_to_image)
from ..tensor import Tensor
from .rcnn import boxes_to_rois, conv_body
from .selective_search import selective_search
from .sliding_window import as_image_list

# The paper's settings (Sec. 2.3, 3), for the sizes of ShapesScenes.
DEFAULTS = dict(
    widths=(16, 32, 64, 64),       # conv_body: the same layers as R-CNN's CNN
    hidden=256,                    # fc6, fc7 (4096 in the paper)
    pool_size=7,                   # RoI pooling output H x W
    sampling_ratio=-1,             # RoI align: ceil(bin size) samples a side (roi_align's default)
    batch_size_per_image=64,       # R / N = 128 / 2
    positive_fraction=0.25,        # 25% foreground
    fg_iou=0.5,                    # foreground: IoU >= 0.5
    bg_iou=(0.0, 0.5),             # background: IoU in [lo, hi) ([0.1, 0.5) in the paper)
    box_loss_weight=1.0,           # λ
    box_coder_weights=(10.0, 10.0, 5.0, 5.0),   # 1 / (0.1, 0.1, 0.2, 0.2)
    score_thresh=0.05, nms_thresh=0.3, detections_per_img=100,
    proposals=dict(mode="fast", max_proposals=300),
)
STRIDE = 8


class FastRCNN(nn.Module):
    """Fast R-CNN: conv body over the image, RoI pooling, FC head with class and box outputs.

    Called as torchvision's detectors: in train mode ``model(images, targets)`` returns
    ``{"loss_classifier": ..., "loss_box_reg": ...}``; in eval mode ``model(images)`` returns
    one dict per image with ``boxes`` (D, 4) xyxy, ``scores`` (D,) (softmax) and ``labels``
    (D,) in 1..C. Proposals: ``proposals=`` a list of (K_i, 4) arrays, else each target's
    ``"proposals"`` entry, else selective search (``proposal_settings``).

    Parameters
    ----------
    num_classes : C (outputs have C + 1 classes, background first)
    widths : conv_body widths (the map has widths[-1] channels)
    hidden : width of fc6 and fc7
    roi : "pool" (RoI pooling, the paper's) or "align" (RoI align, aligned, with
        ``sampling_ratio`` bilinear samples a side per bin)
    mean, std : per-channel statistics the images are standardised with (buffers)
    proposal_settings : selective_search's keywords, when ``forward`` searches itself
    other keywords : see DEFAULTS
    """

    def __init__(self, num_classes=5, widths=DEFAULTS["widths"], hidden=DEFAULTS["hidden"],
                 roi="pool", pool_size=DEFAULTS["pool_size"],
                 sampling_ratio=DEFAULTS["sampling_ratio"], mean=None, std=None,
                 batch_size_per_image=DEFAULTS["batch_size_per_image"],
                 positive_fraction=DEFAULTS["positive_fraction"], fg_iou=DEFAULTS["fg_iou"],
                 bg_iou=DEFAULTS["bg_iou"], box_loss_weight=DEFAULTS["box_loss_weight"],
                 score_thresh=DEFAULTS["score_thresh"], nms_thresh=DEFAULTS["nms_thresh"],
                 detections_per_img=DEFAULTS["detections_per_img"], proposal_settings=None):
        super().__init__()
        if roi not in ("pool", "align"):
            raise ValueError(f"FastRCNN: roi must be 'pool' or 'align', got {roi!r}")
        self.num_classes, self.roi = num_classes, roi
        self.register_buffer("mean", np.asarray(np.zeros(3) if mean is None else mean,
                                                np.float32).reshape(1, 3, 1, 1))
        self.register_buffer("std", np.asarray(np.ones(3) if std is None else std,
                                               np.float32).reshape(1, 3, 1, 1))
        self.backbone = conv_body(widths)
        size = (pool_size, pool_size)
        self.roi_pool = (RoIPool(size, 1 / STRIDE) if roi == "pool" else
                         RoIAlign(size, 1 / STRIDE, sampling_ratio, aligned=True))
        self.fc6 = nn.Linear(widths[-1] * pool_size * pool_size, hidden)
        self.fc7 = nn.Linear(hidden, hidden)
        self.cls_score = nn.Linear(hidden, num_classes + 1)
        self.bbox_pred = nn.Linear(hidden, 4 * (num_classes + 1))
        # Sec. 2.2: the output layers start from N(0, 0.01²) and N(0, 0.001²), biases 0
        nn.init.normal_(self.cls_score.weight, std=0.01)
        nn.init.normal_(self.bbox_pred.weight, std=0.001)
        nn.init.zeros_(self.cls_score.bias), nn.init.zeros_(self.bbox_pred.bias)
        self.box_coder = BoxCoder(DEFAULTS["box_coder_weights"])
        self.batch_size_per_image, self.positive_fraction = batch_size_per_image, positive_fraction
        self.fg_iou, self.bg_iou, self.box_loss_weight = fg_iou, tuple(bg_iou), box_loss_weight
        self.score_thresh, self.nms_thresh = score_thresh, nms_thresh
        self.detections_per_img = detections_per_img
        self.proposal_settings = dict(DEFAULTS["proposals"] if proposal_settings is None
                                      else proposal_settings)

    # ---- the network ---------------------------------------------------------------------------
    def box_head(self, features, rois):
        """RoI pooling of every RoI (R, 5) on the map, fc6, fc7 and the two outputs:
        (class logits (R, C+1), box offsets (R, 4(C+1)))."""
        x = self.roi_pool(features, rois).flatten(1)                      # (R, 64·7·7)
        x = F.relu(self.fc7(F.relu(self.fc6(x))))                         # (R, hidden)
        return self.cls_score(x), self.bbox_pred(x)

    def forward(self, images, targets=None, proposals=None):
        batch = np.stack(as_image_list(images, "FastRCNN")).astype(np.float32)
        if self.training and targets is None:
            raise ValueError("FastRCNN: in train mode the model needs targets (a list of dicts "
                             "with boxes and labels); call model.eval() to detect")
        proposals = self._proposals(batch, targets, proposals)
        x = Tensor((batch - self.mean.data) / self.std.data)
        if self.training:
            features = self.backbone(x)                                   # one pass per image
            proposals, labels, box_targets = self.select_training_samples(proposals, targets)
            class_logits, box_regression = self.box_head(features, boxes_to_rois(proposals))
            return fast_rcnn_loss(class_logits, box_regression, labels, box_targets,
                                  self.box_loss_weight)
        with no_grad():
            features = self.backbone(x)
            class_logits, box_regression = self.box_head(features, boxes_to_rois(proposals))
        return self.postprocess_detections(class_logits.data, box_regression.data, proposals,
                                           batch.shape[2:])

    def _proposals(self, batch, targets, proposals):
        """One (K_i, 4) float32 array per image: given, from the targets, or searched."""
        if proposals is None and targets is not None and all("proposals" in t for t in targets):
            proposals = [t["proposals"] for t in targets]
        if proposals is None:
            proposals = [selective_search(image, **self.proposal_settings).numpy()
                         for image in batch]
        if len(proposals) != len(batch):
            raise ValueError(f"FastRCNN: got {len(proposals)} proposal arrays for {len(batch)} "
                             f"images; give one (K_i, 4) array per image")
        return [np.asarray(getattr(p, "data", p), np.float32).reshape(-1, 4) for p in proposals]

    def compress_heads(self, fc6_rank, fc7_rank=None):
        """Replace fc6 (and fc7) by their truncated SVD (``truncated_svd``), the paper's
        test-time speed-up for the many RoIs of an image (Sec. 3.1); for a trained model."""
        self.fc6 = truncated_svd(self.fc6, fc6_rank)
        if fc7_rank is not None:
            self.fc7 = truncated_svd(self.fc7, fc7_rank)
        return self

    # ---- training: which RoIs, which targets ---------------------------------------------------
    def select_training_samples(self, proposals, targets):
        """Per image: the proposals plus the ground-truth boxes, each labelled by its best
        ground truth (IoU >= fg_iou: its class; IoU in [bg lo, bg hi): 0; else unused), then
        ``batch_size_per_image`` of them with at most ``positive_fraction`` foreground.

        Returns the sampled boxes of each image (a list of (R_i, 4)) and, over all images in
        that order, their labels (R,) and box targets (R, 4): the encoded offsets to the
        matched box, zeros for background rows.
        """
        rng = default_generator()          # tv.manual_seed makes the sampling repeatable
        boxes_out, labels_out, targets_out = [], [], []
        for props, target in zip(proposals, targets):
            gt = np.asarray(getattr(target["boxes"], "data", target["boxes"]),
                            np.float32).reshape(-1, 4)
            gt_labels = np.asarray(getattr(target["labels"], "data", target["labels"]))
            regions = np.concatenate([props, gt])
            if len(gt):
                iou = box_iou(regions, gt).data                               # (K, M)
                best, matched = iou.max(axis=1), iou.argmax(axis=1)
            else:
                best, matched = np.zeros(len(regions)), np.zeros(len(regions), np.int64)
            fg = np.flatnonzero(best >= self.fg_iou)
            bg = np.flatnonzero((best >= self.bg_iou[0]) & (best < self.bg_iou[1]))
            fg = rng.permutation(fg)[:int(self.batch_size_per_image * self.positive_fraction)]
            bg = rng.permutation(bg)[:self.batch_size_per_image - len(fg)]
            keep = np.concatenate([fg, bg])
            labels = np.zeros(len(keep), np.int64)
            labels[:len(fg)] = gt_labels[matched[fg]]
            box_targets = np.zeros((len(keep), 4), np.float32)
            if len(fg):
                box_targets[:len(fg)] = self.box_coder.encode(gt[matched[fg]], regions[fg]).data
            boxes_out.append(regions[keep]), labels_out.append(labels)
            targets_out.append(box_targets)
        return boxes_out, np.concatenate(labels_out), np.concatenate(targets_out)

    # ---- test: from scores and offsets to detections -------------------------------------------
    def postprocess_detections(self, class_logits, box_regression, proposals, image_shape):
        """Softmax scores, per-class boxes, score threshold, per-class NMS, best 100: one dict
        per image (torchvision's ``postprocess_detections``)."""
        C = self.num_classes
        probs = F.softmax(Tensor(class_logits), dim=1).data                  # (R, C+1)
        counts = np.cumsum([0] + [len(p) for p in proposals])
        out = []
        for i, props in enumerate(proposals):
            rows = slice(counts[i], counts[i + 1])
            boxes = self.box_coder.decode(box_regression[rows], props).data  # (K, 4(C+1))
            boxes = clip_boxes_to_image(boxes.reshape(-1, C + 1, 4)[:, 1:], image_shape).data
            scores = probs[rows, 1:]                                         # (K, C)
            labels = np.broadcast_to(np.arange(1, C + 1), scores.shape)
            boxes, scores, labels = boxes.reshape(-1, 4), scores.reshape(-1), labels.reshape(-1)
            wide = (boxes[:, 2] - boxes[:, 0] > 1e-2) & (boxes[:, 3] - boxes[:, 1] > 1e-2)
            keep = np.flatnonzero((scores > self.score_thresh) & wide)
            keep = keep[batched_nms(boxes[keep], scores[keep], labels[keep],
                                    self.nms_thresh).data][:self.detections_per_img]
            out.append({"boxes": Tensor(boxes[keep].astype(np.float32)),
                        "scores": Tensor(scores[keep].astype(np.float32)),
                        "labels": Tensor(labels[keep].astype(np.int64))})
        return out


def truncated_svd(linear, rank):
    """An FC layer y = W x + b (W: out x in) as two smaller ones, Sec. 3.1 of [Girshick15]:
    W ≈ U_t Σ_t V_tᵀ from the ``rank`` largest singular values, so y ≈ U_t (Σ_t V_tᵀ x) + b
    with rank·(in + out) multiply-adds per row instead of in·out. Returns nn.Sequential(
    Linear(in, rank, bias=False), Linear(rank, out)). A rank of min(in, out) is exact."""
    W = linear.weight.data.astype(np.float64)
    out_features, in_features = W.shape
    if not (isinstance(rank, (int, np.integer)) and 1 <= rank <= min(W.shape)):
        raise ValueError(f"truncated_svd: rank must be an int in [1, {min(W.shape)}] for a "
                         f"{in_features} -> {out_features} layer, got {rank!r}")
    U, sigma, Vt = np.linalg.svd(W, full_matrices=False)
    first = nn.Linear(in_features, rank, bias=False)
    second = nn.Linear(rank, out_features, bias=linear.bias is not None)
    first.weight.data[...] = sigma[:rank, None] * Vt[:rank]                 # Σ_t V_tᵀ
    second.weight.data[...] = U[:, :rank]                                     # U_t
    if linear.bias is not None:
        second.bias.data[...] = linear.bias.data
    return nn.Sequential(first, second)


def fast_rcnn_loss(class_logits, box_regression, labels, box_targets, box_loss_weight=1.0):
    """The multitask loss, Eq. (1): L_cls + λ [u ≥ 1] L_loc, averaged over the R RoIs.

    class_logits (R, C+1), box_regression (R, 4(C+1)), labels (R,) int64 u, box_targets
    (R, 4) v. Only the offsets of each foreground RoI's own class u enter L_loc.
    Returns {"loss_classifier", "loss_box_reg"} (0-d Tensors).
    """
    R = len(labels)
    loss_classifier = F.cross_entropy(class_logits, Tensor(labels))
    fg = np.flatnonzero(labels > 0)
    per_class = box_regression.reshape(R, -1, 4)                          # (R, C+1, 4)
    t_u = per_class[fg, labels[fg]]                                       # (R_fg, 4): t^u
    loss_box = F.smooth_l1_loss(t_u, Tensor(box_targets[fg]), reduction="sum", beta=1.0) / R
    return {"loss_classifier": loss_classifier, "loss_box_reg": box_loss_weight * loss_box}
