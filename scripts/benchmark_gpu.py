#!/usr/bin/env python
"""Checkout wrapper of afflib_torch/cli/benchmark_gpu.py (run with PYTHONPATH=. on a machine without afflib installed)."""
from afflib_torch.cli.benchmark_gpu import run

if __name__ == "__main__":
    run()
