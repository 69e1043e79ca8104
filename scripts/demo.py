#!/usr/bin/env python
"""Checkout wrapper of `afflib-demo` (the README's demo): `--engine torch` runs afflib_torch/cli/demo.py in
.venv-torch, the default `--engine mxnet` afflib/cli/demo.py in .venv (afflib.core.engines)."""
from afflib.core.engines import demo

if __name__ == "__main__":
    demo()
