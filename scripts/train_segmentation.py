#!/usr/bin/env python
"""Checkout wrapper of `afflib-train-segmentation` (FPN segmentation with a fusion form in the long skips): `--engine torch`
runs afflib_torch/cli/train_segmentation.py in .venv-torch, the default `--engine mxnet` afflib/cli/train_segmentation.py in
.venv (afflib.core.engines)."""
from afflib.core.engines import train_segmentation

if __name__ == "__main__":
    train_segmentation()
