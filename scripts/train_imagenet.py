#!/usr/bin/env python
"""Checkout wrapper of `afflib-train-imagenet` (afflib/cli/train_imagenet.py): same flags, run from a source checkout."""
from afflib.cli.train_imagenet import run

if __name__ == "__main__":
    run()
