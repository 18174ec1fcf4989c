"""Name the shape in synthetic scenes with an all-convolutional net (1x1 convs + global
average pooling), and see what the class score maps look like before pooling.

    python examples/03_classify_shapes.py [--epochs N]

ShapesScenes in single-object mode: one circle, square, triangle, cross or ring per 32x32
image, on a textured background. The network has no fully connected layer: its last layer
is a 1x1 convolution that scores every class at every position (an FC layer applied
everywhere), and global average pooling turns each map into one score. Printed: test
accuracy and time; written to runs/: predictions, training curves, and the class maps of a
few test images (the map of the predicted class lights up where the object is — the idea
CAM builds on).
"""
import argparse
import os

import numpy as np

import tinyvision as tv
from tinyvision import recipes, viz


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--out", default="runs")
    args = parser.parse_args()
    r = recipes.train_classifier("allconv", "shapes", epochs=args.epochs, out=args.out)
    print(f"allconv on shapes: test accuracy {r['test_accuracy']:.2%}, trained in "
          f"{r['seconds']:.0f} s, {r['ms_per_image']:.2f} ms per image at inference")

    # The class maps before global average pooling, for the first 8 test images.
    model = recipes.build_classifier("allconv", 5, 3, 32, data="shapes")
    model.load_state_dict(tv.load(r["checkpoint"])["model"])
    model.eval()
    _, test, *_ = recipes.load_classification("shapes")
    images = np.stack([test[i][0] for i in range(8)])
    with tv.no_grad():
        maps = model.class_maps(tv.tensor(images)).data          # (8, 5, h, w)
    pred = maps.mean(axis=(2, 3)).argmax(1)
    shown = [viz.overlay_heatmap(img, m[p]) for img, m, p in zip(images, maps, pred)]
    path = os.path.join(args.out, "allconv-shapes-class-maps.png")
    viz.save_image_grid(np.stack(shown), path, nrow=8, scale=2,
                        labels=[r["class_names"][p] for p in pred])
    print(f"class maps: {path}")


if __name__ == "__main__":
    main()
