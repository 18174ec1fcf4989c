"""Detect shapes with R-CNN: selective search proposals, a CNN on every warped proposal,
one linear SVM per class, box regression, NMS.

    python examples/09_rcnn.py [--epochs N] [--out runs]

R-CNN (Girshick et al., CVPR 2014) looks at ~2,000 boxes per image instead of every window:
selective search proposes them (example 06), each one is cut out with a little context,
warped to the CNN's input size (32 x 32 here, 227 in the paper) and described by the CNN's
features; a linear SVM per class scores it and a ridge regressor per class moves its box.
Training has three stages: the CNN as a classifier of warped proposals, then the SVMs, then
the box regressors (tinyvision/models/rcnn.py explains why).

Printed: the time of each stage, mAP@0.5 (PASCAL VOC) and COCO AP on the 500 test scenes,
and the time per image, without and with selective search. Written to runs/: ground truth
beside R-CNN's detections (SVM score > 0), and one scene's proposals as the CNN sees them.
The proposals are cached in runs/proposals-*.npz: example 10 (Fast R-CNN) reuses them and
times itself against the R-CNN checkpoint this script leaves there.
"""
import argparse
import os

import numpy as np

from tinyvision import viz
from tinyvision.recipes import rcnn as recipe


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="stage-1 epochs (default: "
                        "the recipe's)")
    parser.add_argument("--out", default="runs")
    args = parser.parse_args()

    # 1. Train the three stages and evaluate on the test split (the proposals of both splits
    #    are computed once and cached in --out).
    r = recipe.train(epochs=args.epochs, out=args.out)
    stages = ", ".join(f"{k} {v:.0f} s" for k, v in r["stage_seconds"].items())
    print(f"R-CNN trained in {r['seconds']:.0f} s ({stages}); the SVMs learned from "
          f"{r['svm_rows']} regions, the box regressors from {r['regression_rows']}")
    m = r["metrics"]
    print(f"test split (500 scenes): mAP@0.5 {m['mAP@0.5']:.3f}, COCO AP {m['AP']:.3f} "
          f"(AP50 {m['AP50']:.3f}, AP75 {m['AP75']:.3f}; small/medium/large "
          f"{m['APs']:.3f}/{m['APm']:.3f}/{m['APl']:.3f})")
    print(f"time per image: {r['ms_per_image']:.0f} ms for the CNN, SVMs, regression and NMS "
          f"over {recipe.PROPOSALS['max_proposals']} proposals; "
          f"{r['ms_per_image_with_proposals']:.0f} ms with selective search")

    # 2. What the CNN sees: the first proposals of one test scene, with context, warped.
    model = recipe.load_model(r["checkpoint"])
    test, scenes = recipe.scenes("test", 1)
    proposals, _ = recipe.scene_proposals(test)
    boxes = proposals[0][:24]
    crops = model.warp(scenes["images"], [boxes])            # standardised: undo for display
    crops = crops * model.std.data + model.mean.data
    scores = model.scores(model.features(scenes["images"], [boxes])[1])   # (24, C) SVM scores
    names = [f"{recipe.CLASS_NAMES[c + 1]} {s[c]:+.1f}" for s, c in zip(scores, scores.argmax(1))]
    path = os.path.join(args.out, "rcnn-shapes-warped.png")
    viz.save_image_grid(np.clip(crops, 0, 1), path, nrow=8, labels=names, scale=3)
    for p in r["pictures"] + [path]:
        print(f"picture: {p}")


if __name__ == "__main__":
    main()
