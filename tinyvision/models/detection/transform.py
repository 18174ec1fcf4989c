"""What every detector of this package does before and after its network, written once.

torchvision's detectors share a ``GeneralizedRCNNTransform`` (normalise, resize, batch) and
the same output format; here the images of ShapesScenes already share one size, so the
transform is the per-channel standardisation and the checks of the calling convention:

    model.train(); losses = model(images, targets)   # dict of named 0-d Tensors
    model.eval();  detections = model(images)        # one dict per image:
        {"boxes": (D, 4) float32 xyxy pixels, "scores": (D,) float32, "labels": (D,) int64}

images: an (N, 3, H, W) array or Tensor, or a list of (3, H, W) arrays of one size; targets:
one dict per image with "boxes" (M, 4) xyxy pixels and "labels" (M,) in 1..C (0 is the
background wherever a detector has one).
"""
import numpy as np

from ... import nn
from ...tensor import Tensor, as_array
from ..sliding_window import as_image_list


class DetectionTransform(nn.Module):
    """Per-channel standardisation x' = (x − mean) / std, with mean and std as buffers (saved
    in checkpoints), and the calling convention's checks: ``prepare(images, targets)``
    returns (x, targets) with x an (N, 3, H, W) float32 Tensor and targets as NumPy
    (boxes (M, 4) float32, labels (M,) int64) dicts, or None in eval mode."""

    def __init__(self, mean=None, std=None, name="detector"):
        super().__init__()
        self.name = name
        self.register_buffer("mean", np.asarray(np.zeros(3) if mean is None else mean,
                                                np.float32).reshape(1, 3, 1, 1))
        self.register_buffer("std", np.asarray(np.ones(3) if std is None else std,
                                               np.float32).reshape(1, 3, 1, 1))

    def prepare(self, images, targets=None, training=False):
        items = as_image_list(images, self.name)
        sizes = {a.shape[1:] for a in items}
        if len(sizes) != 1:
            raise ValueError(f"{self.name}: images must all have one size, got {sorted(sizes)}")
        batch = np.stack(items).astype(np.float32)
        x = Tensor((batch - self.mean.data) / self.std.data)
        if not training:
            return x, None
        return x, check_targets(targets, len(items), self.name)


def check_targets(targets, n, name):
    """The targets of ``n`` images as NumPy dicts (boxes (M, 4) float32, labels (M,) int64),
    or a clear error naming ``name``."""
    if targets is None:
        raise ValueError(f"{name}: in train mode the model needs targets (a list of dicts with "
                         f"boxes and labels); call model.eval() to detect")
    if not isinstance(targets, (list, tuple)) or len(targets) != n:
        got = f"{type(targets).__name__} of length {len(targets)}" if isinstance(
            targets, (list, tuple)) else type(targets).__name__
        raise ValueError(f"{name}: targets must be a list of {n} dicts (one per image), got "
                         f"{got}")
    out = []
    for i, t in enumerate(targets):
        if not isinstance(t, dict) or "boxes" not in t or "labels" not in t:
            raise ValueError(f"{name}: targets[{i}] must be a dict with 'boxes' and 'labels', "
                             f"got {t!r:.80}")
        boxes = np.asarray(as_array(t["boxes"]), np.float32).reshape(-1, 4)
        labels = np.asarray(as_array(t["labels"])).reshape(-1).astype(np.int64)
        if len(boxes) != len(labels):
            raise ValueError(f"{name}: targets[{i}] has {len(boxes)} boxes and {len(labels)} "
                             f"labels")
        bad = ~np.all(boxes[:, 2:] > boxes[:, :2], axis=1)
        if bad.any():
            raise ValueError(f"{name}: targets[{i}]['boxes'] must be (x1, y1, x2, y2) with "
                             f"x2 > x1 and y2 > y1, got {boxes[bad][0].tolist()}")
        out.append({**t, "boxes": boxes, "labels": labels})
    return out


def detections(boxes, scores, labels):
    """One image's output dict (the calling convention) from NumPy arrays."""
    return {"boxes": Tensor(np.asarray(boxes, np.float32).reshape(-1, 4)),
            "scores": Tensor(np.asarray(scores, np.float32).reshape(-1)),
            "labels": Tensor(np.asarray(labels, np.int64).reshape(-1))}
