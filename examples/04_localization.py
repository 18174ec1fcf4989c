"""Say what the object is and where: a classifier with a second head that regresses its box.

    python examples/04_localization.py [--sweep-epochs N] [--epochs N] [--out runs]

ShapesScenes in single-object mode: one circle, square, triangle, cross or ring per 32x32
image. The network (models/localization.py) is a small CNN whose features feed two heads:
class scores (cross-entropy) and a box (cx, cy, w, h) / 32 (smooth-L1 or L2). One loss
trains both:

    L = α · CE + (1 − α) · L_box

α decides what the shared layers spend their capacity on. First a short sweep (3 epochs per
α) shows the trade. Measured: mean IoU falls steadily as α grows (0.84, 0.75, 0.67, 0.61 for
α = 0.1, 0.5, 0.9, 0.99) while accuracy moves much less (87 % at α = 0.1, 90 to 91 % for the
others, on 500 test images). The box needs features shaped for it; the class head does well on
whatever the shared layers learn (and Adam rescales each parameter's step, so even a small
weight still trains the head only that loss reaches). Then the full recipe (α = 0.2, 12
epochs) trains to the quality bar: accuracy >= 98 % and mean IoU >= 0.75 on the 500 test
images (measured: 99.2 %, 0.883).

Printed: the sweep's table, the full run's accuracy, mean IoU, training time and time per
image. Written to runs/: predicted (red) against true (green) boxes with their IoU, and the
training curves.
"""
import argparse

from tinyvision.recipes import localization as recipe


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep-epochs", type=int, default=3, help="epochs per α in the sweep")
    parser.add_argument("--epochs", type=int, default=None, help="full run (default: recipe's)")
    parser.add_argument("--out", default="runs")
    args = parser.parse_args()

    # 1. The α sweep: same data, same seed, same short schedule; only α changes.
    print(f"α sweep ({args.sweep_epochs} epochs each, smooth-L1 box loss):")
    print("   α     accuracy   mean IoU   seconds")
    for alpha in (0.1, 0.5, 0.9, 0.99):
        r = recipe.train(epochs=args.sweep_epochs, alpha=alpha, progress=False)
        m = r["metrics"]
        print(f"  {alpha:<5}  {m['accuracy']:8.1%}   {m['mean_iou']:8.3f}   {r['seconds']:7.0f}")

    # 2. The full recipe: its checkpoint and pictures go to --out.
    r = recipe.train(epochs=args.epochs, out=args.out)
    m = r["metrics"]
    print(f"localization (α = {r['settings']['alpha']}, {r['settings']['box_loss']}): "
          f"accuracy {m['accuracy']:.2%}, mean IoU {m['mean_iou']:.3f} on the test split; "
          f"trained in {r['seconds']:.0f} s, {r['ms_per_image']:.2f} ms per image at inference")
    for path in r["pictures"]:
        print(f"picture: {path}")


if __name__ == "__main__":
    main()
