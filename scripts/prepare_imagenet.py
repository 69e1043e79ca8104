#!/usr/bin/env python
"""Checkout wrapper of `afflib-prepare-imagenet` (afflib/cli/prepare_imagenet.py): same flags, run from a source checkout."""
from afflib.cli.prepare_imagenet import run

if __name__ == "__main__":
    run()
