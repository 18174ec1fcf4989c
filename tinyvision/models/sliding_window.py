"""Sliding-window detection: a window classifier with a background class, run everywhere.

The oldest way to turn a classifier into a detector (Viola–Jones faces, Dalal–Triggs
people): train a small net to answer "which shape fills this window,
or none?", then ask it about every window of every size, and keep the confident answers::

    image (3, 128, 128)
      -> windows of sizes w = 12 .. 96 px, stride w/8           sliding_windows
         (about 11,000 boxes over the 7 default sizes)
      -> crop each window, resize it to 32x32 (bilinear)        crop_and_resize
      -> WindowClassifier: 6 scores (background + 5 shapes)     batched, no grad
      -> best shape per window, keep p >= score_thresh          select_detections
      -> per-class NMS                                          ops.batched_nms

Equation map (one window ``b = (x1, y1, x2, y2)`` of side ``w``):

    window grid     x1 = k·s, k = 0, 1, ...  with s = stride·w/32          sliding_windows
    crop + resize   pixel j of the crop reads the image at x1 + (j + ½)·w/32 − ½ (bilinear)
    scores          p = softmax(f(crop)),  label = argmax_{c≥1} p_c,  score = p_label
    detections      {(b, label, score) : score ≥ τ}, then NMS within each label

Why it is slow, and what Overfeat (overfeat.py) does about it: at stride w/8 windows
overlap by 7/8 of their side, so neighbouring crops share almost all their pixels and the classifier
recomputes the same convolutions again and again, once per window.

The classifier is a classic net: conv-pool-conv-pool then three fully connected layers.
Its convolutions are *valid* (no padding), so each score depends on the 32x32 window alone:
the property that lets overfeat.fc_to_conv turn it into one convolutional pass that gives
every window's score exactly. A second, small FC head (``regressor``) predicts where the
object's box is relative to the window; the plain sliding window ignores it and Overfeat
uses it.

References
----------
[Sermanet] P. Sermanet et al., "OverFeat: Integrated Recognition, Localization and
Detection using Convolutional Networks", ICLR 2014 (Sec. 3.3 and 4 for the windows).
[Dalal] N. Dalal, B. Triggs, "Histograms of Oriented Gradients for Human Detection", CVPR 2005.
[Viola] P. Viola, M. Jones, "Rapid Object Detection using a Boosted Cascade of Simple
Features", CVPR 2001.
"""
import numpy as np

from .. import functional as F
from .. import nn
from ..autograd import no_grad
from ..ops import batched_nms
from ..tensor import Tensor, as_array

WINDOW_SIZES = (12, 16, 24, 32, 48, 64, 96)   # pixels of a 128x128 image; ratio <= 1.5


class WindowClassifier(nn.Module):
    """Classify a ``window`` x ``window`` crop as background (0) or one of the classes 1..C.

    ::

        crop (3, 32, 32), standardised with the training images' mean and std
          -> conv 5x5, 16 maps -> ReLU -> max-pool 2   -> (16, 14, 14)
          -> conv 5x5, 32 maps -> ReLU -> max-pool 2   -> (32, 5, 5)      ``features``
          -> FC 800 -> 128 -> ReLU -> FC 128 -> ReLU -> FC -> C+1 logits  ``classifier``
          -> FC 800 -> 64 -> ReLU -> FC -> 4 box offsets                  ``regressor``

    Parameters
    ----------
    num_classes : int, C object classes (the output has C + 1 scores, background first)
    in_channels : int
    window : int, side of the input (32); the feature map is ((window − 4)/2 − 4)/2 a side
    widths : (int, int), maps of the two convolutions
    hidden : int, width of the classifier's hidden FC layers
    mean, std : per-channel statistics the input is standardised with (buffers, saved in the
        state dict)
    """

    total_stride = 4   # two 2x2 poolings: moving the input by 4 px moves the features by 1

    def __init__(self, num_classes=5, in_channels=3, window=32, widths=(16, 32), hidden=128,
                 mean=None, std=None):
        super().__init__()
        side = ((window - 4) // 2 - 4) // 2
        if side < 1 or (window - 4) % 2 or ((window - 4) // 2 - 4) % 2:
            raise ValueError(f"WindowClassifier: window must be a multiple of 4 and at least "
                             f"16 (so both poolings divide evenly), got {window!r}")
        self.num_classes, self.window = int(num_classes), int(window)
        self.feature_shape = (widths[1], side, side)
        self.register_buffer("mean", np.asarray(
            np.zeros(in_channels) if mean is None else mean, np.float32).reshape(1, -1, 1, 1))
        self.register_buffer("std", np.asarray(
            np.ones(in_channels) if std is None else std, np.float32).reshape(1, -1, 1, 1))
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(widths[0], widths[1], 5), nn.ReLU(), nn.MaxPool2d(2),
        )
        flat = widths[1] * side * side
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, num_classes + 1),
        )
        self.regressor = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, 64), nn.ReLU(),
            nn.Linear(64, 4),
        )

    def normalize(self, x):
        """(x − mean) / std per channel. Resizing and cropping commute with it (they take
        weighted means with weights summing to 1), so it can run before or after them."""
        return (x - self.mean) / self.std

    def forward(self, x):
        """(N, 3, window, window) crops -> (N, C + 1) class logits, background first."""
        return self.classifier(self.features(self.normalize(x)))

    def box_offsets(self, x):
        """(N, 3, window, window) crops -> (N, 4) predicted object-box offsets (see
        overfeat.encode_offsets)."""
        return self.regressor(self.features(self.normalize(x)))


# ---- windows ---------------------------------------------------------------------------------
def window_scales(height, width, window_sizes, window=32):
    """For each window size w, the image size (RH, RW) = (round(H·window/w), round(W·window/w))
    at which the classifier's ``window``-pixel input covers w x w pixels of the original
    image. Sizes whose resized image would be smaller than one window are left out.

    Returns a list of (RH, RW). A window then covers window·H/RH x window·W/RW original
    pixels: w itself, up to the rounding of RH and RW.
    """
    scales = []
    for w in window_sizes:
        rh, rw = int(round(height * window / w)), int(round(width * window / w))
        if rh >= window and rw >= window:
            scales.append((rh, rw))
    return scales


def sliding_windows(height, width, resized, window=32, stride=4):
    """The windows of one scale as (K, 4) float64 boxes in original pixels, row by row.

    In the resized image (RH, RW) = ``resized`` the windows are window x window squares at
    x = 0, stride, 2·stride, ... (as many as fit); mapped back, x1 = k·stride·W/RW and
    x2 = x1 + window·W/RW (likewise y). Row-major order: window (i, j) is row i·nw + j,
    the order of a score map's cells (overfeat.py relies on it).
    """
    rh, rw = resized
    sy, sx = height / rh, width / rw
    ys = np.arange((rh - window) // stride + 1) * stride * sy
    xs = np.arange((rw - window) // stride + 1) * stride * sx
    y1, x1 = np.meshgrid(ys, xs, indexing="ij")
    x1, y1 = x1.ravel(), y1.ravel()
    return np.stack([x1, y1, x1 + window * sx, y1 + window * sy], axis=1)


def crop_and_resize(image, boxes, size):
    """Crop each box out of ``image`` and resize it to size x size, bilinearly.

    Sample (i, j) of box b reads the image at y = y1 + (i + ½)·h/size − ½ and
    x = x1 + (j + ½)·w/size − ½, with F.interpolate's rules (align_corners=False: a
    coordinate below 0 reads row/column 0, the last one is repeated at the far edge). So
    the crop of a window equals the same window cut out of the image resized with
    F.interpolate, pixel for pixel: the naive detector and Overfeat see the same inputs.

    image (C, H, W), boxes (K, 4) xyxy -> (K, C, size, size) of the image's dtype.
    """
    c, h, w = image.shape
    b = np.asarray(boxes, np.float64)
    d = np.arange(size) + 0.5
    ys = np.maximum(b[:, 1:2] + d * ((b[:, 3:4] - b[:, 1:2]) / size) - 0.5, 0)    # (K, size)
    xs = np.maximum(b[:, 0:1] + d * ((b[:, 2:3] - b[:, 0:1]) / size) - 0.5, 0)
    y0 = np.minimum(np.floor(ys).astype(np.intp), h - 1)
    x0 = np.minimum(np.floor(xs).astype(np.intp), w - 1)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    ly = np.clip(ys - y0, 0, 1).astype(image.dtype)[:, None, :, None]             # (K,1,s,1)
    lx = np.clip(xs - x0, 0, 1).astype(image.dtype)[:, None, None, :]             # (K,1,1,s)
    planes = image.transpose(1, 2, 0)                                            # (H, W, C)

    def at(rows, cols):   # (K, s, s, C) -> (K, C, s, s)
        return planes[rows[:, :, None], cols[:, None, :]].transpose(0, 3, 1, 2)

    top = at(y0, x0) * (1 - lx) + at(y0, x1) * lx
    bottom = at(y1, x0) * (1 - lx) + at(y1, x1) * lx
    return top * (1 - ly) + bottom * ly


# ---- from window scores to detections ---------------------------------------------------------
def best_classes(boxes, probs, score_thresh):
    """Each window's best object class and its score, for the windows scoring >= thresh.

    boxes (K, 4), probs (K, C + 1) background first -> boxes (D, 4), scores (D,), labels (D,)
    in 1..C. (A window whose background score is highest still counts: its best object
    score is low, and the threshold and the ranking of the AP curve deal with it.)
    """
    labels = probs[:, 1:].argmax(axis=1) + 1
    scores = probs[np.arange(len(probs)), labels]
    keep = scores >= score_thresh
    return boxes[keep], scores[keep], labels[keep]


def select_detections(boxes, probs, score_thresh, nms_thresh, detections_per_img):
    """Each window's best object class, the confident ones, NMS within each class.

    boxes (K, 4), probs (K, C + 1) softmax scores with background first -> dict of
    ``boxes`` (D, 4) float32, ``scores`` (D,), ``labels`` (D,) int64 in 1..C, best first.
    """
    boxes, scores, labels = best_classes(boxes, probs, score_thresh)
    kept = batched_nms(boxes, scores, labels, nms_thresh).data[:detections_per_img]
    return {"boxes": Tensor(boxes[kept].astype(np.float32)), "scores": Tensor(scores[kept]),
            "labels": Tensor(labels[kept].astype(np.int64))}


def as_image_list(images, fn):
    """A list of (3, H, W) float ndarrays from a (N, 3, H, W) Tensor/ndarray or a list of
    (3, H, W) ones; a clear error naming ``fn`` otherwise."""
    if isinstance(images, (list, tuple)):
        items = list(images)
    else:
        try:
            batch = as_array(images)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{fn}: images must be an (N, 3, H, W) array or Tensor or a list "
                            f"of (3, H, W) ones, got {type(images).__name__} ({e})") from None
        if batch.ndim != 4:
            raise ValueError(f"{fn}: images must be (N, 3, H, W), got shape {batch.shape}")
        items = list(batch)
    out = []
    for i, image in enumerate(items):
        a = as_array(image)
        if a.ndim != 3 or a.shape[0] != 3 or a.dtype.kind != "f":
            raise ValueError(f"{fn}: images[{i}] must be a (3, H, W) float image, got shape "
                             f"{a.shape} and dtype {a.dtype}")
        out.append(a)
    return out


class SlidingWindowDetector(nn.Module):
    """The naive detector: every window cropped, resized and classified on its own.

    Parameters
    ----------
    classifier : WindowClassifier (trained)
    window_sizes : window sides in pixels of the input images (see ``window_scales``)
    stride : step between windows in pixels of the classifier's input; 4 (the classifier's
        total stride) gives exactly the windows of Overfeat's score map, w/8 apart
    score_thresh : keep windows whose best object score p_c (softmax) is at least this
    nms_thresh : IoU above which NMS suppresses a lower-scoring box of the same class
    detections_per_img : keep at most this many, best first
    batch_size : windows per forward pass (memory: ~0.25 MB per window, most of it the first
        convolution's unfolded input)

    ``model(images)`` (eval mode, no grad) -> one dict per image with ``boxes`` (D, 4) xyxy,
    ``scores`` (D,) and ``labels`` (D,) in 1..C, as torchvision's detectors.
    """

    def __init__(self, classifier, window_sizes=WINDOW_SIZES, stride=4, score_thresh=0.05,
                 nms_thresh=0.3, detections_per_img=100, batch_size=256):
        super().__init__()
        if not isinstance(classifier, WindowClassifier):
            raise TypeError(f"SlidingWindowDetector: classifier must be a WindowClassifier, "
                            f"got {type(classifier).__name__}")
        if not (isinstance(stride, int) and stride > 0):
            raise ValueError(f"SlidingWindowDetector: stride must be a positive int, got "
                             f"{stride!r}")
        self.classifier = classifier
        self.window_sizes, self.stride = tuple(window_sizes), stride
        self.score_thresh, self.nms_thresh = score_thresh, nms_thresh
        self.detections_per_img, self.batch_size = detections_per_img, batch_size

    def windows(self, height, width):
        """Every window of every size over an image of that size: (K, 4) boxes (none when
        every window size gives a resized image smaller than the classifier's input)."""
        win = self.classifier.window
        scales = window_scales(height, width, self.window_sizes, win)
        return np.concatenate([sliding_windows(height, width, r, win, self.stride)
                               for r in scales] + [np.zeros((0, 4))])

    def score_windows(self, image):
        """image (3, H, W) -> (windows (K, 4), softmax scores (K, C + 1))."""
        boxes = self.windows(*image.shape[1:])
        probs = [np.zeros((0, self.classifier.num_classes + 1), np.float32)]
        with no_grad():
            for start in range(0, len(boxes), self.batch_size):
                crops = crop_and_resize(image, boxes[start:start + self.batch_size],
                                        self.classifier.window)
                probs.append(F.softmax(self.classifier(Tensor(crops)), dim=1).data)
        return boxes, np.concatenate(probs)

    def forward(self, images):
        self.classifier.eval()
        out = []
        for image in as_image_list(images, "SlidingWindowDetector"):
            boxes, probs = self.score_windows(image)
            out.append(select_detections(boxes, probs, self.score_thresh, self.nms_thresh,
                                         self.detections_per_img))
        return out
