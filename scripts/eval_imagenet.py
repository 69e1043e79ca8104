#!/usr/bin/env python
"""Checkout wrapper of `afflib-eval-imagenet` (ImageNet validation error): `--engine torch` runs afflib_torch/cli/eval_imagenet.py in
.venv-torch, the default `--engine mxnet` afflib/cli/eval_imagenet.py in .venv (afflib.core.engines)."""
from afflib.core.engines import eval_imagenet

if __name__ == "__main__":
    eval_imagenet()
