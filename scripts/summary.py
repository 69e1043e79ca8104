#!/usr/bin/env python
"""Checkout wrapper of `afflib-summary` (afflib/cli/summary.py): same flags, run from a source checkout."""
from afflib.cli.summary import run

if __name__ == "__main__":
    run()
