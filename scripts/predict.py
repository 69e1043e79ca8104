#!/usr/bin/env python
"""Checkout wrapper of `afflib-predict` (afflib/cli/predict.py): same flags, run from a source checkout."""
from afflib.cli.predict import run

if __name__ == "__main__":
    run()
