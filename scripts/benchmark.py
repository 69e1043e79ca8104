#!/usr/bin/env python
"""Checkout wrapper of `afflib-benchmark` (afflib/cli/benchmark.py): same flags, run from a source checkout."""
from afflib.cli.benchmark import run

if __name__ == "__main__":
    run()
