"""The ``tinyvision`` command.

    tinyvision demo [NAME]                    the README's demo: train something real, print
                                              its metric, write a PNG of the result
    tinyvision train MODEL [--data NAME ...]  train a classifier (--data) or a task recipe;
                                              save a checkpoint and pictures
    tinyvision eval CHECKPOINT                evaluate a saved checkpoint on its test split
    tinyvision bench [--full]                 run the benchmark scripts (from a source checkout)
    tinyvision kernels                        which native kernels loaded, and why not

Wrong arguments get a one-line error and exit status 2; a failure (a missing file, a
missing optional package) gets a one-line error and exit status 1.
"""
import argparse
import os
import subprocess
import sys


class CommandError(Exception):
    """A failure to report in one line, without a traceback."""


def _demo(args):
    from . import demo
    return demo.main(args.name, out=args.out)


def _train(args):
    from . import recipes
    from .models import CLASSIFIERS
    if args.model in CLASSIFIERS:
        result = recipes.train_classifier(args.model, args.data, epochs=args.epochs,
                                          batch_size=args.batch_size, lr=args.lr,
                                          optimizer=args.optimizer, seed=args.seed,
                                          out=args.out)
        print(f"{args.model} on {args.data}: test accuracy {result['test_accuracy']:.2%}, "
              f"trained in {result['seconds']:.0f} s, inference "
              f"{result['ms_per_image']:.2f} ms/image")
        _print_paths(result)
        return 0
    result = recipes.train_task(args.model, epochs=args.epochs, seed=args.seed, out=args.out)
    figures = ", ".join(f"{k} {v:.4g}" for k, v in result["metrics"].items())
    print(f"{args.model}: {figures}, trained in {result['seconds']:.0f} s, inference "
          f"{result['ms_per_image']:.2f} ms/image")
    _print_paths(result)
    return 0


def _print_paths(result):
    if result.get("checkpoint"):
        print(f"checkpoint: {result['checkpoint']}")
    for path in result.get("pictures", []):
        print(f"picture:    {path}")


def _eval(args):
    from . import load, recipes
    if not os.path.exists(args.checkpoint):
        raise CommandError(f"eval: no such file: {args.checkpoint}")
    try:
        state = load(args.checkpoint)
        meta = state["meta"]
        task = meta.get("task")
        if task is None:
            model_name, data, input_size = meta["model"], meta["data"], meta["input_size"]
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CommandError(f"eval: {args.checkpoint} is not a tinyvision training checkpoint ({e})")
    if task is not None:
        metrics = recipes.task(task).evaluate(args.checkpoint)
        figures = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
        print(f"{task} (test split): {figures}")
        return 0
    _, test, num_classes, in_channels, _ = recipes.load_classification(data)
    model = recipes.build_classifier(model_name, num_classes, in_channels, input_size, data)
    model.load_state_dict(state["model"])
    accuracy = recipes.evaluate(model, test)
    print(f"{model_name} on {data} (test split, {len(test)} images): accuracy {accuracy:.2%}")
    return 0


def _bench(args):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    scripts = [os.path.join(root, "benchmarks", s) for s in ("engine.py", "ops.py", "models.py")]
    if not all(os.path.exists(s) for s in scripts):
        raise CommandError("bench: the benchmark scripts live in the source checkout "
                           "(benchmarks/); install with `pip install -e .` from a clone")
    for script in scripts:
        print(f"\n$ python {os.path.relpath(script, root)}{'' if args.full else ' --quick'}")
        cmd = [sys.executable, script] + ([] if args.full else ["--quick"])
        if subprocess.run(cmd, cwd=root).returncode != 0:
            raise CommandError(f"bench: {os.path.basename(script)} failed")
    return 0


def _kernels(args):
    from . import kernels
    kernels.print_status()
    return 0


def build_parser():
    from .models import CLASSIFIERS
    from .recipes import DATASETS, TASKS

    parser = argparse.ArgumentParser(prog="tinyvision",
                                     description="A from-scratch deep-learning framework for vision.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("demo", help="train a small model on embedded data and show the result")
    p.add_argument("name", nargs="?", default="spirals", choices=["spirals"],
                   help="which demo (default: spirals)")
    p.add_argument("--out", default="tinyvision-demo", help="folder for the PNG (default: %(default)s)")
    p.set_defaults(run=_demo)

    p = sub.add_parser("train", help="train a model of the zoo; save a checkpoint and pictures",
                       description="Train a classifier on --data, or a task of the zoo "
                                   "(localization, detectors, ...) on its recipe's data.")
    p.add_argument("model", choices=sorted(CLASSIFIERS) + sorted(TASKS),
                   help="a classifier (needs --data) or a task recipe")
    p.add_argument("--data", choices=DATASETS, help="classifiers only: the data set")
    p.add_argument("--epochs", type=_positive(int))
    p.add_argument("--batch-size", type=_positive(int))
    p.add_argument("--lr", type=_positive(float))
    p.add_argument("--optimizer", choices=["sgd", "adam"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs", help="folder for checkpoint and PNGs (default: %(default)s)")
    p.set_defaults(run=_train)

    p = sub.add_parser("eval", help="evaluate a checkpoint written by `tinyvision train`")
    p.add_argument("checkpoint")
    p.set_defaults(run=_eval)

    p = sub.add_parser("bench", help="run benchmarks/engine.py, ops.py and models.py")
    p.add_argument("--full", action="store_true", help="full shapes and repeats (slow)")
    p.set_defaults(run=_bench)

    p = sub.add_parser("kernels", help="list the native kernel implementations and their status")
    p.set_defaults(run=_kernels)
    return parser


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}")
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return parse


def _check_train_arguments(parser, args):
    """Classifiers need --data; a task recipe brings its own data and settings."""
    from .models import CLASSIFIERS
    from .recipes import DATASETS
    if args.model in CLASSIFIERS:
        if args.data is None:
            parser.error(f"train: {args.model} is a classifier: choose its data with --data "
                         f"({', '.join(DATASETS)})")
        return
    for flag, value in (("--data", args.data), ("--batch-size", args.batch_size),
                        ("--lr", args.lr), ("--optimizer", args.optimizer)):
        if value is not None:
            parser.error(f"train: {flag} is for classifiers; {args.model} trains on its own "
                         f"recipe's data and settings (--epochs, --seed and --out apply)")


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "train":
        _check_train_arguments(parser, args)
    try:
        return args.run(args)
    except (CommandError, ImportError, OSError, ValueError) as e:
        print(f"tinyvision: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tinyvision: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
