"""The README's main command on the PyTorch engine (``make demo ENGINE=torch``): train the demo recipe's small
AFF network on Fashion-MNIST on the CPU and test it, as ``afflib.cli.demo`` does with MXNet.

Steps: make sure Fashion-MNIST is present (installs Debian's ``dataset-fashion-mnist`` when it is missing and apt
is usable), train from the IDX files with ``afflib_torch.cli.train_cifar`` (one process, ``--cpus`` threads,
channels-last, the same global batch as the MXNet demo's contexts), evaluate the saved ``-last`` params with
``afflib_torch.cli.eval_cifar``, and leave log, checkpoints and history in one output folder. Ends with the test
accuracy line.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Optional

from afflib.core import demorun

from ..train.smalldata import default_data_dir

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def parse_args(argv=None) -> argparse.Namespace:
    return demorun.demo_parser(__doc__, ("torch",), "this is the PyTorch engine's demo (scripts/demo.py "
                                                    "--engine torch)").parse_args(argv)


def find_fashion_mnist(data_dir: Optional[str]) -> Path:
    """The first folder (``data_dir``, else the standard ones) holding the four IDX files (plain or .gz)."""
    folders = [data_dir] if data_dir else list(default_data_dir("fashion-mnist"))
    for folder in (Path(os.path.expanduser(f)) for f in folders):
        if all((folder / name).is_file() or (folder / (name + ".gz")).is_file() for name in FILES):
            return folder
    raise FileNotFoundError(f"Fashion-MNIST IDX files ({', '.join(FILES)}) not found in {', '.join(folders)} "
                            "(Debian: apt-get install dataset-fashion-mnist, or pass --data-dir)")


def main(argv=None) -> None:
    args = parse_args(argv)
    engine = ["--device", "cpu", "--threads", args.cpus, "--channels-last"]
    demorun.run_demo(args, find_fashion_mnist,
                     [*demorun.tool("afflib_torch.cli", "train_cifar"), *engine, "--batch-size",
                      args.batch_size * args.cpus],
                     [*demorun.tool("afflib_torch.cli", "eval_cifar"), *engine],
                     env={"OMP_NUM_THREADS": str(args.cpus)})


def run() -> None:
    """Console entry (``afflib-demo --engine torch``)."""
    main()


if __name__ == "__main__":
    run()
