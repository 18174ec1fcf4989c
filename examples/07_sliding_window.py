"""Detect shapes by asking a classifier about every window: the sliding-window detector.

    python examples/07_sliding_window.py [--epochs N] [--out runs]

Step 1 trains a small classifier (conv-pool-conv-pool, then three FC layers) on 32x32 crops
of ShapesScenes: windows that frame one shape well are labelled with its class, windows that
frame nothing (or a shape badly) are "background". Step 2 slides it over each 128x128 test
scene: windows of 7 sizes from 12 to 96 pixels, each cropped, resized to 32x32 and
classified on its own; the windows that look like a shape with enough confidence are kept,
and non-maximum suppression leaves one box per object.

Printed: the crop classifier's accuracy, the detector's mAP@0.5 (on the first 100 test
scenes: the naive detector is slow), windows per image, time per image.
Written to --out: a sample of training crops and the detections beside the ground truth.
Compare with examples/08_overfeat.py, which gets the same windows' scores in one pass.
"""
import argparse
import os

import numpy as np

from tinyvision import data, recipes, viz
from tinyvision.recipes import _window_classifier as W


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--out", default="runs")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    # What the classifier learns from: crops of training scenes, label 0 = background.
    scenes = data.ShapesScenes("train", n=8).arrays()
    crops = W.make_crops(scenes, np.random.default_rng(0), positives_per_object=1,
                         negatives_per_image=3)
    names = ("background",) + data.ShapesScenes.CLASSES
    path = os.path.join(args.out, "sliding_window-training-crops.png")
    viz.save_image_grid(crops["crops"][:32], path, nrow=8, scale=3,
                        labels=[names[y] for y in crops["labels"][:32]])
    print(f"training crops: {path}")

    r = recipes.train_task("sliding_window", epochs=args.epochs, out=args.out)
    m = r["metrics"]
    print(f"window classifier: {r['history']['val_accuracy'][-1]:.1%} of validation crops "
          f"right, trained in {r['seconds']:.0f} s")
    print(f"sliding window: mAP@0.5 {m['map50']:.3f} on {r['eval_images']} test scenes, "
          f"{m['windows_per_image']} windows and {r['ms_per_image']:.0f} ms per image")
    for p in r["pictures"]:
        print(f"detections: {p}")


if __name__ == "__main__":
    main()
