#!/usr/bin/env python
"""Checkout wrapper of `afflib-download-params` (afflib/cli/download_params.py): same flags, run from a source checkout."""
from afflib.cli.download_params import run

if __name__ == "__main__":
    run()
