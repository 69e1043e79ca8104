"""The README's main command (``make demo``): train a small AFF network on Fashion-MNIST on the CPU and test it.

Steps: make sure Fashion-MNIST is present (installs Debian's ``dataset-fashion-mnist`` when it is missing and apt
is usable), pack it into RecordIO files (once), train through the record pipeline with ``afflib-train-cifar``,
evaluate the saved params with ``afflib-eval-cifar``, and leave the log, params and training-curve PNG in one output
folder. The training settings are the ``demo`` recipe (``afflib/core/recipes/demo.json``); ``--fusion add`` runs the
same budget with plain addition instead of AFF.
"""
import argparse
import os
from pathlib import Path

from afflib.core import demorun
from afflib.core.demorun import RECIPE, TARGET_ACCURACY, TARGET_SECONDS, recipe_flags  # noqa: F401 (this tool's API)


def parse_args(argv=None) -> argparse.Namespace:
    # data parallel over two CPU contexts with one thread each (much faster here than one context with two threads)
    return demorun.demo_parser(__doc__, ("mxnet",), "this is the MXNet engine's demo; scripts/demo.py --engine torch "
                                                    "runs the PyTorch one").parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    from afflib.data.fashion_mnist import find_fashion_mnist_dir
    rec_dir = Path(os.path.expanduser(args.rec_dir))
    devices = ["--cpus", args.cpus]
    demorun.run_demo(args, find_fashion_mnist_dir,
                     [*demorun.tool("afflib.cli", "train_cifar"), "--rec-dir", rec_dir, *devices, "--batch-size",
                      args.batch_size],
                     [*demorun.tool("afflib.cli", "eval_cifar"), "--rec-dir", rec_dir, *devices],
                     prepare=lambda idx_dir: demorun.run_step([*demorun.tool("afflib.cli", "pack_fashion_mnist"),
                                                               "--data-dir", idx_dir, "--out", rec_dir]))


def run() -> None:
    """Console-script entry point ``afflib-demo``."""
    main()


if __name__ == "__main__":
    run()
