"""Anchors (default boxes, priors): the fixed boxes a detector scores and refines.

Three ways of laying them out, each from its own source:

- ``AnchorGenerator``: Faster R-CNN's anchors [Ren15] as torchvision builds them: at every
  cell of each feature level, one box per (size, aspect ratio) pair, in pixels.
- ``multibox_prior``: the lectures' (x, y, s, r) parameterisation [D2L, §14.4]: at every
  cell, n + m − 1 boxes of width w·s·√r and height h·s/√r.
- ``DefaultBoxes``: SSD's default boxes [Liu16, §2.2]: one scale per level from a linear
  schedule, several aspect ratios, and one extra box between neighbouring scales.

Everything here is a constant of the model's geometry: plain NumPy, returned as float32
Tensors.

References
----------
[Ren15] S. Ren, K. He, R. Girshick, J. Sun, "Faster R-CNN: Towards Real-Time Object Detection
    with Region Proposal Networks", NeurIPS 2015.
[D2L] A. Zhang, Z. Lipton, M. Li, A. Smola, "Dive into Deep Learning", §14.4 Anchor Boxes.
[Liu16] W. Liu et al., "SSD: Single Shot MultiBox Detector", ECCV 2016.
"""
import numpy as np

from .boxes import as_tensor


def _positive_numbers(values, fn, name):
    """``values`` as a 1-D float64 array of positive finite numbers."""
    try:
        a = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: {name} must be a sequence of numbers, got {values!r}") from None
    if a.size == 0 or not (np.isfinite(a) & (a > 0)).all():
        raise ValueError(f"{fn}: {name} must be non-empty positive numbers, got {values!r}")
    return a


def _hw(shape, fn, name):
    """(H, W) from an (H, W) pair or the last two numbers of a feature map's shape."""
    shape = getattr(shape, "shape", shape)
    try:
        H, W = (int(s) for s in tuple(shape)[-2:])
        ok = len(tuple(shape)) >= 2 and H > 0 and W > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{fn}: {name} must be (H, W) with H, W ≥ 1 (or a feature map's shape "
                         f"ending in H, W), got {shape!r}")
    return H, W


def _levels(feature_shapes, count, fn):
    if isinstance(feature_shapes, tuple) and len(feature_shapes) == 2 and \
            all(isinstance(s, (int, np.integer)) for s in feature_shapes):
        feature_shapes = [feature_shapes]  # one level given as a bare (H, W)
    shapes = [_hw(s, fn, f"feature_shapes[{i}]") for i, s in enumerate(feature_shapes)]
    if len(shapes) != count:
        raise ValueError(f"{fn}: this generator has {count} levels, got {len(shapes)} "
                         "feature shapes")
    return shapes


def _grid(H, W):
    """Row-major cell indices of an H×W grid: x (H·W,) and y (H·W,)."""
    y, x = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    return x.reshape(-1), y.reshape(-1)


class AnchorGenerator:
    """Faster R-CNN anchors over one or more feature levels, as torchvision's.

    For level l with sizes S_l and aspect ratios R_l (ratio = height / width), the cell
    anchors are the |S_l|·|R_l| boxes centred at 0 with

        h = s·√r,   w = s / √r,   box = round((−w/2, −h/2, w/2, h/2))

    (ratios outer, sizes inner, rounded half to even as torchvision). They are then shifted
    to every cell of the level's feature map: cell (i, j) adds (j·stride_x, i·stride_y) with
    stride = image size // feature size, so a cell's anchors are centred on its left-top
    corner pixel, as in torchvision.

    Parameters
    ----------
    sizes : one tuple of sizes (pixels) per level, e.g. ((32,), (64,), (128,)) for an FPN;
        a flat tuple (32, 64, 128) means one size per level, as in torchvision.
    aspect_ratios : one tuple of height/width ratios per level, or one tuple for all levels.

    Call ``generator(image_size, feature_shapes)`` with image_size = (H, W) of the (padded)
    input batch and one (H_l, W_l) per level (a feature map's shape works too). It returns a
    list with one float32 Tensor (H_l·W_l·A_l, 4) of xyxy anchors per level, ordered by cell
    (row-major) then by cell anchor, which is the order of a head's output
    (N, A·k, H, W) -> permute(0, 2, 3, 1) -> (N, H·W·A, k). Concatenate the levels with
    ``tv.cat`` for the whole image.
    """

    def __init__(self, sizes=((32, 64, 128),), aspect_ratios=((0.5, 1.0, 2.0),)):
        if not isinstance(sizes, (tuple, list)) or not sizes:
            raise TypeError(f"AnchorGenerator: sizes must be a tuple of tuples, got {sizes!r}")
        if not isinstance(sizes[0], (tuple, list)):
            sizes = tuple((s,) for s in sizes)
        if not isinstance(aspect_ratios, (tuple, list)) or not aspect_ratios:
            raise TypeError(f"AnchorGenerator: aspect_ratios must be a tuple of tuples, got "
                            f"{aspect_ratios!r}")
        if not isinstance(aspect_ratios[0], (tuple, list)):
            aspect_ratios = (tuple(aspect_ratios),) * len(sizes)
        if len(sizes) != len(aspect_ratios):
            raise ValueError(f"AnchorGenerator: sizes and aspect_ratios need one entry per level, "
                             f"got {len(sizes)} and {len(aspect_ratios)}")
        self.sizes, self.aspect_ratios = tuple(sizes), tuple(aspect_ratios)
        self.cell_anchors = [
            self.generate_anchors(_positive_numbers(s, "AnchorGenerator", f"sizes[{i}]"),
                                  _positive_numbers(r, "AnchorGenerator", f"aspect_ratios[{i}]"))
            for i, (s, r) in enumerate(zip(self.sizes, self.aspect_ratios))]

    @staticmethod
    def generate_anchors(scales, aspect_ratios):
        """(A, 4) float32 cell anchors centred at 0, A = len(aspect_ratios)·len(scales)."""
        # float32 throughout, as torchvision, so the rounding below lands on the same pixels.
        scales = np.asarray(scales, np.float32)
        h_ratios = np.sqrt(np.asarray(aspect_ratios, np.float32))
        w_ratios = 1 / h_ratios
        ws = (w_ratios[:, None] * scales[None, :]).reshape(-1)   # (A,) ratios outer, sizes inner
        hs = (h_ratios[:, None] * scales[None, :]).reshape(-1)
        half = np.stack([-ws, -hs, ws, hs], axis=1) / 2
        return np.round(half)

    def num_anchors_per_location(self):
        """A_l for each level: len(sizes[l]) · len(aspect_ratios[l])."""
        return [len(s) * len(r) for s, r in zip(self.sizes, self.aspect_ratios)]

    def __call__(self, image_size, feature_shapes):
        H, W = _hw(image_size, "AnchorGenerator", "image_size")
        out = []
        for (h, w), cell in zip(_levels(feature_shapes, len(self.cell_anchors), "AnchorGenerator"),
                                self.cell_anchors):
            stride_y, stride_x = H // h, W // w
            x, y = _grid(h, w)
            shifts = np.stack([x * stride_x, y * stride_y] * 2, axis=1).astype(np.float32)
            anchors = shifts[:, None, :] + cell[None, :, :]        # (H·W, A, 4)
            out.append(as_tensor(anchors.reshape(-1, 4)))
        return out


def multibox_prior(feature_hw, sizes, ratios, image_hw=None, square=False):
    """Anchors of Dive into Deep Learning [D2L, §14.4], centred on every feature-map cell.

    With sizes s_1..s_n ∈ (0, 1] and ratios r_1..r_m (width/height), each cell gets the
    n + m − 1 anchors (s_1, r_1), (s_2, r_1), ..., (s_n, r_1), (s_1, r_2), ..., (s_1, r_m) —
    the pairs that contain s_1 or r_1, since all n·m would be too many — each of

        width  w·s·√r,   height  h·s/√r

    for an image of height h and width w, centred at ((j + 0.5)/W, (i + 0.5)/H) of the image
    for cell (i, j) of an H×W feature map ("+ 0.5": the centre of a cell of size 1).

    Parameters
    ----------
    feature_hw : (H, W) of the feature map (or its shape)
    sizes : n scales s, fractions of the image
    ratios : m ratios r = width / height (at s·√r and s/√r)
    image_hw : (h, w) of the image; None returns normalised coordinates (as D2L, multiply by
        (w, h, w, h) for pixels); given, the anchors are in pixels.
    square : NOTE: D2L's code (not its text) multiplies the width by h/w, so that r = 1
        anchors are square in pixels (width h·s·√r); True reproduces it, and then the printed
        numbers of the book.

    Returns
    -------
    Tensor (H·W·(n + m − 1), 4) float32 xyxy, ordered by cell (row-major), then anchor
    (D2L returns the same with a leading batch axis of 1).
    """
    H, W = _hw(feature_hw, "multibox_prior", "feature_hw")
    s = _positive_numbers(sizes, "multibox_prior", "sizes")
    r = _positive_numbers(ratios, "multibox_prior", "ratios")
    img_h, img_w = (H, W) if image_hw is None else _hw(image_hw, "multibox_prior", "image_hw")
    # The n + m − 1 (size, ratio) pairs: every size with r_1, then s_1 with r_2..r_m.
    pair_s = np.concatenate([s, np.full(len(r) - 1, s[0])])
    pair_r = np.concatenate([np.full(len(s), r[0]), r[1:]])
    w = pair_s * np.sqrt(pair_r)                            # normalised width  s·√r
    h = pair_s / np.sqrt(pair_r)                            # normalised height s/√r
    if square:
        w = w * img_h / img_w
    x, y = _grid(H, W)
    cx, cy = (x + 0.5) / W, (y + 0.5) / H                   # (H·W,) cell centres in [0, 1]
    centres = np.stack([cx, cy, cx, cy], axis=1)            # (H·W, 4)
    half = np.stack([-w, -h, w, h], axis=1) / 2             # (A, 4)
    anchors = (centres[:, None, :] + half[None, :, :]).reshape(-1, 4)
    if image_hw is not None:
        anchors = anchors * np.array([img_w, img_h, img_w, img_h])
    return as_tensor(anchors.astype(np.float32))


class DefaultBoxes:
    """SSD's default boxes [Liu16, §2.2 "Choosing scales and aspect ratios"].

    For m feature levels, level k = 1..m has the scale

        s_k = s_min + (s_max − s_min)·(k − 1)/(m − 1)

    and at each cell the boxes (widths and heights as fractions of the image)

        (s_k, s_k),  (s'_k, s'_k) with s'_k = √(s_k·s_{k+1}),
        (s_k·√a, s_k/√a) and (s_k/√a, s_k·√a) for every a in aspect_ratios[k],

    centred at ((j + 0.5)/|f_k|, (i + 0.5)/|f_k|), so A_k = 2 + 2·len(aspect_ratios[k]).
    With the defaults and SSD300's maps (38, 19, 10, 5, 3, 1) that is 8,732 boxes.

    Parameters
    ----------
    aspect_ratios : per level, the ratios a > 1 (each also adds 1/a)
    s_min, s_max : the paper's 0.2 and 0.9
    scales : optional m + 1 explicit scales (torchvision's SSD300 uses 0.07, 0.15, ... 1.05);
        the default schedule appends s_{m+1} = 1, as torchvision does (the paper leaves it open)
    steps : optional per-level strides in pixels; the centres are then (j + 0.5)·step / w
        (SSD300's 8, 16, 32, 64, 100, 300); needs ``image_size`` in the call
    clip : clamp every width and height to [0, 1] (torchvision's ``clip``)

    Call ``default_boxes(feature_shapes, image_size=None)``: with image_size None it returns
    the paper's boxes, a float32 Tensor (Σ_k H_k·W_k·A_k, 4) of normalised (cx, cy, w, h);
    with image_size = (H, W) the same boxes as xyxy pixels, ready for ``box_iou`` and
    ``BoxCoder``. Order: level, then cell (row-major), then box.
    """

    def __init__(self, aspect_ratios=((2,), (2, 3), (2, 3), (2, 3), (2,), (2,)), s_min=0.2,
                 s_max=0.9, scales=None, steps=None, clip=True):
        if not isinstance(aspect_ratios, (tuple, list)) or not aspect_ratios:
            raise TypeError(f"DefaultBoxes: aspect_ratios must be one tuple per level, got "
                            f"{aspect_ratios!r}")
        m = len(aspect_ratios)
        if scales is None:
            if not 0 < s_min <= s_max:
                raise ValueError(f"DefaultBoxes: need 0 < s_min ≤ s_max, got {s_min}, {s_max}")
            scales = ([s_min + (s_max - s_min) * k / (m - 1) for k in range(m)] + [1.0]
                      if m > 1 else [s_min, s_max])
        scales = _positive_numbers(scales, "DefaultBoxes", "scales")
        if len(scales) != m + 1:
            raise ValueError(f"DefaultBoxes: scales needs m + 1 = {m + 1} values (one per level "
                             f"and s_(m+1)), got {len(scales)}")
        if steps is not None and len(steps) != m:
            raise ValueError(f"DefaultBoxes: steps needs one value per level ({m}), got "
                             f"{len(steps)}")
        self.aspect_ratios, self.scales, self.steps, self.clip = aspect_ratios, scales, steps, clip
        self.wh = [self._wh_pairs(k) for k in range(m)]

    def _wh_pairs(self, k):
        """(A_k, 2) widths and heights of level k's boxes."""
        s, s_next = self.scales[k], self.scales[k + 1]
        pairs = [(s, s), (np.sqrt(s * s_next),) * 2]
        for a in _positive_numbers(self.aspect_ratios[k], "DefaultBoxes", f"aspect_ratios[{k}]"):
            pairs += [(s * np.sqrt(a), s / np.sqrt(a)), (s / np.sqrt(a), s * np.sqrt(a))]
        wh = np.array(pairs)
        return np.clip(wh, 0, 1) if self.clip else wh

    def num_anchors_per_location(self):
        """A_k for each level: 2 + 2·len(aspect_ratios[k])."""
        return [len(wh) for wh in self.wh]

    def __call__(self, feature_shapes, image_size=None):
        if self.steps is not None and image_size is None:
            raise ValueError("DefaultBoxes: with steps, the call needs image_size = (H, W)")
        img_h, img_w = (None, None) if image_size is None else _hw(image_size, "DefaultBoxes",
                                                                   "image_size")
        levels = []
        for k, (h, w) in enumerate(_levels(feature_shapes, len(self.wh), "DefaultBoxes")):
            # How many cells span the image: |f_k|, or image size / step.
            step = None if self.steps is None else self.steps[k]
            fy, fx = (h, w) if step is None else (img_h / step, img_w / step)
            x, y = _grid(h, w)
            centres = np.stack([(x + 0.5) / fx, (y + 0.5) / fy], axis=1)   # (H·W, 2)
            n, a = len(centres), len(self.wh[k])
            levels.append(np.concatenate([np.repeat(centres, a, axis=0),
                                          np.tile(self.wh[k], (n, 1))], axis=1))
        boxes = np.concatenate(levels)                                       # cxcywh in [0, 1]
        if image_size is not None:
            scale = np.array([img_w, img_h])
            boxes = np.concatenate([(boxes[:, :2] - boxes[:, 2:] / 2) * scale,
                                    (boxes[:, :2] + boxes[:, 2:] / 2) * scale], axis=1)
        return as_tensor(boxes.astype(np.float32))
