#!/usr/bin/env python
"""Checkout wrapper of `afflib-train-cifar` (CIFAR-10/100, Fashion-MNIST training): `--engine torch` runs afflib_torch/cli/train_cifar.py in
.venv-torch, the default `--engine mxnet` afflib/cli/train_cifar.py in .venv (afflib.core.engines)."""
from afflib.core.engines import train_cifar

if __name__ == "__main__":
    train_cifar()
