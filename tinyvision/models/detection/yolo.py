"""YOLO v1 [Redmon16]: detection as one regression, from the image to an S x S x (5B + C) tensor.

R-CNN and its successors classify regions; YOLO looks once: one network maps the whole image
to a grid of S x S cells, and each cell predicts B boxes with a confidence each and one class
distribution. An object is the business of the cell its centre falls into::

    images (N, 3, H, W)
      │ DetectionTransform: x' = (x − mean) / std
      │ ResNetFeatures (the paper: 24 conv layers pretrained on ImageNet)     backbone
      ▼
    c5 (N, 128, H/32, W/32)                        c4 (N, 64, H/16, W/16) (no c5 built)
      │ head="fc" (the paper's):                     │ head="conv" (the default):
      │ 3x3 conv, leaky ReLU 0.1, flatten,           │ 3x3 conv, leaky ReLU 0.1,
      │ FC -> hidden, leaky, dropout 0.5,            │ 1x1 conv -> 5B + C per cell
      │ FC -> S·S·(5B + C)                           │ (the map must be S x S)
      ▼                                              ▼
    raw (N, S, S, 5B + C), per cell: B × (x, y, √w, √h, conf), then C class scores
      │ squash: x, y, √w, √h, conf by the logistic σ, classes by softmax     YOLOv1.head
      ├─ training: responsible predictors, sum-squared error, Eq. (3)       assign_targets,
      │                                                                     yolo_loss
      └─ test: class-specific confidence Pr(class|obj)·conf, threshold,     postprocess
         per-class NMS, best 100

Parameterisation of a box (Sec. 2): (x, y) the centre relative to its cell (0..1 across the
cell), (w, h) relative to the whole image, so with the cell (col, row) of size (H/S, W/S):

    centre = ((col + x) · W/S, (row + y) · H/S),  size = (w · W, h · H)          decode_boxes

The network predicts √w and √h (the loss compares square roots) and w = (√w)².

Equation map ([Redmon16]; 1^obj_i: an object's centre is in cell i; 1^obj_ij: predictor j
of cell i is *responsible* for it, the one of the cell's B boxes with the highest IoU with
it at the current prediction; 1^noobj_ij: every other predictor):

    Pr(class_i | object) · Pr(object) · IoU = Pr(class_i) · IoU                Eq. (1), postprocess
    conf target Ĉ_ij = IoU(predicted box, truth) of the responsible predictor  Sec. 2, assign_targets
    L = λcoord Σ_i Σ_j 1^obj_ij [(x_i − x̂_i)² + (y_i − ŷ_i)²]                 "loss_xy"
      + λcoord Σ_i Σ_j 1^obj_ij [(√w_i − √ŵ_i)² + (√h_i − √ĥ_i)²]             "loss_wh"
      + Σ_i Σ_j 1^obj_ij (C_i − Ĉ_i)²                                         "loss_obj"
      + λnoobj Σ_i Σ_j 1^noobj_ij (C_i − Ĉ_i)²,  Ĉ = 0 there                  "loss_noobj"
      + Σ_i 1^obj_i Σ_c (p_i(c) − p̂_i(c))²                                    "loss_class"
                                                                     Eq. (3), yolo_loss
    λcoord = 5, λnoobj = 0.5 (Sec. 2.2); every sum over the minibatch, divided by the number
    of images N (torchvision's detectors average per image too).

Choices, where the paper leaves room or ShapesScenes differ from VOC:

- S = 8, B = 2 (the paper: S = 7, B = 2 on 448 px). A cell of a 128 px scene is 16 px;
  the scenes hold 1 to 6 shapes of 5 to 110 px. Measured on the 2,000 training scenes:
  5.5% of the objects share their cell with another centre (8.9% of the scenes have such a
  cell); S = 4 would lose 20%, S = 16 1.3%. A cell learns one object (one class vector):
  where two centres fall in one cell, the first in the target's order is kept
  (``assign_targets``), the known limit of YOLO v1 with small objects in groups (Sec. 2.4).
- The paper's last layer is linear (``activation="linear"``, kept as an option); by
  default x, y, √w, √h and the confidence pass through the logistic σ and the class scores
  through a softmax, the ranges of their targets ([0, 1], and a distribution
  Pr(class | object)). The error is still the paper's sum of squares on these outputs.
  Measured (recipe settings, conv head, 10 epochs, mAP@0.5 on the 500 test scenes):
  logistic 0.369 at lr 0.05; linear 0.184 at lr 0.05 and 0.217 at lr 0.02.
- ``head="fc"`` is the paper's (two FC layers over the last map); ``head="conv"`` predicts
  each cell's 5B + C numbers by a 1x1 conv from the S x S map c4, as later one-stage
  detectors do. Measured (12 epochs, lr 0.01): fc 0.000 mAP@0.5 (its x, y loss hardly
  fell: a 2,048 -> 512 -> 960 FC stack must learn where each cell is), conv 0.323, with
  5x fewer parameters; the conv head is the default, the FC head the paper's option.
- ``rescore=True`` (the paper, and Darknet's ``rescore`` flag): the confidence target of the
  responsible predictor is its IoU with the truth, so conf estimates Pr(object)·IoU;
  ``rescore=False`` uses 1.
- The backbone is a small ResNet trained from scratch with batch norm (the paper's Darknet
  has no BN and is pretrained); the layers added on it use leaky ReLU 0.1 as the paper.

References
----------
[Redmon16] J. Redmon, S. Divvala, R. Girshick, A. Farhadi, "You Only Look Once: Unified,
    Real-Time Object Detection", CVPR 2016.
"""
import numpy as np

from ... import functional as F
from ... import nn
from ...autograd import no_grad
from ...ops import batched_nms, clip_boxes_to_image
from ...tensor import Tensor
from .backbone import ResNetFeatures
from .transform import DetectionTransform, detections

# The paper's settings (Sec. 2.2, 2.3), sized for ShapesScenes' 128 px images.
DEFAULTS = dict(
    grid_size=8,                  # S (7 in the paper, on 448 px)
    boxes_per_cell=2,             # B
    widths=(16, 32, 64, 128), layers=(1, 1, 1, 1),   # ResNetFeatures
    head="conv",                  # "conv": 1x1 conv per cell; "fc": the paper's two FC layers
    hidden=512,                   # the first FC layer (4096 in the paper)
    dropout=0.5,                  # after the first FC layer
    lambda_coord=5.0, lambda_noobj=0.5,
    rescore=True,                 # confidence target: IoU (True) or 1 (False)
    activation="logistic",        # the outputs' squashing: "logistic" or "linear" (the paper)
    score_thresh=0.05, nms_thresh=0.5, detections_per_img=100,
)


def conv_leaky(cin, cout, k):
    """k x k conv (same size), batch norm, leaky ReLU 0.1: the layers YOLO adds."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False),
                         nn.BatchNorm2d(cout), nn.LeakyReLU(0.1))


class YOLOv1(nn.Module):
    """YOLO v1: a backbone and a head giving an S x S x (5B + C) tensor (module docstring).

    Called as torchvision's detectors: in train mode ``model(images, targets)`` returns
    ``{"loss_xy", "loss_wh", "loss_obj", "loss_noobj", "loss_class"}`` (0-d Tensors); in eval
    mode ``model(images)`` returns one dict per image with ``boxes`` (D, 4) xyxy pixels,
    ``scores`` (D,) (class-specific confidences) and ``labels`` (D,) in 1..C.

    Parameters
    ----------
    num_classes : C
    mean, std : per-channel statistics the images are standardised with (buffers)
    grid_size : S;  boxes_per_cell : B
    widths, layers : the ResNetFeatures backbone
    head : "fc" (flatten c5, FC hidden, FC S·S·(5B+C), the paper's) or "conv" (on c4, whose
        map must then be S x S: 128 px images and S = 8)
    hidden, dropout : the FC head's first layer and the dropout after it
    lambda_coord, lambda_noobj, rescore : the loss (module docstring)
    score_thresh, nms_thresh, detections_per_img : the test-time postprocessing
    image_size : (H, W) the FC head is built for (its input is the flattened c5)
    """

    def __init__(self, num_classes=5, mean=None, std=None, grid_size=DEFAULTS["grid_size"],
                 boxes_per_cell=DEFAULTS["boxes_per_cell"], widths=DEFAULTS["widths"],
                 layers=DEFAULTS["layers"], head=DEFAULTS["head"], hidden=DEFAULTS["hidden"],
                 dropout=DEFAULTS["dropout"], lambda_coord=DEFAULTS["lambda_coord"],
                 lambda_noobj=DEFAULTS["lambda_noobj"], rescore=DEFAULTS["rescore"],
                 activation=DEFAULTS["activation"],
                 score_thresh=DEFAULTS["score_thresh"], nms_thresh=DEFAULTS["nms_thresh"],
                 detections_per_img=DEFAULTS["detections_per_img"], image_size=(128, 128)):
        super().__init__()
        for name, value in (("num_classes", num_classes), ("grid_size", grid_size),
                            ("boxes_per_cell", boxes_per_cell)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"YOLOv1: {name} must be a positive int, got {value!r}")
        if head not in ("fc", "conv"):
            raise ValueError(f"YOLOv1: head must be 'fc' or 'conv', got {head!r}")
        if activation not in ("logistic", "linear"):
            raise ValueError(f"YOLOv1: activation must be 'logistic' or 'linear', got "
                             f"{activation!r}")
        self.activation = activation
        self.num_classes, self.S, self.B, self.head_type = num_classes, grid_size, boxes_per_cell, head
        self.image_size = tuple(int(s) for s in image_size)
        self.transform = DetectionTransform(mean, std, "YOLOv1")
        self.backbone = ResNetFeatures(widths, layers, last="c5" if head == "fc" else "c4")
        per_cell = 5 * boxes_per_cell + num_classes
        if head == "fc":
            if any(s % 32 for s in self.image_size):
                raise ValueError(f"YOLOv1: image_size must be multiples of 32 for the fc "
                                 f"head (c5 is at stride 32), got {image_size!r}")
            cells = (self.image_size[0] // 32) * (self.image_size[1] // 32)
            self.head = nn.Sequential(
                conv_leaky(widths[3], widths[3], 3), nn.Flatten(),
                nn.Linear(widths[3] * cells, hidden), nn.LeakyReLU(0.1), nn.Dropout(dropout),
                nn.Linear(hidden, grid_size * grid_size * per_cell))
        else:
            if any(s != 16 * grid_size for s in self.image_size):
                raise ValueError(f"YOLOv1: the conv head reads c4 (stride 16), so image_size "
                                 f"must be 16·grid_size = {16 * grid_size} a side, got "
                                 f"{image_size!r}")
            self.head = nn.Sequential(conv_leaky(widths[2], 2 * widths[2], 3),
                                      nn.Conv2d(2 * widths[2], per_cell, 1))
        self.lambda_coord, self.lambda_noobj, self.rescore = lambda_coord, lambda_noobj, rescore
        self.score_thresh, self.nms_thresh = score_thresh, nms_thresh
        self.detections_per_img = detections_per_img

    # ---- the network ---------------------------------------------------------------------------
    def predict(self, x):
        """The squashed output tensor of standardised images x (N, 3, H, W): boxes (N, S, S, B,
        5) as (x, y, √w, √h, conf) in [0, 1] and class probabilities (N, S, S, C)."""
        N, S, B, C = x.shape[0], self.S, self.B, self.num_classes
        features = self.backbone(x)
        if self.head_type == "fc":
            raw = self.head(features["c5"]).reshape(N, S, S, 5 * B + C)
        else:
            raw = self.head(features["c4"]).permute(0, 2, 3, 1)            # (N, S, S, 5B + C)
        boxes, probs = raw[..., :5 * B].reshape(N, S, S, B, 5), raw[..., 5 * B:]
        if self.activation == "logistic":
            boxes, probs = F.sigmoid(boxes), F.softmax(probs, dim=-1)       # Pr(class | object)
        return boxes, probs

    def forward(self, images, targets=None):
        x, targets = self.transform.prepare(images, targets, self.training)
        if tuple(x.shape[2:]) != self.image_size:
            raise ValueError(f"YOLOv1: images must be {self.image_size} (the size the model "
                             f"was built for), got {tuple(x.shape[2:])}")
        if self.training:
            boxes, probs = self.predict(x)
            assigned = assign_targets(decode_boxes(boxes.data[..., :4], self.image_size),
                                      targets, self.num_classes, self.image_size, self.rescore)
            return yolo_loss(boxes, probs, assigned, self.lambda_coord, self.lambda_noobj)
        with no_grad():
            boxes, probs = self.predict(x)
        # linear outputs may leave [0, 1]: a probability and a confidence are clipped to it
        return self.postprocess(boxes.data, np.clip(probs.data, 0, 1))

    # ---- test: class-specific confidences, threshold, NMS --------------------------------------
    def postprocess(self, boxes, probs):
        """Eq. (1): score of class c for box j of cell i = Pr(c | object)_i · conf_ij; boxes
        decoded and clipped, scores above ``score_thresh``, per-class NMS at ``nms_thresh``,
        the best ``detections_per_img``: one output dict per image."""
        N, C = len(boxes), self.num_classes
        xyxy = clip_boxes_to_image(decode_boxes(boxes[..., :4], self.image_size),
                                   self.image_size).data.reshape(N, -1, 4)    # (N, S·S·B, 4)
        conf = np.clip(boxes[..., 4:5], 0, 1)
        scores = (probs[:, :, :, None, :] * conf).reshape(N, -1, C)           # (N, S·S·B, C)
        out = []
        for b, s in zip(xyxy, scores):
            box_index, label = np.nonzero(s > self.score_thresh)
            wide = (b[box_index, 2] - b[box_index, 0] > 1e-2) & (b[box_index, 3] - b[box_index, 1] > 1e-2)
            box_index, label = box_index[wide], label[wide]
            kept_boxes, kept_scores = b[box_index], s[box_index, label]
            keep = batched_nms(kept_boxes, kept_scores, label, self.nms_thresh).data
            keep = keep[:self.detections_per_img]
            out.append(detections(kept_boxes[keep], kept_scores[keep], label[keep] + 1))
        return out


def decode_boxes(boxes, image_size):
    """(..., S, S, B, 4) predictions (x, y, √w, √h) -> xyxy pixels, the parameterisation of
    Sec. 2: centre ((col + x)·W/S, (row + y)·H/S), size ((√w)²·W, (√h)²·H)."""
    H, W = image_size
    S = boxes.shape[-3]
    cols = np.arange(S, dtype=np.float32)[None, :, None]                  # (1, S, 1): col j
    rows = np.arange(S, dtype=np.float32)[:, None, None]                  # (S, 1, 1): row i
    cx, cy = (cols + boxes[..., 0]) * (W / S), (rows + boxes[..., 1]) * (H / S)
    w, h = boxes[..., 2] ** 2 * W, boxes[..., 3] ** 2 * H
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1).astype(np.float32)


def paired_iou(a, b):
    """IoU of boxes a[k] and b[k] (xyxy, same shape (..., 4)), elementwise: (...)."""
    wh = np.clip(np.minimum(a[..., 2:], b[..., 2:]) - np.maximum(a[..., :2], b[..., :2]), 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area = lambda z: (z[..., 2] - z[..., 0]) * (z[..., 3] - z[..., 1])
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def assign_targets(pred_xyxy, targets, num_classes, image_size, rescore=True):
    """The targets of Eq. (3) for a minibatch, from the current predictions (no gradient).

    Each ground-truth box goes to the cell (row, col) its centre falls in; a cell takes one
    object (where several centres share it, the first in the target's order). In that cell
    the responsible predictor is the one of the B whose predicted box has the highest IoU
    with the truth; its confidence target is that IoU (``rescore``) or 1.

    Parameters
    ----------
    pred_xyxy : (N, S, S, B, 4) the predicted boxes in pixels (decode_boxes)
    targets : N dicts with boxes (M_i, 4) xyxy pixels and labels (M_i,) in 1..C

    Returns a dict of NumPy arrays: ``responsible`` (N, S, S, B) 1^obj_ij as 0/1,
    ``box`` (N, S, S, B, 4) the targets (x, y, √w, √h), ``conf`` (N, S, S, B) Ĉ, ``object``
    (N, S, S) 1^obj_i, ``classes`` (N, S, S, C) the one-hot p̂.
    """
    N, S, _, B, _ = pred_xyxy.shape
    H, W = image_size
    out = dict(responsible=np.zeros((N, S, S, B), np.float32),
               box=np.zeros((N, S, S, B, 4), np.float32), conf=np.zeros((N, S, S, B), np.float32),
               object=np.zeros((N, S, S), np.float32),
               classes=np.zeros((N, S, S, num_classes), np.float32))
    counts = [len(t["boxes"]) for t in targets]
    if sum(counts) == 0:
        return out
    gt = np.concatenate([t["boxes"] for t in targets]).astype(np.float32)   # (M, 4) the batch's
    labels = np.concatenate([t["labels"] for t in targets])
    image = np.repeat(np.arange(N), counts)                                 # (M,) image of each
    cx, cy = (gt[:, 0] + gt[:, 2]) / 2, (gt[:, 1] + gt[:, 3]) / 2
    w, h = gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1]
    col = np.clip(np.floor(cx * S / W).astype(np.int64), 0, S - 1)
    row = np.clip(np.floor(cy * S / H).astype(np.int64), 0, S - 1)
    # one object per cell: np.unique's first occurrence of each (image, row, col)
    _, first = np.unique((image * S + row) * S + col, return_index=True)
    gt, labels, image, row, col = gt[first], labels[first], image[first], row[first], col[first]
    cx, cy, w, h = cx[first], cy[first], w[first], h[first]
    # the responsible predictor: highest IoU of the cell's B boxes with the truth
    iou = paired_iou(pred_xyxy[image, row, col], gt[:, None, :])             # (K, B)
    j = iou.argmax(axis=1)                                                  # (K,)
    out["responsible"][image, row, col, j] = 1.0
    out["box"][image, row, col, j] = np.stack(
        [cx * S / W - col, cy * S / H - row, np.sqrt(w / W), np.sqrt(h / H)], axis=1)
    out["conf"][image, row, col, j] = iou[np.arange(len(j)), j] if rescore else 1.0
    out["object"][image, row, col] = 1.0
    out["classes"][image, row, col, labels - 1] = 1.0
    return out


def yolo_loss(boxes, probs, assigned, lambda_coord=5.0, lambda_noobj=0.5):
    """Eq. (3) of [Redmon16]: the five sum-squared error terms over the minibatch, each divided
    by the number of images N.

    boxes (N, S, S, B, 5) Tensor of (x, y, √w, √h, conf), probs (N, S, S, C) Tensor, assigned:
    ``assign_targets``'s dict. Returns {"loss_xy", "loss_wh", "loss_obj", "loss_noobj",
    "loss_class"} (0-d Tensors).
    """
    N = boxes.shape[0]
    resp = assigned["responsible"]                                           # 1^obj_ij
    sq = (boxes[..., :4] - Tensor(assigned["box"])) ** 2                     # (N, S, S, B, 4)
    conf_sq = (boxes[..., 4] - Tensor(assigned["conf"])) ** 2                # (N, S, S, B)
    class_sq = (probs - Tensor(assigned["classes"])) ** 2                    # (N, S, S, C)
    return {
        "loss_xy": lambda_coord * (sq[..., :2] * resp[..., None]).sum() / N,
        "loss_wh": lambda_coord * (sq[..., 2:] * resp[..., None]).sum() / N,
        "loss_obj": (conf_sq * resp).sum() / N,
        "loss_noobj": lambda_noobj * (conf_sq * (1.0 - resp)).sum() / N,
        "loss_class": (class_sq * assigned["object"][..., None]).sum() / N,
    }
