"""Detect shapes with Fast R-CNN: one CNN pass per image, RoI pooling of every proposal,
one network trained end to end; and how much faster it is than R-CNN.

    python examples/10_fast_rcnn.py [--epochs N] [--out runs] [--roi align|pool]

Fast R-CNN (Girshick, ICCV 2015) keeps R-CNN's proposals but runs the convolutions once over
the whole image; each proposal is cut out of the feature map and pooled into a 7 x 7 grid,
and two heads give its class scores and per-class box offsets. One loss, cross-entropy +
smooth-L1 on the offsets, trains everything at once by SGD (tinyvision/models/fast_rcnn.py
has the equations). The paper pools with RoI pooling, which rounds each box to whole cells
of the feature map; on these 128 x 128 scenes a cell is 8 px, as large as the smallest
shapes, so the recipe samples the map bilinearly instead (RoI align, Mask R-CNN's fix):
try --roi pool to see what the rounding costs. At test time fc6 and fc7 are replaced by
their truncated SVD (the paper's Sec. 3.1), a faster head for the 300 RoIs of an image.

Printed: mAP@0.5 and COCO AP on the 500 test scenes, the time per image, and the speed-up
over R-CNN measured in this run on the same scenes and proposals, without selective search
(the paper's comparison) and with it. Run example 09 first with the same --out to time the
trained R-CNN; otherwise an untrained R-CNN of the same size is timed (its SVMs reject every
box, so its time is a lower bound). Written to runs/: ground truth beside the detections
(score >= 0.5), and the RoI-pooled features of one scene's best detections.
"""
import argparse
import os

import numpy as np

import tinyvision as tv
from tinyvision import viz
from tinyvision.recipes import fast_rcnn as recipe
from tinyvision.recipes.rcnn import CLASS_NAMES, scene_proposals, scenes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--out", default="runs")
    parser.add_argument("--roi", choices=("align", "pool"), default="align",
                        help="RoI align (the recipe's) or RoI pooling (the paper's)")
    args = parser.parse_args()
    recipe.SETTINGS["model"]["roi"] = args.roi

    # 1. Train end to end and evaluate on the test split; time it against R-CNN.
    r = recipe.train(epochs=args.epochs, out=args.out)
    m, speed = r["metrics"], r["speed"]
    print(f"Fast R-CNN (RoI {args.roi}) trained in {r['seconds']:.0f} s "
          f"(of which selective search of the training scenes {r['proposal_seconds']:.0f} s)")
    print(f"test split (500 scenes): mAP@0.5 {m['mAP@0.5']:.3f}, COCO AP {m['AP']:.3f} "
          f"(AP50 {m['AP50']:.3f}, AP75 {m['AP75']:.3f}; small/medium/large "
          f"{m['APs']:.3f}/{m['APm']:.3f}/{m['APl']:.3f})")
    print(f"time per image: {r['ms_per_image']:.1f} ms; {r['ms_per_image_with_proposals']:.0f} "
          f"ms with selective search ({r['proposal_ms_per_image']:.0f} ms)")
    print(f"against R-CNN ({speed['rcnn']}) on {speed['images']} test scenes: "
          f"{speed['rcnn_ms']:.0f} ms against {speed['fast_rcnn_ms']:.1f} ms per image, "
          f"{speed['speedup']:.1f}x faster without selective search, "
          f"{speed['speedup_with_proposals']:.1f}x with it")

    # 2. What the heads see: the 7x7 RoI-pooled map of the best detections of one scene
    #    (the channel mean, one picture per detection), beside the scene itself.
    model = recipe.load_model(r["checkpoint"])
    test, one = scenes("test", 1)
    proposals, _ = scene_proposals(test)
    detections = model(one["images"], proposals=proposals)[0]
    boxes = detections["boxes"].numpy()[:8]
    with tv.no_grad():
        features = model.backbone(tv.tensor((one["images"] - model.mean.data) / model.std.data))
        pooled = model.roi_pool(features, [boxes]).numpy().mean(axis=1)      # (D, 7, 7)
    pooled = (pooled - pooled.min()) / max(np.ptp(pooled), 1e-8)
    cells = [viz.draw_detections(one["images"][0], boxes, detections["labels"].numpy()[:8],
                                 detections["scores"].numpy()[:8], CLASS_NAMES, 0.0)]
    cells += [viz.apply_colormap(p.repeat(18, axis=0).repeat(18, axis=1), "viridis")
              for p in pooled]                                    # each bin as 18x18 pixels
    names = ["detections"] + [f"{CLASS_NAMES[int(c)]} {s:.2f}" for c, s in
                              zip(detections["labels"].numpy()[:8], detections["scores"].numpy())]
    path = os.path.join(args.out, "fast_rcnn-shapes-roi-features.png")
    viz.save_image_grid(cells, path, nrow=len(cells), labels=names, scale=2)
    for p in r["pictures"] + [path]:
        print(f"picture: {p}")


if __name__ == "__main__":
    main()
