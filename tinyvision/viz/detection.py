"""Detection results as pictures: detections over an image, and precision–recall curves.

``draw_detections`` is ``draw_boxes`` for a detector's output: it drops the detections below a
score threshold and draws the rest lowest score first, so the most confident box and caption
end on top. Ground truth beside prediction is ``compare_grid`` (draw.py).

``plot_pr_curves`` draws the curves of ``tinyvision.metrics.pr_curves``: recall on x,
precision on y, both 0..1, one line per class in its palette colour, the legend on the right.
"""
import numpy as np
from PIL import Image, ImageDraw

from .colors import PALETTE
from .draw import _per_box, draw_boxes
from .image import font, save_png, text_size, to_array
from .plot import AXIS, GRID, INK, nice_ticks

PLOT_W, PLOT_H = 360, 300                       # the plot area, in pixels
LEFT, TOP, BOTTOM, GAP = 54, 44, 42, 16         # margins; GAP before the legend


def draw_detections(image, boxes, labels, scores, class_names=None, score_threshold=0.5,
                    path=None, width=2):
    """Draw a detector's boxes scoring at least ``score_threshold``, with "name score" captions.

    Parameters
    ----------
    image : (C, H, W) float in [0, 1] or (H, W, C) uint8
    boxes : (K, 4) xyxy pixels, as a detector's ``boxes`` output
    labels : (K,) class labels (0 is background in tinyvision's detectors)
    scores : (K,) scores
    class_names : optional list (or dict) from label to name, e.g. ``VOC_CLASSES``-based
    score_threshold : detections below it are not drawn
    path : optional PNG file to write (atomically)
    width : line width in pixels

    Returns
    -------
    (H, W, 3) uint8
    """
    fn = "draw_detections"
    b = to_array(boxes).astype(np.float64)
    if b.size == 0:
        b = b.reshape(0, 4)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"{fn}: boxes must be (K, 4) as (x1, y1, x2, y2) in pixels, got shape "
                         f"{b.shape}")
    s = _per_box(scores, len(b), "scores", fn).astype(np.float64)
    lab = _per_box(labels, len(b), "labels", fn)
    if not np.isfinite(s).all():
        raise ValueError(f"{fn}: scores hold NaN or inf")
    if not (isinstance(score_threshold, (int, float)) and np.isfinite(score_threshold)):
        raise ValueError(f"{fn}: score_threshold must be a number, got {score_threshold!r}")
    keep = np.flatnonzero(s >= score_threshold)
    keep = keep[np.argsort(s[keep], kind="stable")]            # best drawn last: on top
    picture = draw_boxes(image, b[keep], lab[keep], s[keep], class_names, width=width)
    if path is not None:
        save_png(picture, path)
    return picture


def plot_pr_curves(curves, path=None, class_names=None, title=None):
    """Precision–recall curves, one line per class, with a legend.

    Parameters
    ----------
    curves : dict {class: (recall, precision)} as ``tinyvision.metrics.pr_curves`` returns
        (or a list of (recall, precision) pairs)
    path : PNG file to write (atomically); None only returns the picture
    class_names : optional list or dict from class key to the legend's text; write the AP in
        it if wanted, e.g. {c: f"{names[c]} AP {ap[c]:.2f}"}
    title : optional line above the plot

    Returns
    -------
    (H, W, 3) uint8, the picture
    """
    fn = "plot_pr_curves"
    items = list(curves.items()) if isinstance(curves, dict) else list(enumerate(curves))
    if not items:
        raise ValueError(f"{fn}: curves is empty (no class has ground truth?)")
    lines = []
    for key, pair in items:
        try:
            rec, prec = (np.asarray(v, np.float64).reshape(-1) for v in pair)
        except (TypeError, ValueError):
            raise ValueError(f"{fn}: curves[{key!r}] must be a (recall, precision) pair of "
                             f"arrays") from None
        if rec.shape != prec.shape:
            raise ValueError(f"{fn}: curves[{key!r}] has {len(rec)} recall and {len(prec)} "
                             f"precision values; they must pair up")
        ok = np.isfinite(rec) & np.isfinite(prec)
        if ((rec[ok] < 0) | (rec[ok] > 1) | (prec[ok] < 0) | (prec[ok] > 1)).any():
            raise ValueError(f"{fn}: curves[{key!r}] must hold values in [0, 1]")
        lines.append((_legend_text(key, class_names), rec[ok], prec[ok]))

    fnt = font(11)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    legend_w = max(text_size(probe, text, fnt)[0] for text, _, _ in lines) + 30
    row = 15
    height = max(TOP + PLOT_H + BOTTOM, TOP + row * len(lines) + 10)
    img = Image.new("RGB", (LEFT + PLOT_W + GAP + legend_w + 10, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    x0, y0, x1, y1 = LEFT, TOP, LEFT + PLOT_W, TOP + PLOT_H
    if title:
        big = font(13)
        draw.text(((x0 + x1) / 2 - text_size(draw, title, big)[0] / 2, 6), title, fill=INK,
                  font=big)

    def px(r):
        return x0 + r * (x1 - x0)

    def py(p):
        return y1 - p * (y1 - y0)

    for t in nice_ticks(0.0, 1.0):                      # grid, ticks and labels on both axes
        draw.line([(x0, py(t)), (x1, py(t))], fill=GRID)
        draw.line([(px(t), y0), (px(t), y1)], fill=GRID)
        label = f"{t:.3g}"
        w, h = text_size(draw, label, fnt)
        draw.text((x0 - 7 - w, py(t) - h / 2 - 2), label, fill=INK, font=fnt)
        draw.text((px(t) - w / 2, y1 + 7), label, fill=INK, font=fnt)
    for text, at in (("recall", ((x0 + x1) / 2, y1 + 22)), ("precision", (4, y0 - 20))):
        draw.text((at[0] - (text_size(draw, text, fnt)[0] / 2 if text == "recall" else 0),
                   at[1]), text, fill=INK, font=fnt)
    draw.line([(x0, y0), (x0, y1), (x1, y1)], fill=AXIS)

    for i, (key, (text, rec, prec)) in enumerate(zip((k for k, _ in items), lines)):
        # a class keeps its colour of draw_boxes / draw_detections (PALETTE[label])
        color = PALETTE[(key if isinstance(key, (int, np.integer)) else i) % len(PALETTE)]
        pts = [(px(r), py(p)) for r, p in zip(rec, prec)]
        if len(pts) > 1:
            draw.line(pts, fill=color, width=2)
        elif pts:
            a, b = pts[0]
            draw.ellipse([a - 2.5, b - 2.5, a + 2.5, b + 2.5], fill=color)
        lx, ly = x1 + GAP, TOP + row * i
        draw.line([(lx, ly + 7), (lx + 18, ly + 7)], fill=color, width=3)
        draw.text((lx + 24, ly), text, fill=INK, font=fnt)
    picture = np.asarray(img)
    if path is not None:
        save_png(picture, path)
    return picture


def _legend_text(key, class_names):
    if class_names is None:
        return str(key)
    try:
        return str(class_names[key])
    except (KeyError, IndexError, TypeError):
        raise ValueError(f"plot_pr_curves: class {key!r} has no entry in class_names") from None
