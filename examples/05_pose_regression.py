"""Find a person's 14 joints by regression: DeepPose (Toshev & Szegedy, 2014) on stick figures.

    python examples/05_pose_regression.py [--epochs N] [--out runs]

The data (tinyvision.data.StickFigures) are stick figures in random poses on textured
backgrounds, 64x64, with the 14 joints of the LSP data set (ankles, knees, hips, wrists,
elbows, shoulders, neck, head top) and a visibility flag per joint: a joint outside the image
or under the grey occluding patch is "not visible". The network (models/pose.py) is a CNN
whose last layer outputs 28 numbers, the (x, y) of every joint relative to the image,

    ŷ_i = (y_i − image centre) / image side

trained with the ℓ2 loss summed over the *visible* joints only: an occluded joint has no
reliable label, so it must not pull the prediction anywhere. Training flips images left to
right and swaps the names of left and right joints (the figure faces us: its right side is
on our left, mirrored or not).

Printed: PCK@0.1 (a visible joint is correct when it is within 0.1 of the longer side of
the figure's joint box) overall and per joint, PCK@0.2, the training time and the time per
image (measured with the recipe's 12 epochs: PCK@0.1 0.865, PCK@0.2 0.979; the wrists,
at the end of the longest chains of joints, are hit least). Written to runs/: true (green)
and predicted (red) skeletons side by side, right limbs dark and left limbs light, hidden
joints as hollow dots; and the training curves.
"""
import argparse

from tinyvision.recipes import pose as recipe


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--out", default="runs")
    args = parser.parse_args()
    r = recipe.train(epochs=args.epochs, out=args.out)
    m = r["metrics"]
    print(f"pose regression: PCK@0.1 {m['pck@0.1']:.3f}, PCK@0.2 {m['pck@0.2']:.3f} on the "
          f"test split; trained in {r['seconds']:.0f} s, {r['ms_per_image']:.2f} ms per image")
    # The extremities move most and are hit least: wrists and ankles are the hard joints.
    print("PCK@0.1 per joint:")
    for joint, value in r["per_joint"].items():
        print(f"  {joint:<11} {value:.3f}")
    for path in r["pictures"]:
        print(f"picture: {path}")


if __name__ == "__main__":
    main()
