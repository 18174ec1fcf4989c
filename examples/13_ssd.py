"""Detect shapes with SSD: one network, one pass, boxes from six feature maps at once.

    python examples/13_ssd.py [--epochs N] [--out runs] [--augmentation ssd|hflip]

SSD (Liu et al., ECCV 2016) has no proposal stage. It lays a few *default boxes* of fixed
scale and shape on every cell of six feature maps (32x32 down to 1x1 here: the fine maps
for small shapes, the coarse ones for large), and a 3x3 convolution predicts for each box
its C + 1 class scores and the 4 offsets that move it onto an object. Training matches each
object to its best default box and to every box it overlaps with IoU > 0.5, and sums
cross-entropy (on the matches and the hardest negatives, 3 per match) and smooth-L1 on the
offsets (tinyvision/models/detection/ssd.py has the equations). The paper finds its data
augmentation "crucial": colour distortions, zoom out onto a larger canvas, crops around the
objects and flips (tinyvision/data/detection_augment.py); --augmentation hflip only flips.

Printed: mAP@0.5 and COCO AP on the 500 test scenes, the training time, the time per image
and the parameter count. Written to runs/: ground truth beside the detections (score >= 0.5),
and a few training scenes as the augmentation shows them to the network.
"""
import argparse
import os

import numpy as np

from tinyvision import viz
from tinyvision.recipes import ssd as recipe
from tinyvision.recipes import _detection
from tinyvision.recipes.rcnn import CLASS_NAMES, scenes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--out", default="runs")
    parser.add_argument("--augmentation", choices=("ssd", "hflip"), default=None,
                        help="the paper's pipeline or flips only (default: the recipe's)")
    args = parser.parse_args()
    if args.augmentation:
        recipe.SETTINGS["augmentation"] = args.augmentation

    # 1. What the network sees in training: four scenes, each augmented four times.
    _, train = scenes("train", 4)
    rng = np.random.default_rng(0)
    cells = []
    for image, boxes, labels in zip(train["images"], train["boxes"], train["labels"]):
        cells.append(viz.draw_boxes(image, boxes, labels, class_names=CLASS_NAMES))
        for _ in range(4):
            a, t = recipe.augment(rng, image, {"boxes": boxes, "labels": labels})
            cells.append(viz.draw_boxes(a, t["boxes"], t["labels"], class_names=CLASS_NAMES))
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "ssd-shapes-augmentation.png")
    viz.save_image_grid(cells, path, nrow=5, scale=2)

    # 2. Train and evaluate on the test split (500 scenes, COCO-style).
    r = recipe.train(epochs=args.epochs, out=args.out)
    _detection.print_summary(f"SSD ({recipe.SETTINGS['augmentation']} augmentation)", r)
    for p in r["pictures"] + [path]:
        print(f"picture: {p}")


if __name__ == "__main__":
    main()
