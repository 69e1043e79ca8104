"""A tiny real Fashion-MNIST training run (scripts/train_cifar.py in a subprocess), shared by both test suites.

Framework-free (numpy only), so the PyTorch suite can train it with the MXNet environment's Python.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Optional, Tuple

from cli_helpers import REPO, script_env
from cli_helpers import write_fashion_subset as write_subset

TINY_NET = ["--model", "resnet", "--askc-type", "ASKCFuse", "--blocks", "1", "--channel-times", "1"]


def write_fashion_subset(root: Path, n_train: int, n_test: int) -> Optional[Path]:
    """:func:`cli_helpers.write_fashion_subset`, or None if Fashion-MNIST is not installed."""
    try:
        return write_subset(root, n_train, n_test)
    except FileNotFoundError:
        return None


def train_tiny_run(python: str, data_dir: Path, out: Path) -> Tuple[Path, float]:
    """One epoch of AFF-ResNet-8 (widths 16-64) on ``data_dir``; (the run's -last.params, its last validation
    accuracy as the training log prints it)."""
    cmd = [python, str(REPO / "scripts" / "train_cifar.py"), "--dataset", "fashion-mnist", "--data-dir", str(data_dir),
           "--rec-dir", str(out / "rec"), *TINY_NET, "--batch-size", "50", "--num-epochs", "1", "--lr", "0.1",
           "--save-dir", str(out / "run"), "--logging-dir", str(out / "run"), "--save-plot-dir", "", "--no-progress"]
    proc = subprocess.run(cmd, env=script_env(), capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise AssertionError(f"training failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    accuracy = re.findall(r"^\[Epoch \d+\] train=[\d.]+ val=([\d.]+)", proc.stdout, flags=re.M)[-1]
    return out / "run" / "fashion-mnist-cifar_aff_resnet8-c1-last.params", float(accuracy)
