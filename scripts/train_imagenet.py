#!/usr/bin/env python
"""Checkout wrapper of `afflib-train-imagenet` (ImageNet training): `--engine torch` runs afflib_torch/cli/train_imagenet.py in
.venv-torch, the default `--engine mxnet` afflib/cli/train_imagenet.py in .venv (afflib.core.engines)."""
from afflib.core.engines import train_imagenet

if __name__ == "__main__":
    train_imagenet()
