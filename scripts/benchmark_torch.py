#!/usr/bin/env python
"""Checkout wrapper of `afflib-benchmark-torch` (afflib_torch/cli/benchmark_torch.py): same flags, run from a source checkout."""
from afflib_torch.cli.benchmark_torch import run

if __name__ == "__main__":
    run()
