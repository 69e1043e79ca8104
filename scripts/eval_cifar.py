#!/usr/bin/env python
"""Checkout wrapper of `afflib-eval-cifar` (small-image test accuracy): `--engine torch` runs afflib_torch/cli/eval_cifar.py in
.venv-torch, the default `--engine mxnet` afflib/cli/eval_cifar.py in .venv (afflib.core.engines)."""
from afflib.core.engines import eval_cifar

if __name__ == "__main__":
    eval_cifar()
