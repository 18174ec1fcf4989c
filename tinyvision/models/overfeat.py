"""Overfeat: the sliding window done by one convolutional pass (Sermanet et al., 2014).

The naive sliding window (sliding_window.py) crops ~11,000 overlapping windows and runs the
classifier on each: neighbouring windows share 7/8 of their pixels, so almost all of that
work is the same convolution done again. Overfeat's observation: a fully connected layer
*is* a convolution. The first FC layer reads the whole (C, h, w) feature map of one window,
so it is a convolution with an h x w kernel; the next ones read a vector, so they are 1x1
convolutions. Rewrite them so (``fc_to_conv``) and the net accepts any image size: on a
larger image it slides by itself, sharing the convolutions between windows, and its output
is a *score map* whose cell (i, j) is exactly the score of the window with its top-left
corner at (x, y) = (4j, 4i), 4 being the net's total stride (two 2x2 poolings)::

    image (3, 128, 128)
      -> resize so a window of w px becomes 32 px                      F.interpolate
         (w = 12 ... 96: images of 341 ... 43 px a side)
      -> features (the classifier's convs, unchanged)                 (32, h', w') map
      -> FC layers as convs (5x5 then 1x1)                            fc_to_conv
         -> class score map (C+1, h, w), box-offset map (4, h, w)     one cell per window
      -> per cell: best class, its score, window + predicted offsets  decode_offsets
      -> greedy merging of the boxes of each class                    merge_detections

    window classifier on a 40x40 image: the map is 3x3, one cell per window 4 px apart
      features (32, 7, 7) --5x5 conv--> (128, 3, 3) --1x1--> (128, 3, 3) --1x1--> (6, 3, 3)

Equation map:

    FC -> conv      y_o = Σ_{c,u,v} W[o, (c·h + u)·w + v] x[c, u, v] + b_o
                    = (W.reshape(O, C, h, w) ⋆ x)[o] + b_o                   fc_to_conv
    cell -> window  cell (i, j) at scale s = RH/H sees the window x1 = 4j/s, y1 = 4i/s,
                    side 32/s (original pixels)              sliding_window.sliding_windows
    box offsets     t = ((g_x1 − x1)/w, (g_y1 − y1)/h, (g_x2 − x2)/w, (g_y2 − y2)/h)
                    of the object box g from the window (x1, y1, x2, y2) of side w x h;
                    regression head trained with smooth-L1 on positive windows  encode_offsets
    merging         NMS picks the boxes to keep; each becomes the score-weighted mean of
                    the boxes of its class that overlap it by IoU > 0.5         merge_detections

What is left out of the paper: its "offset max-pooling" (pooling the last map at every
shift to get a finer stride than the net's) and its pairwise merge rule (repeatedly merge
the two closest boxes); ``merge_detections`` is the cheaper greedy version.

References
----------
[Sermanet] P. Sermanet, D. Eigen, X. Zhang, M. Mathieu, R. Fergus, Y. LeCun, "OverFeat:
Integrated Recognition, Localization and Detection using Convolutional Networks",
ICLR 2014. Sec. 3.5 (FC layers as convolutions), 4 (regression), 4.3 (merging).
"""
import numpy as np

from .. import functional as F
from .. import nn
from ..autograd import no_grad
from ..ops import batched_nms, box_iou, clip_boxes_to_image
from ..tensor import Tensor
from .sliding_window import (WINDOW_SIZES, WindowClassifier, as_image_list, best_classes,
                             select_detections, sliding_windows, window_scales)


# ---- the conversion -------------------------------------------------------------------------
def fc_to_conv(layers, in_shape):
    """The fully connected ``layers`` rewritten as convolutions with the same weights.

    Parameters
    ----------
    layers : nn.Sequential of Flatten (first, optional), Linear, and parameter-free layers
        (ReLU, Dropout, ...), as it runs on a (N, C, h, w) feature map
    in_shape : (C, h, w), the feature map the first Linear reads (flattened C, then h, w)

    Returns
    -------
    nn.Sequential of Conv2d and the same parameter-free layers: the first Linear
    (O, C·h·w) becomes a conv with an h x w kernel W.reshape(O, C, h, w) (the flattening
    order), each later Linear (O, I) a 1x1 conv W.reshape(O, I, 1, 1); biases are copied.
    On a (N, C, h, w) input it gives (N, O, 1, 1) equal to the FC output; on a larger map
    (N, C, H', W') it gives (N, O, H' − h + 1, W' − w + 1): the FC layers at every position.
    """
    c, h, w = in_shape
    convs, first = [], True
    for i, layer in enumerate(layers):
        if isinstance(layer, nn.Flatten):
            if i != 0:
                raise ValueError(f"fc_to_conv: Flatten must come first, found at layers[{i}]")
            continue
        if isinstance(layer, nn.Linear):
            weight, bias = layer.weight.data, None if layer.bias is None else layer.bias.data
            out_f, in_f = weight.shape
            if first:
                if in_f != c * h * w:
                    raise ValueError(f"fc_to_conv: the first Linear reads {in_f} features, but "
                                     f"in_shape {tuple(in_shape)} has {c * h * w}")
                conv = nn.Conv2d(c, out_f, (h, w), bias=bias is not None, dtype=weight.dtype)
                conv.weight.data[...] = weight.reshape(out_f, c, h, w)
            else:
                conv = nn.Conv2d(in_f, out_f, 1, bias=bias is not None, dtype=weight.dtype)
                conv.weight.data[...] = weight.reshape(out_f, in_f, 1, 1)
            if bias is not None:
                conv.bias.data[...] = bias
            convs.append(conv)
            first = False
        elif not list(layer.parameters()):
            convs.append(layer)   # ReLU, Dropout: element-wise, as happy with maps as vectors
        else:
            raise TypeError(f"fc_to_conv: layers[{i}] is a {type(layer).__name__} with "
                            f"parameters; only Linear layers and parameter-free ones convert")
    if first:
        raise ValueError("fc_to_conv: layers has no Linear layer to convert")
    return nn.Sequential(*convs)


# ---- box offsets relative to a window -----------------------------------------------------------
def encode_offsets(windows, boxes):
    """t = ((g_x1 − x1)/w, (g_y1 − y1)/h, (g_x2 − x2)/w, (g_y2 − y2)/h): where each object box
    g lies relative to its window, in window sides. windows, boxes (K, 4) -> (K, 4)."""
    windows, boxes = np.asarray(windows, np.float64), np.asarray(boxes, np.float64)
    size = np.tile(windows[:, 2:] - windows[:, :2], 2)
    return (boxes - windows) / size


def decode_offsets(windows, offsets):
    """The inverse of ``encode_offsets``: g = window + t · (w, h, w, h)."""
    windows = np.asarray(windows, np.float64)
    size = np.tile(windows[:, 2:] - windows[:, :2], 2)
    return windows + np.asarray(offsets, np.float64) * size


def merge_detections(boxes, scores, labels, iou_threshold, average_threshold=0.5,
                     detections_per_img=100):
    """Greedy box merging: NMS picks the boxes to keep, each becomes the mean of its cluster.

    Boxes are visited by decreasing score, as NMS does (``batched_nms`` with
    ``iou_threshold``); each kept box is replaced by the score-weighted mean of the boxes of
    its class that overlap it by IoU > ``average_threshold`` (itself included), keeping its
    own score. Many windows find the same object, each predicting its box with its own
    error; their mean is closer to it than any one of them. (A box can help several kept
    boxes; a looser cluster, IoU > iou_threshold, would pull in the near misses too.)

    boxes (N, 4), scores (N,), labels (N,) -> dict of ``boxes``, ``scores``, ``labels``.
    """
    boxes, scores, labels = (np.asarray(boxes, np.float64), np.asarray(scores),
                             np.asarray(labels, np.int64))
    keep = batched_nms(boxes, scores, labels, iou_threshold).data[:detections_per_img]
    if len(keep):
        cluster = (box_iou(boxes[keep], boxes).data > average_threshold) \
            & (labels[keep][:, None] == labels[None, :])                         # (D, N)
        cluster[np.arange(len(keep)), keep] = True
        weight = cluster * scores[None, :].astype(np.float64)                   # (D, N)
        merged = weight @ boxes / weight.sum(axis=1, keepdims=True)
    else:
        merged = np.zeros((0, 4))
    return {"boxes": Tensor(merged.astype(np.float32)), "scores": Tensor(scores[keep]),
            "labels": Tensor(labels[keep])}


# ---- the detector -----------------------------------------------------------------------------
class Overfeat(nn.Module):
    """A trained WindowClassifier run fully convolutionally over an image pyramid.

    Parameters
    ----------
    classifier : WindowClassifier, trained (its ``regressor`` too when ``regression``)
    window_sizes : window sides in input pixels; the image is resized once per size
    score_thresh : keep cells whose best object score p_c is at least this
    merge_thresh : IoU above which boxes of a class are merged (or suppressed)
    regression : use the box-offset map (True) or the windows themselves as boxes
    merge : 'merge' (``merge_detections``) or 'nms' (plain per-class NMS)
    detections_per_img : keep at most this many, best first

    ``model(images)`` (eval mode, no grad) -> one dict per image with ``boxes``, ``scores``,
    ``labels``; ``score_maps(x)`` gives the raw maps of one batch at one scale.
    """

    def __init__(self, classifier, window_sizes=WINDOW_SIZES, score_thresh=0.05,
                 merge_thresh=0.3, regression=True, merge="merge", detections_per_img=100):
        super().__init__()
        if not isinstance(classifier, WindowClassifier):
            raise TypeError(f"Overfeat: classifier must be a WindowClassifier, got "
                            f"{type(classifier).__name__}")
        if merge not in ("merge", "nms"):
            raise ValueError(f"Overfeat: merge must be 'merge' or 'nms', got {merge!r}")
        self.window, self.stride = classifier.window, classifier.total_stride
        self.window_classifier = classifier
        self.classifier = fc_to_conv(classifier.classifier, classifier.feature_shape)
        self.regressor = fc_to_conv(classifier.regressor, classifier.feature_shape)
        self.window_sizes, self.score_thresh = tuple(window_sizes), score_thresh
        self.merge_thresh, self.regression, self.merge = merge_thresh, regression, merge
        self.detections_per_img = detections_per_img

    def score_maps(self, x):
        """(N, 3, H, W) images -> class logits (N, C + 1, h, w) and box offsets (N, 4, h, w),
        h = (H − window)/stride + 1 (rounded down): cell (i, j) scores the window at
        (stride·j, stride·i)."""
        x = self.window_classifier.normalize(x)
        features = self.window_classifier.features(x)
        return self.classifier(features), self.regressor(features)

    def forward(self, images):
        self.eval()
        return [self.detect(*self.score_windows(image), image_size=image.shape[1:])
                for image in as_image_list(images, "Overfeat")]

    def score_windows(self, image):
        """image (3, H, W) -> windows (K, 4), box offsets (K, 4), softmax scores (K, C + 1):
        one row per cell of every scale's map, in the order of SlidingWindowDetector.windows
        (so the scores are those of the naive detector, window for window)."""
        height, width = image.shape[1:]
        windows, offsets = [np.zeros((0, 4))], [np.zeros((0, 4), np.float32)]
        probs = [np.zeros((0, self.window_classifier.num_classes + 1), np.float32)]
        with no_grad():
            for resized in window_scales(height, width, self.window_sizes, self.window):
                x = F.interpolate(Tensor(image[None]), size=resized, mode="bilinear",
                                  align_corners=False)
                logits, t = self.score_maps(x)                       # (1, C+1, h, w), (1, 4, h, w)
                windows.append(sliding_windows(height, width, resized, self.window, self.stride))
                probs.append(F.softmax(logits, dim=1).data[0].reshape(logits.shape[1], -1).T)
                offsets.append(t.data[0].reshape(4, -1).T)           # (h·w, 4), row-major cells
        return np.concatenate(windows), np.concatenate(offsets), np.concatenate(probs)

    def detect(self, windows, offsets, probs, image_size=None):
        """One image's cells -> detections: each window moved by its predicted offsets (with
        ``regression``, clipped to ``image_size`` (H, W) when given), its best object class,
        the threshold, then merging or NMS."""
        boxes = windows
        if self.regression:
            boxes = decode_offsets(windows, offsets)
            # NOTE: a regressor may predict x2 < x1 for a window far from any object;
            # swapping keeps such boxes valid (they score low and rarely survive anyway).
            boxes = np.concatenate([np.minimum(boxes[:, :2], boxes[:, 2:]),
                                    np.maximum(boxes[:, :2], boxes[:, 2:])], axis=1)
            if image_size is not None:
                boxes = clip_boxes_to_image(boxes, image_size).data
        if self.merge == "nms":
            return select_detections(boxes, probs, self.score_thresh, self.merge_thresh,
                                     self.detections_per_img)
        return merge_detections(*best_classes(boxes, probs, self.score_thresh),
                                self.merge_thresh, detections_per_img=self.detections_per_img)
