#!/usr/bin/env python
"""Checkout wrapper of `afflib-gradcam` (afflib/cli/gradcam.py): same flags, run from a source checkout."""
from afflib.cli.gradcam import run

if __name__ == "__main__":
    run()
