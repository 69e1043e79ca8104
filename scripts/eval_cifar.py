#!/usr/bin/env python
"""Checkout wrapper of `afflib-eval-cifar` (afflib/cli/eval_cifar.py): same flags, run from a source checkout."""
from afflib.cli.eval_cifar import run

if __name__ == "__main__":
    run()
