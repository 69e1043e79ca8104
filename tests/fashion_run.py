"""A tiny real Fashion-MNIST training run (scripts/train_cifar.py in a subprocess), shared by both test suites.

Framework-free (numpy only), so the PyTorch suite can train it with the MXNet environment's Python.
"""
from __future__ import annotations

import gzip
import re
import struct
import subprocess
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from cli_helpers import REPO, script_env

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
TINY_NET = ["--model", "resnet", "--askc-type", "ASKCFuse", "--blocks", "1", "--channel-times", "1"]


def _read_idx(path: Path) -> np.ndarray:
    raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    dims = struct.unpack(f">{raw[3]}I", raw[4:4 + 4 * raw[3]])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * raw[3]).reshape(dims)


def write_fashion_subset(root: Path, n_train: int, n_test: int) -> Optional[Path]:
    """The first images of the real Fashion-MNIST splits as plain IDX files in ``root``; None if not installed."""
    root.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            source = FASHION_MNIST / f"{prefix}-{kind}.gz"
            if not source.is_file():
                return None
            array = _read_idx(source)[:n]
            header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
            (root / f"{prefix}-{kind}").write_bytes(header + array.tobytes())
    return root


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
