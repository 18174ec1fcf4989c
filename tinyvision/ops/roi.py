"""RoI pooling and RoI align (as torchvision.ops): a fixed-size feature for every box.

The second stage of a two-stage detector looks at every proposal through the same small
window: it cuts the box's region out of a feature map and resamples it to OH x OW cells,
whatever the box's size.  A box (x1, y1, x2, y2) is in image pixels; spatial_scale s (the
map's size over the image's, e.g. 1/16) maps it onto the map.

RoI pooling (Fast R-CNN [Girshick15, §2.1]) snaps the box to whole map pixels,
x1' = round(x1·s), ..., w = x2' − x1' + 1, splits it into OH x OW bins of about
h/OH x w/OW pixels (rows [floor(i·h/OH), ceil((i+1)·h/OH)) + y1') and max-pools each:

    y[k, c, i, j] = max over bin (i, j) of x[b_k, c]                 (an empty bin gives 0)

RoI align (Mask R-CNN [He17, §3]) drops the snapping, whose rounding misaligns the
features with the box: bin (i, j) averages a gh x gw grid of bilinear samples,

    y[k, c, i, j] = 1/(gh·gw) Σ_{a<gh, b<gw} x[b_k, c](y1·s + (i + (a + ½)/gh)·h/OH,
                                                       x1·s + (j + (b + ½)/gw)·w/OW)

with h = (y2 − y1)·s (at least 1 unless aligned), gh = sampling_ratio, or ceil(h/OH) when
sampling_ratio <= 0; aligned=True shifts the box by half a pixel first (x1·s − ½), so that
pixel i covers [i − ½, i + ½] and a box's edges sit on pixel edges (Detectron2's fix; the
default False is the original).  A sample below −1 or beyond the map reads 0; within one
pixel of the border it reads the border pixel.

Worked example: a 4x4 map, box (0, 0, 4, 4), output 2x2, sampling_ratio 1: bins are 2x2
pixels and bin (0, 0) reads the single sample (1, 1), i.e. x[1, 1]; with aligned=True the
box spans [−½, 3½], the sample sits at (½, ½): the mean of x[0:2, 0:2].  RoI pooling of
the same box: w = 5 pixels (both ends count), bins of 2.5: rows [0, 3) and [2, 5) ∩ [0, 4).

The numerical rules in full (rounding, clamping, empty bins) and the hot loops are in
kernels/roi/ (``kernels.get("roi", x)`` picks the implementation).  Gradients flow to the
input, not to the boxes (as in torchvision): RoI pooling hands each output's gradient to
the pixel that won its bin; RoI align spreads it with the bilinear weights of its samples.

References
----------
[Girshick15] R. Girshick, "Fast R-CNN", ICCV 2015.
[He17] K. He, G. Gkioxari, P. Dollár, R. Girshick, "Mask R-CNN", ICCV 2017.
[Lin17] T.-Y. Lin et al., "Feature Pyramid Networks for Object Detection", CVPR 2017.
"""
import math
import numbers

import numpy as np

from .. import functional as F
from .. import kernels
from ..autograd.function import Function
from ..backend import get_array_module
from ..functional.pooling import _pair
from ..kernels.roi.common import check_rois
from ..nn.module import Module
from ..tensor import Tensor, as_array
from .boxes import box_area


class RoIPoolFn(Function):
    @staticmethod
    def forward(ctx, x, rois, output_size, spatial_scale):
        """x (N, C, H, W), rois (K, 5) -> y (K, C, OH, OW), the max of every bin."""
        ctx.kernel, ctx.in_shape = kernels.get("roi", x), x.shape
        y, argmax = ctx.kernel.roi_pool_forward(x, rois, *output_size, spatial_scale)
        ctx.save_for_backward(rois, argmax)  # argmax int32: the flat h*W + w of each max
        return y

    @staticmethod
    def backward(ctx, gy):
        """y[k, c, i, j] = x[b_k, c].flat[argmax[k, c, i, j]], so that pixel gets dL/dy[k, c,
        i, j] (summed over the bins it won, of every RoI) and every other pixel 0."""
        rois, argmax = ctx.saved_tensors
        N, C, H, W = ctx.in_shape
        return ctx.kernel.roi_pool_backward(gy, rois, argmax, N, H, W), None, None, None


class RoIAlignFn(Function):
    @staticmethod
    def forward(ctx, x, rois, output_size, spatial_scale, sampling_ratio, aligned):
        """x (N, C, H, W), rois (K, 5) -> y (K, C, OH, OW), each bin's mean bilinear sample."""
        ctx.kernel, ctx.in_shape = kernels.get("roi", x), x.shape
        ctx.args = spatial_scale, sampling_ratio, aligned
        ctx.save_for_backward(rois)
        return ctx.kernel.roi_align_forward(x, rois, *output_size, *ctx.args)

    @staticmethod
    def backward(ctx, gy):
        """Each sample is Σ_t w_t·x[p_t] over its four pixels p_t, and y is a bin's mean of
        gh·gw samples, so dL/dx[p] = Σ over samples reading p of w_t · dL/dy / (gh·gw)."""
        (rois,) = ctx.saved_tensors
        N, C, H, W = ctx.in_shape
        gx = ctx.kernel.roi_align_backward(gy, rois, N, H, W, *ctx.args)
        return gx, None, None, None, None, None


# ---- public functions -------------------------------------------------------------------------
def roi_pool(input, boxes, output_size, spatial_scale=1.0):
    """Max-pool every box's region of ``input`` into output_size bins (Fast R-CNN's RoI pooling).

    Parameters
    ----------
    input : (N, C, H, W) float32 or float64 Tensor or ndarray.
    boxes : (K, 5) rows (batch_index, x1, y1, x2, y2), or a list of N (K_n, 4) box sets,
        one per image; in image pixels.
    output_size : int or (OH, OW).
    spatial_scale : float, the map's size over the image's (1/16 for a stride-16 map).

    Returns a (K, C, OH, OW) Tensor, differentiable with respect to ``input``.
    """
    x, rois, size, scale = _arguments("roi_pool", input, boxes, output_size, spatial_scale)
    return RoIPoolFn.apply(x, rois, size, scale)


def roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """Average bilinear samples of every box's region of ``input`` in output_size bins
    (Mask R-CNN's RoI align).

    Parameters as roi_pool's, and
    sampling_ratio : int, samples per bin along each axis; <= 0: ceil(box size / output size).
    aligned : bool, shift the box by half a pixel (True: the corrected version).

    Returns a (K, C, OH, OW) Tensor, differentiable with respect to ``input``.
    """
    x, rois, size, scale = _arguments("roi_align", input, boxes, output_size, spatial_scale)
    if isinstance(sampling_ratio, bool) or not isinstance(sampling_ratio, numbers.Integral):
        raise TypeError("roi_align: sampling_ratio must be an int (<= 0: adaptive, "
                        f"ceil(box size / output size) samples per bin), got {sampling_ratio!r}")
    if not isinstance(aligned, (bool, np.bool_)):
        raise TypeError(f"roi_align: aligned must be a bool, got {aligned!r}")
    return RoIAlignFn.apply(x, rois, size, scale, int(sampling_ratio), bool(aligned))


def _arguments(fn, input, boxes, output_size, spatial_scale):
    """(x Tensor, rois (K, 5) array of x's dtype, (OH, OW), scale), each checked."""
    x = input if isinstance(input, Tensor) else Tensor(as_array(input))
    if x.ndim != 4 or 0 in x.shape:
        raise ValueError(f"{fn}: input must be 4-D (N, C, H, W) with no empty axis, got shape "
                         f"{tuple(x.shape)}")
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{fn}: input must be float32 or float64, got {x.dtype}")
    if isinstance(spatial_scale, bool) or not isinstance(spatial_scale, numbers.Real) or \
            not 0 < spatial_scale < math.inf:
        raise ValueError(f"{fn}: spatial_scale must be a positive finite number (the map's size "
                         f"over the image's), got {spatial_scale!r}")
    size = _pair(output_size, "output_size", fn, 1)
    rois = _rois(fn, boxes, x)
    check_rois(fn, rois, x.shape[0], x.dtype, float(spatial_scale), name="boxes")
    return x, rois, size, float(spatial_scale)


def _rois(fn, boxes, x):
    """boxes as a C-contiguous (K, 5) array of x's dtype, on x's device."""
    xp = get_array_module(x.data)

    def array(b, name, columns):
        try:
            a = as_array(b.data if isinstance(b, Tensor) else b, dtype=x.dtype)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{fn}: {name} must be numbers, got {type(b).__name__} ({e})") from None
        if a.ndim != 2 or a.shape[1] != columns:
            raise ValueError(f"{fn}: boxes must be a (K, 5) array or Tensor of rows (batch_index, "
                             f"x1, y1, x2, y2), or a list of (K_n, 4) box sets, one per image; "
                             f"{name} has shape {tuple(a.shape)}")
        a = xp.asarray(a)  # on the input's device
        if not bool(xp.isfinite(a).all()):
            raise ValueError(f"{fn}: {name} contains NaN or inf")
        return a

    if not isinstance(boxes, (list, tuple)):
        return xp.ascontiguousarray(array(boxes, "boxes", 5))
    if len(boxes) > x.shape[0]:
        raise ValueError(f"{fn}: boxes is a list of {len(boxes)} box sets, one per image, but "
                         f"input holds {x.shape[0]} images")
    sets = [array(b, f"boxes[{n}]", 4) for n, b in enumerate(boxes)]
    rois = [xp.concatenate([xp.full((len(b), 1), n, x.dtype), b], axis=1)
            for n, b in enumerate(sets)]
    return xp.ascontiguousarray(xp.concatenate(rois)) if rois else xp.zeros((0, 5), x.dtype)


# ---- layers -----------------------------------------------------------------------------------
class RoIPool(Module):
    """roi_pool as a layer: ``RoIPool(output_size, spatial_scale)(input, boxes)``."""

    def __init__(self, output_size, spatial_scale):
        super().__init__()
        self.output_size, self.spatial_scale = output_size, spatial_scale

    def forward(self, input, rois):
        return roi_pool(input, rois, self.output_size, self.spatial_scale)

    def extra_repr(self):
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale}"


class RoIAlign(Module):
    """roi_align as a layer: ``RoIAlign(output_size, spatial_scale, sampling_ratio)(x, boxes)``."""

    def __init__(self, output_size, spatial_scale, sampling_ratio, aligned=False):
        super().__init__()
        self.output_size, self.spatial_scale = output_size, spatial_scale
        self.sampling_ratio, self.aligned = sampling_ratio, aligned

    def forward(self, input, rois):
        return roi_align(input, rois, self.output_size, self.spatial_scale,
                         self.sampling_ratio, self.aligned)

    def extra_repr(self):
        return (f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
                f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}")


class MultiScaleRoIAlign(Module):
    """RoI align over a feature pyramid: every box is pooled from the level that suits its
    size, by FPN's rule [Lin17, Eq. (1)] as torchvision applies it,

        k = floor(k0 + log2(√(w·h) / s0) + 1e-6),  clamped to the pyramid's levels,

    with s0 = canonical_scale (224, an ImageNet image) at level k0 = canonical_level (4).
    A map whose size is about 1/2^k of the (largest) image's is level k; its spatial_scale
    is 2^-k (the ratio of sizes, rounded to a power of two).

    Call ``pooler(features, boxes, image_shapes)``: features a dict name -> (N, C, H_k, W_k)
    map (only those in featmap_names are used, in the dict's order, finest first), boxes a
    list of N (K_n, 4) box sets in image pixels, image_shapes the N (H, W) image sizes.
    Returns (ΣK_n, C, OH, OW), the boxes in order.
    """

    def __init__(self, featmap_names, output_size, sampling_ratio, *, canonical_scale=224,
                 canonical_level=4):
        super().__init__()
        if isinstance(featmap_names, str) or not all(isinstance(n, str) for n in featmap_names):
            raise TypeError("MultiScaleRoIAlign: featmap_names must be a list of names (str), "
                            f"got {featmap_names!r}")
        self.featmap_names = list(featmap_names)
        self.output_size = _pair(output_size, "output_size", "MultiScaleRoIAlign", 1)
        self.sampling_ratio = sampling_ratio
        self.canonical_scale, self.canonical_level = canonical_scale, canonical_level

    def forward(self, x, boxes, image_shapes):
        fn = "MultiScaleRoIAlign"
        missing = [n for n in self.featmap_names if n not in x]
        if missing or not image_shapes:
            raise ValueError(f"{fn}: features must hold the maps {self.featmap_names} and "
                             f"image_shapes at least one (H, W); features has {list(x)}, "
                             f"image_shapes is {image_shapes!r}")
        maps = [v for k, v in x.items() if k in self.featmap_names]
        scales = [self.infer_scale(m.shape[-2:], image_shapes) for m in maps]
        if len(maps) == 1:
            return roi_align(maps[0], boxes, self.output_size, scales[0], self.sampling_ratio)
        levels = self.map_levels(boxes, scales)
        order = np.concatenate([np.flatnonzero(levels == k) for k in range(len(maps))])
        pooled = [roi_align(m, self._select(boxes, levels == k), self.output_size, scale,
                            self.sampling_ratio)
                  for k, (m, scale) in enumerate(zip(maps, scales))]
        return F.cat(pooled)[np.argsort(order)]  # back in the order of the boxes

    @staticmethod
    def infer_scale(feature_size, image_shapes):
        """2^round(log2(map size / image size)) along the height, the largest image's."""
        image_height = max(int(s[0]) for s in image_shapes)
        return 2.0 ** float(np.round(np.log2(np.float32(feature_size[0] / image_height))))

    def map_levels(self, boxes, scales):
        """The pyramid level (0 = the finest map) of every box, Eq. (1) of [Lin17]."""
        k_min, k_max = int(-math.log2(scales[0])), int(-math.log2(scales[-1]))
        sets = [box_area(b.data if isinstance(b, Tensor) else b).data for b in boxes]
        s = np.sqrt(np.concatenate(sets)) if sets else np.zeros(0, np.float32)
        k = np.floor(self.canonical_level + np.log2(s / self.canonical_scale) + s.dtype.type(1e-6))
        return np.clip(k, k_min, k_max).astype(np.int64) - k_min

    @staticmethod
    def _select(boxes, mask):
        """The boxes where mask holds, still one set per image, as (K, 5) rows."""
        counts = np.cumsum([0] + [len(b) for b in boxes])
        return [(b.data if isinstance(b, Tensor) else np.asarray(b))[mask[lo:hi]]
                for b, lo, hi in zip(boxes, counts[:-1], counts[1:])]

    def extra_repr(self):
        return (f"featmap_names={self.featmap_names}, output_size={self.output_size}, "
                f"sampling_ratio={self.sampling_ratio}")
