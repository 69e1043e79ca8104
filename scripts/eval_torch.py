#!/usr/bin/env python
"""Checkout wrapper of `afflib-eval-torch` (afflib_torch/cli/eval_torch.py): same flags, run from a source checkout."""
from afflib_torch.cli.eval_torch import run

if __name__ == "__main__":
    run()
