"""Drawing results on images: boxes with captions, masks, and truth beside prediction.

Boxes are (x1, y1, x2, y2) in pixels (xyxy, tinyvision's box format), as
``torchvision.utils.draw_bounding_boxes``; masks are (K, H, W) as
``torchvision.utils.draw_segmentation_masks``. Images come in either layout (CHW float in
[0, 1] or HWC uint8, see ``tinyvision.viz.image``); every function returns a new (H, W, 3)
uint8 array and leaves its input as it was.
"""
import numpy as np
from PIL import Image, ImageDraw

from .colors import pick_colors, text_color
from .image import font, make_grid, save_png, text_size, to_array, to_rgb_uint8


def _per_box(values, k, name, fn):
    """``values`` as a length-``k`` 1-D array, or None."""
    if values is None:
        return None
    a = to_array(values)
    if a.ndim != 1 or len(a) != k:
        raise ValueError(f"{fn}: {name} must have one entry per box or mask ({k}), got shape "
                         f"{a.shape}")
    return a


def _check_boxes(boxes, fn):
    b = to_array(boxes).astype(np.float64)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"{fn}: boxes must be (K, 4) as (x1, y1, x2, y2) in pixels, got shape "
                         f"{b.shape}")
    if not np.isfinite(b).all():
        raise ValueError(f"{fn}: boxes hold NaN or inf values")
    bad = np.flatnonzero((b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1]))
    if bad.size:
        raise ValueError(f"{fn}: box {bad[0]} is {b[bad[0]].tolist()}, with x2 < x1 or y2 < y1; "
                         f"boxes must be (x1, y1, x2, y2), not (x, y, w, h)")
    return b


def _name(label, class_names, fn):
    if class_names is None:
        return str(label)
    if not 0 <= label < len(class_names):
        raise ValueError(f"{fn}: label {label} has no entry in class_names "
                         f"({len(class_names)} names; index 0 is background in detection)")
    return str(class_names[label])


def draw_boxes(image, boxes, labels=None, scores=None, class_names=None, colors=None, width=2):
    """Draw boxes with a caption ("name score") above each.

    Parameters
    ----------
    image : (C, H, W) float in [0, 1] or (H, W, C) uint8
    boxes : (K, 4) xyxy pixels
    labels : optional (K,) ints: class of each box; colours and captions follow it
    scores : optional (K,) floats, written with two decimals after the name
    class_names : optional list (or dict) mapping a label to its name, e.g.
        ``["background", "circle", "square"]``; without it the caption is the label number
    colors : None (a distinct palette colour per class, or per box without labels), one
        colour for all ('red', '#ff0000', (255, 0, 0)), or a list indexed by label
    width : line width in pixels

    Returns
    -------
    (H, W, 3) uint8
    """
    fn = "draw_boxes"
    img = Image.fromarray(to_rgb_uint8(image, fn))
    b = _check_boxes(boxes, fn)
    k = len(b)
    labels = _per_box(labels, k, "labels", fn)
    scores = _per_box(scores, k, "scores", fn)
    if labels is not None:
        labels = labels.astype(np.int64)
    keys = labels if labels is not None else np.arange(k)
    palette = pick_colors(colors, keys, fn)
    draw = ImageDraw.Draw(img)
    fnt = font()
    for i in range(k):
        x1, y1, x2, y2 = np.round(b[i]).astype(int).tolist()
        draw.rectangle([x1, y1, x2, y2], outline=palette[i], width=width)
        parts = []
        if labels is not None:
            parts.append(_name(int(labels[i]), class_names, fn))
        if scores is not None:
            parts.append(f"{float(scores[i]):.2f}")
        if parts:   # "circle 0.93"; "3: 0.93" without class names (not "3 0.93")
            _caption(draw, x1, y1, (" " if class_names else ": ").join(parts), palette[i], fnt)
    return np.asarray(img)


def _caption(draw, x, y, text, color, fnt):
    """Text on a filled tab of ``color``, above (x, y) or just inside the box at the top edge."""
    tw, th = text_size(draw, text, fnt)
    top = y - th - 3 if y - th - 3 >= 0 else y
    x = max(0, min(x, draw.im.size[0] - tw - 4))     # keep the tab inside the image
    draw.rectangle([x, top, x + tw + 3, top + th + 2], fill=color)
    x0, y0, _, _ = draw.textbbox((0, 0), text, font=fnt)
    draw.text((x + 2 - x0, top + 1 - y0), text, fill=text_color(color), font=fnt)


def _boundary(m):
    """Pixels of the bool mask ``m`` with a 4-neighbour outside it (the image edge doesn't count)."""
    p = np.pad(m, 1, mode="edge")
    inner = p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return m & ~inner


def draw_masks(image, masks, labels=None, alpha=0.5, colors=None):
    """Tint each mask's pixels with its colour and outline it.

    Parameters
    ----------
    image : (C, H, W) float in [0, 1] or (H, W, C) uint8
    masks : (K, H, W) bool, or float weights in [0, 1] (soft masks are blended by weight;
        (K, 1, H, W) is accepted too), one per instance; or an (H, W) integer label map
        (semantic segmentation): class c > 0 gets colour c, 0 (background) stays as it was
    labels : optional (K,) class of each instance mask (its colour); ignored for a label map
    alpha : opacity of the tint, 0 (none) to 1 (solid)
    colors : as in ``draw_boxes``

    Returns
    -------
    (H, W, 3) uint8
    """
    fn = "draw_masks"
    rgb = to_rgb_uint8(image, fn)
    m = to_array(masks)
    if not 0 <= alpha <= 1:
        raise ValueError(f"{fn}: alpha must be in [0, 1], got {alpha!r}")
    if m.ndim == 2:                                  # a label map -> one mask per class present
        if m.dtype.kind not in "iub":
            raise ValueError(f"{fn}: a 2-D mask is a label map and must hold integers, got "
                             f"dtype {m.dtype}")
        labels = np.array([c for c in np.unique(m) if c != 0], np.int64)
        m = m[None] == labels[:, None, None]         # (K, H, W), K = classes present
    elif m.ndim == 4 and m.shape[1] == 1:
        m = m[:, 0]
    if m.ndim != 3 or m.shape[1:] != rgb.shape[:2]:
        raise ValueError(f"{fn}: masks must be (K, H, W) with (H, W) = {rgb.shape[:2]} as the "
                         f"image, or an (H, W) label map, got shape {to_array(masks).shape}")
    weights = m.astype(np.float32)
    if weights.size and not (np.isfinite(weights).all() and 0 <= weights.min()
                             and weights.max() <= 1):
        raise ValueError(f"{fn}: mask values must be in [0, 1] (bool or probabilities), got "
                         f"[{weights.min():.3g}, {weights.max():.3g}]")
    labels = _per_box(labels, len(m), "labels", fn)
    keys = labels.astype(np.int64) if labels is not None else np.arange(len(m))
    out = rgb.astype(np.float32)
    for w, color in zip(weights, pick_colors(colors, keys, fn)):
        a = alpha * w[..., None]
        out = out * (1 - a) + np.asarray(color, np.float32) * a
        out[_boundary(w > 0.5)] = color
    return (out + 0.5).astype(np.uint8)


def _draw_target(image, target, class_names, score_threshold, fn):
    """Draw one truth or prediction (a dict, a label map, or a class) -> (picture, what)."""
    if isinstance(target, dict):
        boxes = target.get("boxes")
        labels = target.get("labels")
        scores = target.get("scores")
        masks = target.get("masks")
        keep = slice(None)
        if scores is not None:
            keep = to_array(scores).reshape(-1) >= score_threshold
            scores = to_array(scores).reshape(-1)[keep]
        labels = None if labels is None else to_array(labels).reshape(-1)[keep]
        pic = to_rgb_uint8(image, fn)
        if masks is not None:
            pic = draw_masks(pic, to_array(masks)[keep], labels=labels)
        what = "nothing"
        if masks is not None:
            what = f"{len(to_array(masks)[keep])} masks"
        if boxes is not None:
            boxes = to_array(boxes).reshape(-1, 4)[keep]
            what = f"{len(boxes)} boxes"
            pic = draw_boxes(pic, boxes, labels=labels, scores=scores, class_names=class_names)
        return pic, what
    a = to_array(target)
    if a.ndim == 2:
        return draw_masks(image, a), f"{len(np.setdiff1d(np.unique(a), [0]))} classes"
    if a.ndim == 0:
        return to_rgb_uint8(image, fn), _name(int(a), class_names, fn)
    raise ValueError(f"{fn}: a truth or prediction must be a dict (boxes, labels, scores, "
                     f"masks), an (H, W) label map or a class label, got shape {a.shape}")


def compare_grid(images, truths, predictions, path=None, class_names=None, score_threshold=0.5,
                 pairs_per_row=4, scale=1):
    """Ground truth beside prediction for each image, tiled into one picture.

    Each image gives two cells, the truth on the left and the prediction on the right, with a
    caption under each ("truth: 3 boxes" / "pred: 2 boxes", or the class names).

    Parameters
    ----------
    images : (N, C, H, W) float in [0, 1], (N, H, W, C) uint8, or a list of images
    truths, predictions : N items, each one of
        - a dict as torchvision's detection targets and outputs: ``boxes`` (K, 4) xyxy,
          ``labels`` (K,), optional ``scores`` (K,) and ``masks`` (K, H, W)
        - an (H, W) integer label map (semantic segmentation)
        - a class label (classification)
    path : optional PNG file to write (atomically)
    class_names : optional names for the labels, as in ``draw_boxes``
    score_threshold : predictions scoring below it are left out (only where there are scores)
    pairs_per_row : image pairs per row of the grid
    scale : integer upscaling of each image before drawing (for small images)

    Returns
    -------
    (H', W', 3) uint8
    """
    fn = "compare_grid"
    if isinstance(images, (list, tuple)):
        batch = [to_rgb_uint8(im, fn) for im in images]
    else:
        a = to_array(images)
        if a.ndim != 4:
            raise ValueError(f"{fn}: images must be (N, C, H, W) float or (N, H, W, C) uint8, "
                             f"or a list of images, got shape {a.shape}")
        batch = [to_rgb_uint8(im, fn) for im in a]
    if not len(batch) == len(truths) == len(predictions):
        raise ValueError(f"{fn}: images, truths and predictions must have the same length, got "
                         f"{len(batch)}, {len(truths)} and {len(predictions)}")
    cells, captions = [], []
    for im, truth, pred in zip(batch, truths, predictions):
        if scale > 1:
            im = im.repeat(scale, 0).repeat(scale, 1)
            truth, pred = _scaled(truth, scale), _scaled(pred, scale)
        for who, target in (("truth", truth), ("pred", pred)):
            pic, what = _draw_target(im, target, class_names, score_threshold, fn)
            cells.append(pic)
            captions.append(f"{who}: {what}")
    grid = make_grid(cells, nrow=2 * pairs_per_row, padding=2, labels=captions)
    if path is not None:
        save_png(grid, path)
    return grid


def _scaled(target, s):
    """A target drawn on an image upscaled ``s`` times: boxes times s, masks repeated."""
    if isinstance(target, dict):
        out = dict(target)
        if out.get("boxes") is not None:
            out["boxes"] = to_array(out["boxes"]).astype(np.float64) * s
        if out.get("masks") is not None:
            out["masks"] = to_array(out["masks"]).repeat(s, -2).repeat(s, -1)
        return out
    a = to_array(target)
    return a.repeat(s, 0).repeat(s, 1) if a.ndim == 2 else target
