"""Selective search on ShapesScenes: object proposals, measured by recall at IoU 0.5.

    result = recipes.train_task("selective_search", out="runs")
    result["metrics"]["recall@0.5 (300 proposals)"], result["recall_curve"]

Nothing is learned: "training" runs selective search ("fast" mode of [Uijlings]) over the
test split (500 scenes, 128x128) and times it, one image after the other on one core.
The "checkpoint" is its output: the ranked proposals of every test image in an ``.npz``
(``meta`` names the task and the settings), and ``evaluate`` recomputes the recall from
them against the test split's boxes, without running the search again.

Metrics: recall@0.5 (n proposals) = the share of ground-truth boxes that one of the first n
proposals of their image overlaps with IoU >= 0.5; the bar is >= 0.90 at n = 300.
"""
import math
import os
import time

import numpy as np
from PIL import Image, ImageDraw

from .. import viz
from ..data import ShapesScenes
from ..metrics import proposal_recall
from ..models.selective_search import proposals_for
from ..serialization import load
from ..viz.image import font, text_size
from ..viz.plot import nice_ticks

# the README results row (benchmarks/results.py)
LABEL, DATA = "selective search (Felzenszwalb + hierarchical grouping)", "ShapesScenes"
SETTINGS = dict(mode="fast")     # for selective_search (its defaults otherwise)
COUNTS = (10, 50, 100, 300, 1000)
TARGET_COUNT = 300               # the bar: recall@0.5 with at most this many proposals
STEM = "selective_search-shapes"


def test_split():
    """The data set the recipe measures on: ShapesScenes' default test split."""
    return ShapesScenes("test")


def metrics_of(proposals, data):
    """(metrics, recall curve) of proposals (one array per image of ``data``)."""
    gt = [data.generate(i)[1]["boxes"] for i in range(len(data))]
    curve = proposal_recall(proposals, gt, counts=COUNTS)
    metrics = {f"recall@0.5 ({TARGET_COUNT} proposals)": curve[TARGET_COUNT],
               "mean proposals": float(np.mean([len(p) for p in proposals]))}
    return metrics, curve


def train(epochs=None, seed=0, out=None, progress=True):
    """Run selective search over the test split (``epochs`` is ignored: nothing to learn).

    Returns a dict: metrics, recall_curve ({n: recall}), seconds, ms_per_image (the same
    run), checkpoint (the proposals file) and pictures when ``out`` is a folder.
    """
    data = test_split()
    checkpoint = None
    if out is not None:
        os.makedirs(out, exist_ok=True)
        checkpoint = os.path.join(out, f"{STEM}.npz")
    start = time.perf_counter()
    proposals = proposals_for(data, cache=checkpoint, refresh=True, progress=progress,
                              seed=seed, **SETTINGS)
    seconds = time.perf_counter() - start
    metrics, curve = metrics_of(proposals, data)
    result = dict(metrics=metrics, recall_curve=curve, seconds=seconds,
                  ms_per_image=seconds * 1e3 / len(data), checkpoint=checkpoint)
    if out is not None:
        result["pictures"] = [save_proposal_picture(data, proposals, out),
                              plot_recall_curve(curve, os.path.join(out, f"{STEM}-recall.png"))]
    return result


def evaluate(checkpoint):
    """The metrics of the proposals saved by ``train`` (recomputed against the test split)."""
    state = load(checkpoint)
    meta = state.get("meta", {})
    data = test_split()
    if meta.get("task") != "selective_search" or meta.get("dataset") != repr(data):
        raise ValueError(f"selective_search.evaluate: {checkpoint} does not hold selective "
                         f"search proposals for {data!r} (meta: {meta})")
    ends = np.cumsum(state["counts"])
    proposals = [state["boxes"][end - n:end] for n, end in zip(state["counts"], ends)]
    return metrics_of(proposals, data)[0]


def save_proposal_picture(data, proposals, out, n_images=6, top=15):
    """Test scenes 2x: top row the first ``top`` proposals; bottom row the ground truth
    (green) and, for each box, the best of the first 300 proposals (red) with its IoU."""
    from ..ops import box_iou
    rows = ([], [])
    n_images = min(n_images, len(proposals))
    for i in range(n_images):
        image, target = data.generate(i)
        big = image.repeat(2, axis=1).repeat(2, axis=2)
        rows[0].append(viz.draw_boxes(big, 2 * proposals[i][:top], colors="yellow", width=1))
        kept = proposals[i][:TARGET_COUNT]
        iou = box_iou(kept, target["boxes"]).numpy()
        best = kept[iou.argmax(axis=0)]
        shown = viz.draw_boxes(big, 2 * target["boxes"], colors="lime", width=2)
        shown = viz.draw_boxes(shown, 2 * best, scores=iou.max(axis=0), colors="red", width=1)
        rows[1].append(shown)
    labels = [f"top {top}"] * n_images + [f"best of {TARGET_COUNT}"] * n_images
    path = os.path.join(out, f"{STEM}-proposals.png")
    viz.save_image_grid(rows[0] + rows[1], path, nrow=n_images, labels=labels)
    return path


def plot_recall_curve(curve, path, title="selective search (fast) on ShapesScenes test"):
    """Recall against the number of proposals per image (log axis), with the bar marked."""
    W, H, left, right, top, bottom = 480, 320, 56, 30, 50, 40
    img = Image.new("RGB", (W, H), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    fnt = font(11)
    counts = sorted(curve)
    lo, hi = math.log10(counts[0]), math.log10(counts[-1])

    def px(n):
        return left + (math.log10(n) - lo) / max(hi - lo, 1e-9) * (W - left - right)

    def py(r):
        return H - bottom - r * (H - top - bottom)

    draw.text((left, 8), title, fill=(0, 0, 0), font=fnt)
    for r in nice_ticks(0, 1):
        draw.line([(left, py(r)), (W - right, py(r))], fill=(225, 225, 225))
        label = f"{r:.2g}"
        draw.text((left - 8 - text_size(draw, label, fnt)[0], py(r) - 7), label, fill=(0, 0, 0),
                  font=fnt)
    for n in counts:
        draw.line([(px(n), H - bottom), (px(n), H - bottom + 4)], fill=(60, 60, 60))
        draw.text((px(n) - text_size(draw, str(n), fnt)[0] / 2, H - bottom + 6), str(n),
                  fill=(0, 0, 0), font=fnt)
    axis = "proposals per image"
    draw.text(((W - text_size(draw, axis, fnt)[0]) / 2, H - 18), axis, fill=(0, 0, 0), font=fnt)
    draw.line([(left, top), (left, H - bottom), (W - right, H - bottom)], fill=(60, 60, 60))
    draw.line([(left, py(0.9)), (W - right, py(0.9))], fill=(214, 39, 40))       # the bar
    draw.text((left + 6, py(0.9) + 3), "target 0.90", fill=(214, 39, 40), font=fnt)
    points = [(px(n), py(curve[n])) for n in counts]
    draw.line(points, fill=(31, 119, 180), width=2)
    for (x, y), n in zip(points, counts):
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=(31, 119, 180))
        label = f"{curve[n]:.3f}"
        draw.text((x - text_size(draw, label, fnt)[0] / 2, y - 18), label, fill=(31, 119, 180),
                  font=fnt)
    viz.save_png(np.asarray(img), path)
    return path
