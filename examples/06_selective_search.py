"""Find the objects of a scene without knowing what they are: selective search proposals.

    python examples/06_selective_search.py [--images N] [--out runs]

R-CNN does not look everywhere: it classifies ~2,000 boxes per image that selective search
proposes. Selective search (Uijlings et al., IJCV 2013) cuts the image into small regions
(Felzenszwalb-Huttenlocher graph segmentation), then merges the two most similar neighbours
again and again (similar colour, similar texture, small, filling each other's box) until
one region is left; every region ever formed gives a box. It repeats this in several colour
spaces and with several thresholds ("fast" mode: HSV and Lab, k = 50 and 100, two
similarity mixes: 8 hierarchies) and ranks the boxes of all of them together.

Printed: the segmentation of one scene, then recall at IoU 0.5 against the number of
proposals kept per image (the share of objects that some box among the first n overlaps by
>= 0.5) on the first N test scenes, and the time per image. Written to runs/: the
segmentations, the top proposals and the best proposal per object, and the recall curve.
The full test split (500 scenes, the README's row) is ``tinyvision train selective_search``.
"""
import argparse
import os
import time

import numpy as np

from tinyvision import viz
from tinyvision.data import ShapesScenes
from tinyvision.metrics import proposal_recall
from tinyvision.models import felzenszwalb, selective_search
from tinyvision.recipes import selective_search as recipe


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50, help="test scenes to measure on")
    parser.add_argument("--out", default="runs")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    data = ShapesScenes("test", n=args.images)

    # 1. The initial regions: graph segmentation at fast mode's two thresholds and one more.
    #    A larger k (for 0..255 intensities) lets regions grow across stronger edges: fewer
    #    regions.
    image, target = data[0]
    pictures = [image]
    for k in (50, 100, 300):
        labels = felzenszwalb(image, scale=k, sigma=0.8, min_size=20).numpy()
        print(f"felzenszwalb k={k}: {labels.max() + 1} regions for "
              f"{len(target['boxes'])} objects")
        colours = np.random.default_rng(k).random((labels.max() + 1, 3))
        pictures.append(colours[labels].transpose(2, 0, 1).astype(np.float32))
    path = os.path.join(args.out, "selective_search-segments.png")
    viz.save_image_grid(np.stack(pictures), path, nrow=4, scale=2,
                        labels=["scene", "k = 50", "k = 100", "k = 300"])
    print(f"segmentations: {path}")

    # 2. Proposals for N scenes, timed one image at a time.
    proposals, gt = [], []
    start = time.perf_counter()
    for i in range(len(data)):
        image, target = data[i]
        proposals.append(selective_search(image, mode="fast").numpy())
        gt.append(target["boxes"])
    ms = (time.perf_counter() - start) * 1e3 / len(data)
    print(f"\nselective search (fast) on {len(data)} test scenes: {ms:.0f} ms per image, "
          f"{np.mean([len(p) for p in proposals]):.0f} boxes per image on average")

    # 3. Recall against the number of proposals kept.
    curve = proposal_recall(proposals, gt, counts=recipe.COUNTS)
    print(f"{'proposals':>10}  recall@0.5")
    for n, recall in curve.items():
        print(f"{n:>10}  {recall:.3f}")
    pictures = [recipe.save_proposal_picture(data, proposals, args.out),
                recipe.plot_recall_curve(curve, os.path.join(args.out,
                                                             "selective_search-shapes-recall.png"))]
    for path in pictures:
        print(f"picture: {path}")


if __name__ == "__main__":
    main()
