"""The README's main command (``make demo``): train a small AFF network on Fashion-MNIST on the CPU and test it.

Steps: make sure Fashion-MNIST is present (installs Debian's ``dataset-fashion-mnist`` when it is missing and apt
is usable), pack it into RecordIO files (once), train through the record pipeline with ``afflib-train-cifar``,
evaluate the saved params with ``afflib-eval-cifar``, and leave the log, params and training-curve PNG in one output
folder. The training settings are the ``demo`` recipe (``afflib/core/recipes/demo.json``); ``--fusion add`` runs the
same budget with plain addition instead of AFF.
"""
import argparse
import os
import sys
import time
from pathlib import Path

from afflib.core import demorun
from afflib.core.demorun import RECIPE, TARGET_ACCURACY, TARGET_SECONDS, recipe_flags  # noqa: F401 (this tool's API)


def parse_args(argv=None) -> argparse.Namespace:
    # data parallel over two CPU contexts with one thread each (much faster here than one context with two threads)
    return demorun.demo_parser(__doc__, ("mxnet",), "this is the MXNet engine's demo; scripts/demo.py --engine torch "
                                                    "runs the PyTorch one").parse_args(argv)


def ensure_fashion_mnist(data_dir):
    """The IDX folder; installs the Debian package if it is missing and apt can be used, else explains."""
    from afflib.data.fashion_mnist import find_fashion_mnist_dir
    return demorun.ensure_fashion_mnist(find_fashion_mnist_dir, data_dir)


def tool(name: str) -> list:
    """argv of the afflib command-line tool ``name`` (``afflib.cli.<name>``) in this interpreter."""
    return [sys.executable, "-m", f"afflib.cli.{name}"]


def main(argv=None) -> None:
    args = parse_args(argv)
    out = demorun.out_folder(args)
    tic = time.time()
    idx_dir = ensure_fashion_mnist(args.data_dir)
    rec_dir = Path(os.path.expanduser(args.rec_dir))
    demorun.run_step([*tool("pack_fashion_mnist"), "--data-dir", idx_dir, "--out", rec_dir])
    prep_seconds = time.time() - tic
    devices = ["--cpus", args.cpus]
    demorun.run_demo(args, out, idx_dir, prep_seconds,
                     [*tool("train_cifar"), "--rec-dir", rec_dir, *devices, "--batch-size", args.batch_size],
                     [*tool("eval_cifar"), "--rec-dir", rec_dir, *devices])


def run() -> None:
    """Console-script entry point ``afflib-demo``."""
    main()


if __name__ == "__main__":
    run()
