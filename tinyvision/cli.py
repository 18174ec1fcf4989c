"""The ``tinyvision`` command.

    tinyvision demo          train the demo model and print its result
    tinyvision kernels       say which native kernels loaded (and why not)
"""
import argparse
import sys


def _demo(args):
    from .demo import main
    return main()


def _kernels(args):
    from . import kernels
    kernels.print_status()
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="tinyvision",
                                     description="A from-scratch deep-learning framework for vision.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser("demo", help="train the demo model (an MLP on spirals) and print its accuracy")
    p.set_defaults(run=_demo)
    p = sub.add_parser("kernels", help="list the native kernel implementations and their status")
    p.set_defaults(run=_kernels)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
