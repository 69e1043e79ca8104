#!/usr/bin/env python
"""Checkout wrapper of `afflib-demo` (afflib/cli/demo.py): same flags, run from a source checkout."""
from afflib.cli.demo import run

if __name__ == "__main__":
    run()
