#!/usr/bin/env python
"""Checkout wrapper of `afflib-export` (afflib/cli/export.py): same flags, run from a source checkout."""
from afflib.cli.export import run

if __name__ == "__main__":
    run()
