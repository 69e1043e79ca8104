#!/usr/bin/env python
"""Checkout wrapper of `afflib-launch` (afflib/cli/launch.py): same flags, run from a source checkout."""
from afflib.cli.launch import run

if __name__ == "__main__":
    run()
