"""Detect shapes with RetinaNet: one network, every anchor scored, the focal loss.

    python examples/14_retinanet.py [--epochs N] [--out runs]

RetinaNet (Lin, Goyal, Girshick, He, Dollár, ICCV 2017) is a one-stage detector: no
proposals, no RoI pooling. A ResNet with a Feature Pyramid Network gives feature maps at
several strides; at every cell of every map, 9 anchors (3 sizes x 3 shapes) are classified
by a small convolutional subnet and moved onto the object by a second one. Almost all of
those anchors are background, and with plain cross entropy their many small losses would
drown the few objects; the focal loss −α_t (1 − p_t)^γ log(p_t) turns down the examples
the network already gets right (tinyvision/models/detection/retinanet.py has the
equations, and why these scenes use the levels P2..P4 instead of the paper's P3..P7).

Printed: the number of anchors per level, mAP@0.5 and the COCO figures on the 500 test
scenes, the time per image; written to runs/: ground truth beside the detections (score
>= 0.5) and, for one scene, the class subnet's score map of every level (the best class
per cell), which shows which level fires for which size of shape.
"""
import argparse
import os

import numpy as np

import tinyvision as tv
from tinyvision import viz
from tinyvision.recipes import retinanet as recipe
from tinyvision.recipes import _detection
from tinyvision.recipes.rcnn import CLASS_NAMES, scenes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--out", default="runs")
    args = parser.parse_args()

    # 1. Train with the focal loss and evaluate on the test split (recipes/retinanet.py).
    r = recipe.train(epochs=args.epochs, out=args.out)
    _detection.print_summary("RetinaNet", r)

    # 2. Where the detector looks: run the network on one test scene and keep, per level,
    #    the best class probability σ(x) of each cell (max over its 9 anchors and 5 classes).
    model = recipe.load_model(r["checkpoint"])
    _, one = scenes("test", 1)
    with tv.no_grad():
        x, _ = model.transform.prepare(one["images"])               # standardised, checked
        features = list(model.backbone(x).values())
        logits, _ = model.head(features)
    p = 1 / (1 + np.exp(-logits.numpy()[0]))                   # (ΣH·W·A, K)
    detections = model(one["images"])[0]
    cells = [viz.draw_detections(one["images"][0], detections["boxes"].numpy(),
                                 detections["labels"].numpy(), detections["scores"].numpy(),
                                 CLASS_NAMES, 0.5)]
    names, start = ["detections"], 0
    for name, f in zip(model.levels, features):
        h, w = f.shape[2:]
        n = h * w * model.head.num_anchors
        best = p[start:start + n].reshape(h, w, -1).max(axis=2)   # (H, W): max over A·K
        start += n
        print(f"level {name} (stride {model.backbone.strides[name]}): {h}x{w} cells, {n} "
              f"anchors, best score {best.max():.2f}")
        zoom = 128 // h                                          # every map drawn 128 px wide
        cells.append(viz.apply_colormap(best.repeat(zoom, axis=0).repeat(zoom, axis=1),
                                        "viridis"))
        names.append(f"{name} scores")
    path = os.path.join(args.out, "retinanet-shapes-level-scores.png")
    viz.save_image_grid(cells, path, nrow=len(cells), labels=names, scale=2)
    for picture in r["pictures"] + [path]:
        print(f"picture: {picture}")


if __name__ == "__main__":
    main()
