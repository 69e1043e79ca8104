#!/usr/bin/env python
"""Checkout wrapper of `afflib-train-cifar` (afflib/cli/train_cifar.py): same flags, run from a source checkout."""
from afflib.cli.train_cifar import run

if __name__ == "__main__":
    run()
