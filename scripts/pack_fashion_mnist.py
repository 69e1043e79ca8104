#!/usr/bin/env python
"""Checkout wrapper of `afflib-pack-fashion-mnist` (afflib/cli/pack_fashion_mnist.py): same flags, run from a source checkout."""
from afflib.cli.pack_fashion_mnist import run

if __name__ == "__main__":
    run()
