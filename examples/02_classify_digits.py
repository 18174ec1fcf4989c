"""Classify handwritten digits with LeNet-5 and a small ResNet, and compare them.

    python examples/02_classify_digits.py [--model lenet5|resnet|both] [--epochs N]

The UCI digits (1,797 8x8 scans that scikit-learn ships: `pip install tinyvision[data]`) are
upsampled to 32x32, the size LeNet-5 was designed for. Each model trains with the settings in
tinyvision/recipes.py, prints its test accuracy and training time, and writes two PNGs to
runs/: a grid of test digits titled with the predictions, and the training curves.

What to look at: LeNet-5 (1998, ~60k weights, tanh, average pooling) against a ResNet-8
(2016, batch norm, residual connections, ~78k weights): how fast each loss falls, and which
digits each gets wrong.
"""
import argparse

from tinyvision import recipes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["lenet5", "resnet", "both"], default="both")
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--out", default="runs")
    args = parser.parse_args()
    names = ["lenet5", "resnet"] if args.model == "both" else [args.model]
    for name in names:
        r = recipes.train_classifier(name, "digits", epochs=args.epochs, out=args.out)
        print(f"{name:>8} on digits: test accuracy {r['test_accuracy']:.2%} "
              f"({round((1 - r['test_accuracy']) * 359)} of 359 wrong), trained in "
              f"{r['seconds']:.0f} s, {r['ms_per_image']:.2f} ms per image at inference")
        for path in r["pictures"]:
            print(f"          {path}")


if __name__ == "__main__":
    main()
