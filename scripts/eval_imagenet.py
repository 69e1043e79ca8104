#!/usr/bin/env python
"""Checkout wrapper of `afflib-eval-imagenet` (afflib/cli/eval_imagenet.py): same flags, run from a source checkout."""
from afflib.cli.eval_imagenet import run

if __name__ == "__main__":
    run()
