"""Overfeat: turn the window classifier into one convolutional pass over the whole image.

    python examples/08_overfeat.py [--epochs N] [--out runs]

The sliding window (examples/07_sliding_window.py) classifies ~11,000 overlapping windows per
image one by one. Overfeat rewrites the classifier's fully connected layers as convolutions
(the first as a 5x5 convolution over the last feature map, the others as 1x1), so the net
takes an image of any size and returns a *score map*: one cell per window, 4 pixels apart,
for the price of one pass. Resizing the image (7 scales) moves windows of 12 to 96 pixels
onto the net's 32-pixel field of view, a second head predicts each window's box, and the
boxes of each class are merged greedily.

This script first shows the conversion at work: the converted net gives the same scores as
the classifier on a crop, and its score map on a whole scene holds every window's score. It
then trains with the recipe and prints mAP@0.5 on the 500 test scenes (with and without the
box regression) and the speed-up over the naive sliding window, timed over the same windows
in the same run. Written to --out: a score map and the detections beside the ground truth.
"""
import argparse
import os

import numpy as np

import tinyvision as tv
from tinyvision import data, recipes, viz
from tinyvision.models import Overfeat, fc_to_conv
from tinyvision.recipes import _window_classifier as W


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--out", default="runs")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    r = recipes.train_task("overfeat", epochs=args.epochs, out=args.out)
    net, _ = W.load_window_classifier(r["checkpoint"])

    # 1. FC layers as convolutions: the same numbers on one 32x32 crop.
    scene = data.ShapesScenes("test", n=1).arrays()
    image = scene["images"][0]
    crop = tv.tensor(image[None, :, 40:72, 40:72])
    convs = fc_to_conv(net.classifier, net.feature_shape)
    with tv.no_grad():
        as_fc = net(crop).data[0]
        as_conv = convs(net.features(net.normalize(crop))).data[0, :, 0, 0]
    print(f"classifier on a crop: FC {np.round(as_fc, 3)}")
    print(f"                      conv {np.round(as_conv, 3)} "
          f"(largest difference {np.abs(as_fc - as_conv).max():.1e})")

    # 2. One pass over the 128x128 scene: a 25x25 map, one cell per 32x32 window 4 px apart.
    overfeat = Overfeat(net)
    with tv.no_grad():
        logits, _ = overfeat.score_maps(tv.tensor(image[None]))
    probs = tv.functional.softmax(logits, dim=1).data[0]                 # (6, 25, 25)
    print(f"score map of a 128x128 scene: {probs.shape[1]}x{probs.shape[2]} windows in one pass")
    best = 1 + probs[1:].max(axis=(1, 2)).argmax()                       # the likeliest shape
    # Cell (i, j) is the window centred at (4j + 16, 4i + 16): padded by 4 cells (16 px)
    # on the top left and 3 on the bottom right, the map lines up with the 128 px scene.
    heat = viz.overlay_heatmap(image, np.pad(probs[best], ((4, 3), (4, 3))), normalize=False)
    path = os.path.join(args.out, "overfeat-score-map.png")
    viz.save_image_grid([viz.to_rgb_uint8(image), heat], path, nrow=2, scale=3,
                        labels=["scene", f"p({data.ShapesScenes.CLASSES[best - 1]}) per window"])
    print(f"score map: {path}")

    # 3. The detector on the test split, and the naive sliding window over the same windows.
    m = r["metrics"]
    print(f"overfeat: mAP@0.5 {m['map50']:.3f} with box regression and merging, "
          f"{m['map50_windows']:.3f} with the windows themselves (the plain sliding window)")
    print(f"{m['windows_per_image']} windows per image: naive {m['naive_ms']:.0f} ms, "
          f"overfeat {m['ms_per_image']:.0f} ms per image; speed-up {m['speedup']:.1f}x "
          f"(same windows, same run); trained in {r['seconds']:.0f} s")
    for p in r["pictures"]:
        print(f"detections: {p}")


if __name__ == "__main__":
    main()
