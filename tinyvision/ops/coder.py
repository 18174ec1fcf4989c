"""``BoxCoder``: boxes as offsets from reference boxes, the regression targets of R-CNN.

A detector does not regress a box's corners directly: it predicts how to move and rescale a
reference box P (an anchor or a proposal) into the ground truth G [Girshick14, App. C;
Ren15, Eq. (2)], with centre (x, y), width w and height h:

    t_x = w_x·(G_x − P_x) / P_w        t_w = w_w·log(G_w / P_w)
    t_y = w_y·(G_y − P_y) / P_h        t_h = w_h·log(G_h / P_h)

Dividing by the reference's size makes the offsets scale-invariant; the log makes growing
and shrinking symmetric. The weights (w_x, w_y, w_w, w_h) rescale the targets to unit-ish
variance: (1, 1, 1, 1) for an RPN, (10, 10, 5, 5) for Fast R-CNN's heads. SSD's "variances"
(0.1, 0.1, 0.2, 0.2) [Liu16] are the same thing: weights = 1 / variances = (10, 10, 5, 5).

References
----------
[Girshick14] R. Girshick et al., "Rich feature hierarchies for accurate object detection and
    semantic segmentation", CVPR 2014.
[Ren15] S. Ren et al., "Faster R-CNN", NeurIPS 2015.
[Liu16] W. Liu et al., "SSD: Single Shot MultiBox Detector", ECCV 2016.
"""
import math

import numpy as np

from .boxes import as_tensor, check_boxes, data, math_for
from ..autograd import is_grad_enabled
from ..tensor import Tensor, as_array


def _centre_size(b):
    """(cx, cy, w, h) columns of xyxy boxes (..., 4): each (...)."""
    w = b[..., 2] - b[..., 0]
    h = b[..., 3] - b[..., 1]
    return b[..., 0] + 0.5 * w, b[..., 1] + 0.5 * h, w, h


class BoxCoder:
    """Encode boxes as (t_x, t_y, t_w, t_h) offsets from reference boxes, and decode them back.

    Parameters
    ----------
    weights : (w_x, w_y, w_w, w_h), multiplied into the targets (see the module docstring)
    bbox_xform_clip : the largest t_w / w_w and t_h / w_h that ``decode`` exponentiates:
        log(1000/16) as torchvision, so a box grows at most 62.5 times its reference.

    Both methods take Tensors or arrays (Tensors that require grad keep the gradient flowing)
    and return Tensors; boxes are xyxy.
    """

    def __init__(self, weights=(1.0, 1.0, 1.0, 1.0), bbox_xform_clip=math.log(1000.0 / 16)):
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (4,) or not (np.isfinite(w) & (w > 0)).all():
            raise ValueError(f"BoxCoder: weights must be 4 positive numbers (w_x, w_y, w_w, w_h), "
                             f"got {weights!r}")
        if not isinstance(bbox_xform_clip, (int, float)) or not bbox_xform_clip > 0:
            raise ValueError(f"BoxCoder: bbox_xform_clip must be a positive number, got "
                             f"{bbox_xform_clip!r}")
        self.weights = tuple(float(x) for x in w)
        self.bbox_xform_clip = float(bbox_xform_clip)

    def encode(self, reference_boxes, proposals):
        """Targets that move each proposal onto its reference box, Eq. (2) of [Ren15].

        Parameters
        ----------
        reference_boxes : (N, 4) xyxy, the ground truth matched to each proposal (G)
        proposals : (N, 4) xyxy, the anchors or proposals (P); widths and heights > 0

        Returns
        -------
        Tensor (N, 4): (t_x, t_y, t_w, t_h) per row.
        """
        g = check_boxes(reference_boxes, "BoxCoder.encode", "reference_boxes", ordered=True)
        p = check_boxes(proposals, "BoxCoder.encode", "proposals", ordered=True)
        if data(g).shape != data(p).shape:
            raise ValueError(f"BoxCoder.encode: reference_boxes and proposals must be paired "
                             f"row by row, got shapes {data(g).shape} and {data(p).shape}")
        for name, b in (("reference_boxes", g), ("proposals", p)):
            _, _, w, h = _centre_size(data(b))
            if not ((w > 0) & (h > 0)).all():
                i = int(np.flatnonzero((w <= 0) | (h <= 0))[0])
                raise ValueError(f"BoxCoder.encode: {name}[{i}] is {data(b)[i].tolist()}, of zero "
                                 "width or height; the log-size targets need positive sizes")
        m = math_for(g, p)
        wx, wy, ww, wh = self.weights
        gx, gy, gw, gh = _centre_size(g)
        px, py, pw, ph = _centre_size(p)
        targets = [wx * (gx - px) / pw, wy * (gy - py) / ph,
                   ww * m.log(gw / pw), wh * m.log(gh / ph)]
        return as_tensor(m.stack(targets, 1))

    def decode(self, rel_codes, boxes):
        """Apply offsets to reference boxes: the inverse of ``encode``.

            G_x = P_w·t_x/w_x + P_x,    G_w = P_w·exp(min(t_w/w_w, bbox_xform_clip))

        and likewise for y and h; then back to corners.

        Parameters
        ----------
        rel_codes : (N, 4·K) offsets: one (t_x, t_y, t_w, t_h) per class for K classes
            (K = 1 for an RPN)
        boxes : (N, 4) xyxy reference boxes (anchors or proposals)

        Returns
        -------
        Tensor (N, 4·K) xyxy boxes, the layout of ``rel_codes`` (torchvision's
        ``decode_single``; reshape to (N, K, 4) for per-class boxes).

        NOTE: the exp is clamped: an untrained head can predict t_w = 50, and e^50 overflows
        float32 into inf boxes and NaN losses.
        """
        p = check_boxes(boxes, "BoxCoder.decode", "boxes")
        if isinstance(rel_codes, Tensor) and rel_codes.requires_grad and is_grad_enabled():
            codes = rel_codes
        else:
            codes = as_array(rel_codes)
            codes = codes if codes.dtype.kind == "f" else codes.astype(np.float32)
        shape = data(codes).shape
        if len(shape) != 2 or shape[1] % 4 or shape[1] == 0 or shape[0] != data(p).shape[0]:
            raise ValueError(f"BoxCoder.decode: rel_codes must be (N, 4·K) with N = "
                             f"{data(p).shape[0]} boxes, got shape {shape}")
        if not isinstance(p, Tensor):
            p = p.astype(data(codes).dtype, copy=False)  # computed in the codes' dtype
        m = math_for(codes, p)
        wx, wy, ww, wh = self.weights
        px, py, pw, ph = (c[:, None] for c in _centre_size(p))      # each (N, 1)
        dx, dy = codes[:, 0::4] / wx, codes[:, 1::4] / wy            # each (N, K)
        dw = m.clamp(codes[:, 2::4] / ww, max=self.bbox_xform_clip)
        dh = m.clamp(codes[:, 3::4] / wh, max=self.bbox_xform_clip)
        cx, cy = dx * pw + px, dy * ph + py
        half_w, half_h = 0.5 * m.exp(dw) * pw, 0.5 * m.exp(dh) * ph
        corners = m.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], 2)  # (N, K, 4)
        return as_tensor(corners.reshape(shape))
