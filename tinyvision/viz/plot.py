"""Training curves drawn with Pillow alone: one panel per quantity, train against val.

``plot_history`` reads the history a ``Trainer`` keeps (a dict of per-epoch lists):

    {"epoch": [1, 2, 3], "lr": [...],
     "train_loss": [...], "val_loss": [...], "train_accuracy": [...], "val_accuracy": [...]}

Keys ``train_X`` and ``val_X`` share panel X (two lines, a legend); any other key gets a panel
of its own; ``epoch`` is the x axis (1, 2, ... when absent). Axis ticks are "nice" numbers
(1, 2, 2.5 or 5 times a power of ten), so the labels are short and round.
"""
import math

import numpy as np
from PIL import Image, ImageDraw

from .image import font, save_png, text_size

PANEL_W, PANEL_H = 420, 280
LEFT, RIGHT, TOP, BOTTOM = 58, 14, 28, 38            # margins around each plot area
SERIES_COLORS = {"train": (31, 119, 180), "val": (255, 127, 14)}
OTHER_COLORS = [(44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]
GRID, AXIS, INK = (225, 225, 225), (60, 60, 60), (0, 0, 0)


def nice_ticks(lo, hi, count=5):
    """About ``count`` round values covering [lo, hi]: the step is 1, 2, 2.5 or 5 × 10^k."""
    raw = (hi - lo) / max(count, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = np.arange(first, hi + step * 1e-9, step)
    return np.round(ticks / step) * step        # 0.30000000000000004 -> 0.3


def _panels(history):
    """[(title, [(series name, values)])]: train/val quantities first, then the rest (lr),
    each group in the order the keys first appear."""
    panels = {}
    for key, values in history.items():
        if key == "epoch":
            continue
        for prefix in ("train", "val"):
            if key.startswith(prefix + "_"):
                panels.setdefault(key[len(prefix) + 1:], []).append((prefix, values))
                break
        else:
            panels.setdefault(key, []).append((key, values))
    return sorted(panels.items(), key=lambda p: p[1][0][0] not in ("train", "val"))


def _to_float_array(values, key):
    try:
        return np.array([np.nan if v is None else float(v) for v in values], np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"plot_history: history[{key!r}] must be a list of numbers "
                         f"(None for a missing value)") from None


def plot_history(history, path=None, title=None, columns=3):
    """Draw training curves (loss, metrics, lr per epoch) and write them to a PNG.

    Parameters
    ----------
    history : dict of equal-length lists, as ``Trainer.fit`` returns (see the module docstring)
    path : PNG file to write (atomically); None only returns the picture
    title : optional line of text above the panels
    columns : panels per row

    Returns
    -------
    (H, W, 3) uint8, the picture
    """
    if not isinstance(history, dict) or not history:
        raise ValueError(f"plot_history: history must be a non-empty dict of per-epoch lists, "
                         f"got {type(history).__name__} {history!r:.60}")
    data = {k: _to_float_array(v, k) for k, v in history.items()}
    n = len(next(iter(data.values())))
    for k, v in data.items():
        if len(v) != n:
            raise ValueError(f"plot_history: every list must have one value per epoch; "
                             f"history[{k!r}] has {len(v)}, another has {n}")
    if n == 0:
        raise ValueError("plot_history: the history holds no epochs yet")
    x = data.get("epoch", np.arange(1, n + 1, dtype=np.float64))
    panels = _panels(data)
    if not panels:
        raise ValueError("plot_history: the history holds only 'epoch'; nothing to draw")

    fnt = font(11)
    head = 24 if title else 0
    cols = min(columns, len(panels))
    rows = -(-len(panels) // cols)
    img = Image.new("RGB", (cols * PANEL_W, rows * PANEL_H + head), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    if title:
        draw.text((10, 5), title, fill=INK, font=font(14))
    for i, (name, series) in enumerate(panels):
        ox, oy = (i % cols) * PANEL_W, head + (i // cols) * PANEL_H
        _draw_panel(draw, fnt, ox, oy, name, x, series)
    picture = np.asarray(img)
    if path is not None:
        save_png(picture, path)
    return picture


def _draw_panel(draw, fnt, ox, oy, name, x, series):
    """One chart: title, grid, axes with ticks, a line with dots per series, a legend."""
    x0, y0 = ox + LEFT, oy + TOP                        # plot area, in image pixels
    x1, y1 = ox + PANEL_W - RIGHT, oy + PANEL_H - BOTTOM
    draw.text((x0, oy + 8), name, fill=INK, font=fnt)

    values = np.concatenate([v for _, v in series])
    finite = values[np.isfinite(values)]
    lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    pad = (hi - lo) * 0.08 if hi > lo else max(abs(lo) * 0.1, 1e-3)
    lo, hi = lo - pad, hi + pad
    xlo, xhi = float(x.min()), float(x.max())
    if xhi == xlo:
        xlo, xhi = xlo - 1, xhi + 1

    def px(xv):
        return x0 + (xv - xlo) / (xhi - xlo) * (x1 - x0)

    def py(yv):
        return y1 - (yv - lo) / (hi - lo) * (y1 - y0)

    for t in nice_ticks(lo, hi):                        # y: grid line, tick, label
        y = py(t)
        draw.line([(x0, y), (x1, y)], fill=GRID)
        label = f"{t:.3g}"
        w, h = text_size(draw, label, fnt)
        draw.line([(x0 - 4, y), (x0, y)], fill=AXIS)
        draw.text((x0 - 7 - w, y - h / 2 - 2), label, fill=INK, font=fnt)
    xticks = [t for t in nice_ticks(xlo, xhi, count=6) if t == int(t)] or [xlo]
    for t in xticks:                                    # x: whole epochs only
        xx = px(t)
        label = str(int(t))
        w, _ = text_size(draw, label, fnt)
        draw.line([(xx, y1), (xx, y1 + 4)], fill=AXIS)
        draw.text((xx - w / 2, y1 + 7), label, fill=INK, font=fnt)
    w, _ = text_size(draw, "epoch", fnt)
    draw.text(((x0 + x1) / 2 - w / 2, y1 + 21), "epoch", fill=INK, font=fnt)
    draw.line([(x0, y0), (x0, y1), (x1, y1)], fill=AXIS, width=1)

    for j, (label, v) in enumerate(series):
        color = SERIES_COLORS.get(label, OTHER_COLORS[j % len(OTHER_COLORS)])
        ok = np.isfinite(v)
        pts = [(px(a), py(b)) for a, b, good in zip(x, v, ok) if good]
        for (a, b), (c, d), good in zip(zip(x, v), zip(x[1:], v[1:]), ok[:-1] & ok[1:]):
            if good:                                    # NaN leaves a gap in the line
                draw.line([(px(a), py(b)), (px(c), py(d))], fill=color, width=2)
        for a, b in pts:
            draw.ellipse([a - 2.5, b - 2.5, a + 2.5, b + 2.5], fill=color)
    if len(series) > 1 or series[0][0] != name:
        _legend(draw, fnt, x1, y0, series)


def _legend(draw, fnt, right, top, series):
    """On the title line, right-aligned: a short line in each series' colour, then its name
    (above the plot area, so it never hides a curve)."""
    x = right
    for j, (label, _) in reversed(list(enumerate(series))):
        color = SERIES_COLORS.get(label, OTHER_COLORS[j % len(OTHER_COLORS)])
        x -= text_size(draw, label, fnt)[0]
        draw.text((x, top - 20), label, fill=INK, font=fnt)
        y = top - 13
        draw.line([(x - 22, y), (x - 4, y)], fill=color, width=2)
        x -= 34
