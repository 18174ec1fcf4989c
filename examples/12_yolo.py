"""Detect shapes with YOLO v1: one network, one pass, a grid of cells that each predict boxes.

    python examples/12_yolo.py [--epochs N] [--out runs]

R-CNN, Fast and Faster R-CNN first find regions, then classify each one. YOLO (Redmon,
Divvala, Girshick, Farhadi, CVPR 2016) "only looks once": the image goes through one CNN
whose output is an S x S x (5B + C) tensor. Each of the S x S cells predicts B boxes, each
as (x, y) its centre within the cell, (w, h) its size relative to the image, and a
confidence Pr(object)·IoU; and one class distribution Pr(class | object) for the cell. An
object belongs to the cell its centre falls in, and of that cell's B boxes the one that
overlaps it most at the moment is trained on it ("responsible"). One sum-squared error
over all of it, Eq. (3) of the paper, with λcoord = 5 to favour the boxes and λnoobj = 0.5
to quieten the many empty cells (tinyvision/models/detection/yolo.py has the equations).

Here S = 8 (16 px cells on the 128 px scenes) and B = 2. At test time each box's score for
class c is Pr(c | object)·confidence; boxes scoring over 0.05 go through per-class NMS.

Printed: mAP@0.5 and COCO AP on the 500 test scenes, the training time and the time per
image (YOLO's point: compare it with example 11's Faster R-CNN); then how the grid sees one
scene. Written to runs/: ground truth beside the detections (score >= 0.5), and one
scene's grid: for every cell its best class-specific confidence, over the scene.
"""
import argparse
import os

import tinyvision as tv
from tinyvision import viz
from tinyvision.recipes import yolo as recipe
from tinyvision.recipes import _detection
from tinyvision.recipes.rcnn import CLASS_NAMES, scenes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--out", default="runs")
    args = parser.parse_args()

    # 1. Train (scaling, translation, exposure and saturation jitter, flips), evaluate on the
    #    test split (COCO's figures and VOC's mAP@0.5), save a picture of the detections.
    r = recipe.train(epochs=args.epochs, out=args.out)
    _detection.print_summary("YOLO v1", r, " (one network pass and NMS)")

    # 2. The grid on one test scene: S x S cells, B boxes each. The class-specific
    #    confidence of a box is Pr(class | object)·conf (Eq. 1); a cell's best one says how
    #    sure the cell is that an object's centre lies in it.
    model = recipe.load_model(r["checkpoint"])
    _, one = scenes("test", 1)
    with tv.no_grad():
        x, _ = model.transform.prepare(one["images"])
        boxes, probs = model.predict(x)                       # (1, S, S, B, 5), (1, S, S, C)
    scores = probs.numpy()[0, :, :, None, :] * boxes.numpy()[0, :, :, :, 4:5]   # (S, S, B, C)
    best = scores.max(axis=(2, 3))                                              # (S, S)
    S = best.shape[0]
    print(f"one scene, the best class-specific confidence of each of the {S}x{S} cells:")
    for row in best:
        print("   " + " ".join(f"{v:.2f}" for v in row))
    detections = model(one["images"])[0]
    cells = [viz.draw_boxes(one["images"][0], one["boxes"][0], one["labels"][0],
                            class_names=CLASS_NAMES),
             viz.overlay_heatmap(one["images"][0], best, alpha=0.6, normalize=False),
             viz.draw_detections(one["images"][0], detections["boxes"].numpy(),
                                 detections["labels"].numpy(), detections["scores"].numpy(),
                                 CLASS_NAMES, 0.5)]
    path = os.path.join(args.out, "yolo-shapes-grid.png")
    viz.save_image_grid(cells, path, nrow=3, labels=["ground truth", "cell confidence",
                                                     "detections"], scale=3)
    for p in r["pictures"] + [path]:
        print(f"picture: {p}")


if __name__ == "__main__":
    main()
