"""R-CNN [Girshick14]: regions with CNN features, scored by linear SVMs.

The detector that brought CNN features to PASCAL VOC (53.3% mAP on VOC 2012, over 30%
better than the best before it): do not slide a window everywhere, look only at the
~2,000 boxes selective search proposes, and give each box the CNN's full attention. Every
proposal is cut out, warped to the CNN's input size and classified on its own::

    image (3, H, W)
      │ selective search ("fast" mode), the first 300 boxes                proposals P
      │ for every proposal P (a batch of crops):
      │   dilate it by p = 16 px of context (of the 227 px input)          add_context
      │   warp it to S x S, whatever its aspect, mean outside the image    warp_regions
      │   CNN: conv features φ5 ("pool5") and fc7 features φ7              RCNNNet.features
      │   score per class c: s_c = w_cᵀ φ7 + b_c (one linear SVM each)     RCNN.scores
      │   box per class c: P moved by the offsets W_c φ5 (ridge)           RCNN.boxes
      └ per class: greedy NMS at IoU 0.3, best 100 boxes                   ops.batched_nms

Training has three stages, each with its own labels, solved one after the other (what
Fast R-CNN replaces with one network trained end to end):

  1. fine-tune the CNN as a (C+1)-way classifier of warped proposals: a proposal with
     IoU >= 0.5 with a ground-truth box takes that box's class, any other is background;
     minibatches of 25% foreground (Sec. 2.3)                  label_regions, sample_regions
  2. one linear SVM per class on fc7 features: positives are the ground-truth boxes of
     class c alone, negatives the proposals with IoU < 0.3 with every box of class c; the
     proposals in between are ignored (Sec. 2.3, App. B)        svm_targets, train_svms
  3. per class, ridge regression from pool5 features to the offsets that move a proposal
     onto its ground-truth box, for proposals with IoU >= 0.6 (App. C)   fit_box_regressors

Equation map (App. C of [Girshick14]; P a proposal, G its ground-truth box, centre
(x, y), width w, height h):

    t_x = (G_x − P_x) / P_w,   t_y = (G_y − P_y) / P_h                       Eqs. (6), (7)
    t_w = log(G_w / P_w),      t_h = log(G_h / P_h)                          Eqs. (8), (9)
        ops.BoxCoder(weights=(1, 1, 1, 1)).encode(G, P)
    w_* = argmin_ŵ Σ_i (t_*^i − ŵᵀ φ5(P^i))² + λ ‖ŵ‖²,  λ = 1000               Eq. (5)
        fit_box_regressors (closed form: (XᵀX + λI)⁻¹ Xᵀt)
    Ĝ_x = P_w d_x(P) + P_x, ..., Ĝ_w = P_w exp(d_w(P))                       Eqs. (1)-(4)
        BoxCoder.decode in RCNN.boxes
    SVM: min_{w, b} λ/2 ‖w‖² + (1/N) Σ_i ω_i max(0, 1 − y_i (wᵀ φ7_i + b))    train_svms
        (hinge loss, positives weighted ω = 2 as the authors' code)

Why the SVMs, when the fine-tuned CNN already has a softmax? In the paper, the SVMs gained
4 mAP points over the softmax (App. B): the positives of the fine-tuning (IoU >= 0.5) are
jittered, loosely placed boxes, the SVMs' (ground truth only) are exact, and the SVMs see
the hard negatives. Fast R-CNN trains the softmax end to end and no longer needs them.

Sizes here: ShapesScenes are 128 x 128 with objects of 8 to 90 px, so the CNN's input is
S = 32 (not 227) and the context scales with it, p = 16·32/227 ≈ 2.3 px. The CNN is a
small stand-in for AlexNet (``conv_body``: 3x3 conv, batch norm, ReLU blocks, total stride
8), trained from scratch rather than fine-tuned from ImageNet; Fast R-CNN (fast_rcnn.py)
runs the same conv body once over the whole image.

References
----------
[Girshick14] R. Girshick, J. Donahue, T. Darrell and J. Malik, "Rich feature hierarchies for
    accurate object detection and semantic segmentation", CVPR 2014 (arXiv:1311.2524v5,
    whose appendices are cited here).
[Uijlings] J. R. R. Uijlings et al., "Selective Search for Object Recognition", IJCV 2013.
"""
import numpy as np

from .. import functional as F
from .. import nn, optim
from ..autograd import no_grad
from ..ops import BoxCoder, batched_nms, box_iou, clip_boxes_to_image, roi_align
from ..ops.boxes import check_boxes
from ..tensor import Tensor, as_array
from .selective_search import selective_search
from .sliding_window import as_image_list

# The paper's settings, for the sizes of ShapesScenes (see the module docstring).
DEFAULTS = dict(
    warp_size=32,              # S: the CNN's input (227 in the paper)
    context_padding=16,        # p pixels of context at the paper's 227 px input ...
    paper_input=227,           # ... scaled to S: the box grows by 227 / (227 − 2·16)
    fg_iou=0.5,                # fine-tuning: IoU >= 0.5 is the box's class (Sec. 2.3)
    svm_neg_iou=0.3,           # SVMs: IoU < 0.3 with every box of the class is negative
    svm_pos_weight=2.0,        # ω of positives in the hinge loss (the authors' code)
    reg_iou=0.6,               # box regression learns from proposals with IoU >= 0.6
    reg_lambda=1000.0,         # λ of the ridge regression (App. C)
    nms_thresh=0.3,            # per-class NMS
    detections_per_img=100,
    proposals=dict(mode="fast", max_proposals=300),   # selective_search's arguments
)


def conv_body(widths=(16, 32, 64, 64), in_channels=3):
    """The small CNN's convolutional layers: 3x3 conv (padding 1), batch norm, ReLU, and a
    2x2 max pool after each of the first three blocks (total stride 8, as in conv3 of
    AlexNet/VGG up to a factor 2): an (N, 3, H, W) input gives (N, widths[-1], H/8, W/8).
    R-CNN runs it on every warped region; Fast R-CNN once on the whole image."""
    layers, c = [], in_channels
    for i, w in enumerate(widths):
        layers += [nn.Conv2d(c, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU()]
        if i < 3:
            layers.append(nn.MaxPool2d(2))
        c = w
    return nn.Sequential(*layers)


class RCNNNet(nn.Module):
    """The CNN of R-CNN: a (C+1)-way classifier of S x S warped regions, background first.

    ::

        crop (3, S, S), standardised
          -> conv_body                          -> (widths[-1], S/8, S/8)   φ5 ("pool5")
          -> flatten -> fc6 -> ReLU -> fc7 -> ReLU                          φ7 ("fc7")
          -> cls_score                          -> C + 1 logits

    ``forward`` gives the logits (stage 1 trains them with cross-entropy); ``features``
    gives φ5 (flattened) and φ7, what the SVMs and the box regressors read.
    """

    def __init__(self, num_classes=5, warp_size=32, widths=(16, 32, 64, 64), hidden=256):
        super().__init__()
        if warp_size % 8:
            raise ValueError(f"RCNNNet: warp_size must be a multiple of 8 (three 2x2 pools), "
                             f"got {warp_size!r}")
        self.body = conv_body(widths)
        self.pool5_dim = widths[-1] * (warp_size // 8) ** 2
        self.fc6 = nn.Linear(self.pool5_dim, hidden)
        self.fc7 = nn.Linear(hidden, hidden)
        self.cls_score = nn.Linear(hidden, num_classes + 1)

    def features(self, x):
        """(N, 3, S, S) standardised crops -> (φ5 (N, D5), φ7 (N, hidden))."""
        pool5 = self.body(x).flatten(1)
        fc7 = F.relu(self.fc7(F.relu(self.fc6(pool5))))
        return pool5, fc7

    def forward(self, x):
        """(N, 3, S, S) standardised crops -> (N, C + 1) class logits."""
        return self.cls_score(self.features(x)[1])


# ---- regions: context and warping ------------------------------------------------------------
def add_context(boxes, warp_size=32, context_padding=16, paper_input=227):
    """Dilate boxes so that, once warped to ``warp_size``, they carry p = context_padding ·
    warp_size / paper_input pixels of context on every side (Sec. 2.1, App. A: "p = 16").

    The box must fill S − 2p of the S pixels, so it grows by S / (S − 2p) about its centre:
    227 / 195 ≈ 1.164 in width and height. (K, 4) xyxy -> (K, 4) float32.
    """
    b = np.asarray(check_boxes(boxes, "add_context", ordered=True), np.float64)
    p = context_padding * warp_size / paper_input
    grow = warp_size / (warp_size - 2 * p)
    centre, half = (b[:, :2] + b[:, 2:]) / 2, (b[:, 2:] - b[:, :2]) / 2 * grow
    return np.concatenate([centre - half, centre + half], axis=1).astype(np.float32)


def warp_regions(images, boxes, warp_size, mean=None, std=None):
    """Cut every box out of its image and warp it to warp_size x warp_size (App. A).

    The warp is anisotropic, as the paper's: a box of any aspect fills the square. It is
    ``ops.roi_align`` on the mean-subtracted images (aligned, so box edges are pixel
    edges; ceil(box / S) bilinear samples averaged per output pixel, so large boxes are
    smoothed before they shrink); samples beyond the image read 0, the mean, as the paper
    fills them. The result is divided by ``std``.

    Parameters
    ----------
    images : (N, 3, H, W) float ndarray
    boxes : list of N arrays (K_i, 4) xyxy, or one (K, 5) array of (image index, x1, ...)
    warp_size : S
    mean, std : per-channel statistics, broadcastable to (1, 3, 1, 1); both None: the
        images are standardised already

    Returns
    -------
    ndarray (ΣK_i, 3, S, S), the crops of image 0 first, then image 1, ...
    """
    rois = (boxes if isinstance(boxes, np.ndarray) else boxes_to_rois(boxes)).astype(np.float32)
    if len(rois) == 0:
        return np.zeros((0, images.shape[1], warp_size, warp_size), np.float32)
    # only the images the boxes are on, renumbered 0, 1, ...: a batch of regions from a
    # large training set touches a few of its images
    used, rois[:, 0] = np.unique(rois[:, 0].astype(np.int64), return_inverse=True)
    x = images[used]
    if mean is not None or std is not None:
        x = (x - (0.0 if mean is None else mean)) / (1.0 if std is None else std)
    return roi_align(x.astype(np.float32), rois, (warp_size, warp_size), aligned=True).data


def boxes_to_rois(boxes):
    """A list of N (K_i, 4) box arrays -> one (ΣK_i, 5) array of (image index, x1, y1, x2, y2),
    the layout ops.roi_align / roi_pool take."""
    boxes = [np.asarray(b, np.float32).reshape(-1, 4) for b in boxes]
    index = np.concatenate([np.full((len(b), 1), i, np.float32) for i, b in enumerate(boxes)])
    return np.concatenate([index, np.concatenate(boxes)], axis=1).reshape(-1, 5)


# ---- stage 1: fine-tuning labels ---------------------------------------------------------------
def label_regions(proposals, gt_boxes, gt_labels):
    """Each region's best ground truth: (max IoU (K,), its box (K, 4), its label (K,)).

    Regions are the proposals and the ground-truth boxes themselves (the paper trains on
    both); an image without objects gives IoU 0 and label 0 for every region.
    """
    regions = np.concatenate([np.asarray(proposals, np.float32).reshape(-1, 4),
                              np.asarray(gt_boxes, np.float32).reshape(-1, 4)])
    if len(gt_boxes) == 0:
        return regions, np.zeros(len(regions)), np.zeros_like(regions), np.zeros(len(regions),
                                                                                  np.int64)
    iou = box_iou(regions, gt_boxes).data                               # (K, M)
    best = iou.argmax(axis=1)
    return regions, iou.max(axis=1), np.asarray(gt_boxes)[best], np.asarray(gt_labels)[best]


def sample_regions(rng, proposals, gt_boxes, gt_labels, per_image=32, fg_fraction=0.25,
                   fg_iou=0.5):
    """Stage 1's minibatch share of one image: up to ``fg_fraction`` of ``per_image``
    regions with IoU >= fg_iou (labelled with their box's class), the rest background
    (labelled 0). Returns boxes (K, 4) and labels (K,) int64."""
    regions, iou, _, labels = label_regions(proposals, gt_boxes, gt_labels)
    fg, bg = np.flatnonzero(iou >= fg_iou), np.flatnonzero(iou < fg_iou)
    fg = rng.permutation(fg)[:int(per_image * fg_fraction)]
    bg = rng.permutation(bg)[:per_image - len(fg)]
    keep = np.concatenate([fg, bg])
    return regions[keep], np.where(iou[keep] >= fg_iou, labels[keep], 0).astype(np.int64)


# ---- stage 2: one linear SVM per class ----------------------------------------------------------
def svm_targets(regions, is_gt, region_labels, gt_boxes, gt_labels, num_classes, neg_iou=0.3):
    """The SVMs' labels of one image's regions: (K, C) in {+1, −1, 0 (ignored)}.

    For class c: +1 for the ground-truth boxes of class c; −1 for any region whose IoU with
    every box of class c is < neg_iou (ground-truth boxes of other classes included); 0 for
    the rest (proposals overlapping a box of class c, even well: not exact enough to be
    positives, too close to be negatives).
    """
    y = np.zeros((len(regions), num_classes), np.float32)
    for c in range(1, num_classes + 1):
        boxes_c = np.asarray(gt_boxes)[np.asarray(gt_labels) == c]
        overlap = box_iou(regions, boxes_c).data.max(axis=1) if len(boxes_c) else \
            np.zeros(len(regions))
        y[overlap < neg_iou, c - 1] = -1
        y[is_gt & (region_labels == c), c - 1] = 1
    return y


def train_svms(features, targets, lam=1e-3, pos_weight=2.0, steps=400, lr=0.05):
    """One linear SVM per class, trained together by (full-batch) subgradient descent.

    Minimises, for every class c (a column of ``targets``) on its labelled rows,

        λ/2 ‖w_c‖² + (1/N_c) Σ_i ω_i max(0, 1 − y_ic (w_cᵀ x_i + b_c)),

    ω = pos_weight for y = +1, 1 for y = −1; rows with y = 0 do not count. The hinge is
    written with tinyvision's autograd (relu(1 − y·s)) and minimised by Adam with a cosine
    learning rate (its subgradient is 0 beyond the margin: only the support vectors pull).
    The paper mines hard negatives because all negatives' features do not fit in memory;
    here the sampled negatives do, and every step sees them all.

    Parameters
    ----------
    features : (N, D) float32
    targets : (N, C) in {+1, −1, 0}, e.g. stacked ``svm_targets``

    Returns (weight (C, D), bias (C,)) as float32 ndarrays.
    """
    x = Tensor(as_array(features).astype(np.float32))
    y = as_array(targets).astype(np.float32)
    if x.ndim != 2 or y.ndim != 2 or len(y) != len(x) or not np.isin(y, (-1, 0, 1)).all():
        raise ValueError(f"train_svms: features must be (N, D) and targets (N, C) in {{+1, −1, "
                         f"0}}, got shapes {tuple(x.shape)} and {y.shape} (values "
                         f"{np.unique(y)[:5].tolist()})")
    omega = np.where(y > 0, pos_weight, (y < 0).astype(np.float32)).astype(np.float32)
    omega /= np.maximum((y != 0).sum(axis=0, keepdims=True), 1)          # the 1/N_c
    y, omega = Tensor(y), Tensor(omega)
    w = Tensor(np.zeros((x.shape[1], y.shape[1]), np.float32), requires_grad=True)
    b = Tensor(np.zeros(y.shape[1], np.float32), requires_grad=True)
    opt = optim.Adam([w, b], lr=lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    for _ in range(steps):
        margins = F.relu(1 - y * (x @ w + b))                             # (N, C) hinge
        loss = (omega * margins).sum() + 0.5 * lam * (w * w).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return np.ascontiguousarray(w.data.T), b.data.copy()


# ---- stage 3: box regression ---------------------------------------------------------------------
def fit_box_regressors(features, proposals, gt_boxes, labels, num_classes, lam=1000.0):
    """Per class c, ridge regression from pool5 features to the box offsets (App. C).

    Rows are proposals with their matched ground-truth box and its class (the caller keeps
    those with IoU >= 0.6). Targets t = (t_x, t_y, t_w, t_h) = BoxCoder().encode(G, P);
    the solution of Eq. (5) is W_c = (XᵀX + λI)⁻¹ Xᵀ T on centred X and T, the intercept
    the mean target (not penalised). A class with no rows predicts zero offsets.

    Returns (weight (C, D, 4), bias (C, 4)) float32.
    """
    X = as_array(features).astype(np.float64)
    T = BoxCoder().encode(gt_boxes, proposals).data.astype(np.float64)
    labels = as_array(labels)
    if X.ndim != 2 or len(X) != len(T) or labels.shape != (len(T),):
        raise ValueError(f"fit_box_regressors: features (N, D), boxes (N, 4) and labels (N,) "
                         f"must have one row per proposal, got shapes {X.shape}, {T.shape} and "
                         f"{labels.shape}")
    D = X.shape[1]
    weight, bias = np.zeros((num_classes, D, 4)), np.zeros((num_classes, 4))
    for c in range(1, num_classes + 1):
        rows = labels == c
        if not rows.any():
            continue
        mx, mt = X[rows].mean(axis=0), T[rows].mean(axis=0)
        Xc, Tc = X[rows] - mx, T[rows] - mt
        weight[c - 1] = np.linalg.solve(Xc.T @ Xc + lam * np.eye(D), Xc.T @ Tc)
        bias[c - 1] = mt - mx @ weight[c - 1]
    return weight.astype(np.float32), bias.astype(np.float32)


# ---- the detector -------------------------------------------------------------------------------
class RCNN(nn.Module):
    """R-CNN around a trained RCNNNet, with the SVMs' and the box regressors' weights.

    ``model(images, proposals=None)`` -> one dict per image with ``boxes`` (D, 4) xyxy,
    ``scores`` (D,) (SVM margins: > 0 on the positive side) and ``labels`` (D,) in 1..C, as
    torchvision's detectors; proposals are computed with selective search when not given
    (a list of (K_i, 4) arrays). R-CNN is not trained end to end, so there is no loss mode:
    ``cnn`` is trained as a classifier of warped regions (stage 1), and ``svm_weight`` /
    ``svm_bias`` and ``bbox_weight`` / ``bbox_bias`` (buffers, saved in the state dict) are
    set from ``train_svms`` and ``fit_box_regressors`` (stages 2 and 3), and the buffer
    ``feature_scale`` multiplies φ7 before the SVMs (the paper scales the features to a mean
    L2 norm of 20).

    Parameters
    ----------
    num_classes : C
    widths, hidden : of the RCNNNet
    mean, std : per-channel pixel statistics the crops are standardised with
    score_thresh : keep (class, box) pairs whose SVM score is above it (before NMS)
    batch_size : crops per CNN pass
    proposal_settings : selective_search's keywords, when ``forward`` searches itself
    other keywords : see DEFAULTS
    """

    def __init__(self, num_classes=5, widths=(16, 32, 64, 64), hidden=256, mean=None, std=None,
                 warp_size=DEFAULTS["warp_size"], context_padding=DEFAULTS["context_padding"],
                 score_thresh=-1.0, nms_thresh=DEFAULTS["nms_thresh"],
                 detections_per_img=DEFAULTS["detections_per_img"], proposal_settings=None,
                 batch_size=600):
        super().__init__()
        self.num_classes, self.warp_size, self.context_padding = num_classes, warp_size, \
            context_padding
        self.cnn = RCNNNet(num_classes, warp_size, widths, hidden)
        self.register_buffer("mean", np.asarray(np.zeros(3) if mean is None else mean,
                                                np.float32).reshape(1, 3, 1, 1))
        self.register_buffer("std", np.asarray(np.ones(3) if std is None else std,
                                               np.float32).reshape(1, 3, 1, 1))
        self.register_buffer("feature_scale", np.ones((), np.float32))
        self.register_buffer("svm_weight", np.zeros((num_classes, hidden), np.float32))
        self.register_buffer("svm_bias", np.zeros(num_classes, np.float32))
        self.register_buffer("bbox_weight", np.zeros((num_classes, self.cnn.pool5_dim, 4),
                                                     np.float32))
        self.register_buffer("bbox_bias", np.zeros((num_classes, 4), np.float32))
        self.score_thresh, self.nms_thresh = score_thresh, nms_thresh
        self.detections_per_img, self.batch_size = detections_per_img, batch_size
        self.proposal_settings = dict(DEFAULTS["proposals"] if proposal_settings is None
                                      else proposal_settings)
        self.box_coder = BoxCoder()

    def warp(self, images, boxes, standardised=False):
        """Warped, standardised crops of the boxes with context (``add_context``, then
        ``warp_regions``); boxes a list per image or (K, 5) rois. ``standardised``: the
        images are already (x − mean) / std."""
        rois = boxes_to_rois(boxes) if not isinstance(boxes, np.ndarray) else boxes.copy()
        rois[:, 1:] = add_context(rois[:, 1:], self.warp_size, self.context_padding)
        if standardised:
            return warp_regions(images, rois, self.warp_size)
        return warp_regions(images, rois, self.warp_size, self.mean.data, self.std.data)

    def features(self, images, boxes):
        """φ5 (K, D5) and φ7 (K, hidden) of every box (list per image), no grad, batched."""
        rois = boxes_to_rois(boxes)
        self.cnn.eval()
        pool5, fc7 = [], []
        with no_grad():
            for start in range(0, len(rois), self.batch_size):
                crops = self.warp(images, rois[start:start + self.batch_size])
                p5, f7 = self.cnn.features(Tensor(crops))
                pool5.append(p5.data), fc7.append(f7.data)
        D5, D7 = self.cnn.pool5_dim, self.svm_weight.shape[1]
        return (np.concatenate(pool5) if pool5 else np.zeros((0, D5), np.float32),
                np.concatenate(fc7) if fc7 else np.zeros((0, D7), np.float32))

    def scores(self, fc7):
        """SVM scores (K, C): s_c = w_cᵀ (scale · φ7) + b_c."""
        return (fc7 * self.feature_scale.data) @ self.svm_weight.data.T + self.svm_bias.data

    def boxes(self, pool5, proposals):
        """Each proposal moved by each class's regressor: (K, C, 4) xyxy (Eqs. (1)-(4))."""
        offsets = np.einsum("kd,cdj->kcj", pool5, self.bbox_weight.data) + self.bbox_bias.data
        K, C = offsets.shape[:2]
        return self.box_coder.decode(offsets.reshape(K, 4 * C), proposals).data.reshape(K, C, 4)

    def detect(self, image_shape, proposals, pool5, fc7):
        """One image's detections from its proposals' features (see the class docstring)."""
        K, C = len(proposals), self.num_classes
        scores = self.scores(fc7)                                        # (K, C)
        boxes = clip_boxes_to_image(self.boxes(pool5, proposals).reshape(-1, 4), image_shape).data
        labels = np.tile(np.arange(1, C + 1), K)
        scores = scores.reshape(-1)
        wide = (boxes[:, 2] - boxes[:, 0] > 1e-2) & (boxes[:, 3] - boxes[:, 1] > 1e-2)
        keep = np.flatnonzero((scores > self.score_thresh) & wide)
        kept = keep[batched_nms(boxes[keep], scores[keep], labels[keep], self.nms_thresh).data]
        kept = kept[:self.detections_per_img]
        return {"boxes": Tensor(boxes[kept].astype(np.float32)),
                "scores": Tensor(scores[kept].astype(np.float32)),
                "labels": Tensor(labels[kept].astype(np.int64))}

    def propose(self, images):
        """Selective-search proposals of each image (the model's ``proposal_settings``)."""
        return [selective_search(image, **self.proposal_settings).numpy() for image in images]

    def forward(self, images, proposals=None):
        images = as_image_list(images, "RCNN")
        if proposals is None:
            proposals = self.propose(images)
        if len(proposals) != len(images):
            raise ValueError(f"RCNN: got {len(proposals)} proposal arrays for {len(images)} "
                             f"images; give one (K_i, 4) array per image")
        proposals = [np.asarray(getattr(p, "data", p), np.float32).reshape(-1, 4)
                     for p in proposals]
        out = []
        for image, props in zip(images, proposals):
            pool5, fc7 = self.features(image[None], [props])
            out.append(self.detect(image.shape[1:], props, pool5, fc7))
        return out
