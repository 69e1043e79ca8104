#!/usr/bin/env python
"""Checkout wrapper of afflib/core/ablate.py: the paper's ablation sweep (one scripts/train_cifar.py run per cell)."""
from afflib.core.ablate import run

if __name__ == "__main__":
    run()
