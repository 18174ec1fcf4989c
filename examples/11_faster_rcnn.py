"""Detect shapes with Faster R-CNN: the network proposes its own regions, then classifies them.

    python examples/11_faster_rcnn.py [--epochs N] [--out runs] [--schedule joint|alternating]

Fast R-CNN (example 10) waits seconds per image for selective search. Faster R-CNN (Ren,
He, Girshick, Sun, NIPS 2015) reads the proposals off its own feature maps: a small Region
Proposal Network slides a 3x3 conv over every level of a feature pyramid and, at each cell,
scores 3 anchors (one size per level, aspect ratios 1:2, 1:1, 2:1) as object or not and
regresses each onto the nearest object. The best ~300 boxes after NMS go to Fast R-CNN's
head: RoI align 7x7, two FC layers, class scores and per-class box offsets. The four losses
(the RPN's objectness and box terms, the head's classifier and box terms) are summed and
trained together (tinyvision/models/detection/faster_rcnn.py has the equations);
--schedule alternating runs the paper's original 4-step training instead (each step
--epochs epochs, default 3: RPN, detector on its proposals, then each fine-tuned on a
shared, frozen backbone).

Printed: the losses per epoch, mAP@0.5 and COCO AP on the 500 test scenes, the training
time and the time per image; then what the RPN proposes for one scene and how many of its
objects the proposals cover. Written to runs/: ground truth beside the detections (score
>= 0.5), and the RPN's best 20 proposals on one scene.
"""
import argparse
import os

import numpy as np

import tinyvision as tv
from tinyvision import viz
from tinyvision.recipes import faster_rcnn as recipe
from tinyvision.recipes import _detection
from tinyvision.recipes.rcnn import CLASS_NAMES, scenes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--out", default="runs")
    parser.add_argument("--schedule", choices=("joint", "alternating"), default="joint",
                        help="approximate joint training (the recipe's) or the paper's 4 steps")
    args = parser.parse_args()

    # 1. Train, evaluate on the test split (COCO's figures and VOC's mAP@0.5), save a picture.
    r = recipe.train(epochs=args.epochs, out=args.out, schedule=args.schedule)
    _detection.print_summary(f"Faster R-CNN ({args.schedule} training)", r,
                             " (RPN, proposal layer and head)")

    # 2. The first stage on its own: the RPN's proposals for one test scene, best first, and
    #    the best IoU each object gets from them (the recall the head starts from).
    model = recipe.load_model(r["checkpoint"]) if r["checkpoint"] else r["model"]
    _, one = scenes("test", 1)
    with tv.no_grad():
        x, _ = model.transform.prepare(one["images"])
        proposals, _ = model.rpn(list(model.features(x).values()), tuple(x.shape[2:]))
    proposals = proposals[0]
    best = tv.ops.box_iou(one["boxes"][0], proposals).numpy().max(axis=1)
    print(f"one scene: {len(proposals)} proposals; each object's best IoU with them: "
          f"{np.round(best, 2).tolist()}")
    top = proposals[:20]
    cells = [viz.draw_boxes(one["images"][0], one["boxes"][0], one["labels"][0],
                            class_names=CLASS_NAMES),
             viz.draw_boxes(one["images"][0], top, colors="#ffff00", width=1)]
    path = os.path.join(args.out, "faster_rcnn-shapes-proposals.png")
    viz.save_image_grid(cells, path, nrow=2, labels=["ground truth", "best 20 proposals"],
                        scale=3)
    for p in r["pictures"] + [path]:
        print(f"picture: {p}")


if __name__ == "__main__":
    main()
