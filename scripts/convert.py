#!/usr/bin/env python
"""Checkout wrapper of `afflib-convert` (afflib_torch/cli/convert.py): same flags, run from a source checkout."""
from afflib_torch.cli.convert import run

if __name__ == "__main__":
    run()
