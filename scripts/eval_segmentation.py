#!/usr/bin/env python
"""Checkout wrapper of `afflib-eval-segmentation` (FPN segmentation with a fusion form in the long skips): `--engine torch`
runs afflib_torch/cli/eval_segmentation.py in .venv-torch, the default `--engine mxnet` afflib/cli/eval_segmentation.py in
.venv (afflib.core.engines)."""
from afflib.core.engines import eval_segmentation

if __name__ == "__main__":
    eval_segmentation()
