"""train_cifar --engine torch under torchrun, as a user runs it: 2 CPU processes (gloo over 127.0.0.1) on a real
Fashion-MNIST subset; rank 0 alone writes the run's folder, both ranks sum the same training metrics."""
from __future__ import annotations

import importlib.util
import json
import re
import time
from pathlib import Path
from typing import List

import pytest

from afflib.core.checkpoint_record import verify_set
from cli_helpers import fashion_subset_or_skip
from test_ddp import finish, torchrun

LAST = "fashion-mnist-cifar_aff_resnet8-c1-last"
pytestmark = pytest.mark.skipif(importlib.util.find_spec("afflib_torch.cli.train_cifar") is None,
                                reason="the torch engine's train_cifar (loop part) is not in this checkout")
EPOCHS = 3


@pytest.fixture(scope="module")
def subset(tmp_path_factory) -> Path:
    return fashion_subset_or_skip(tmp_path_factory, "fm_ddp", 256, 64)


def train_cifar(data: Path, out: Path) -> List[str]:
    """The tool and a tiny run: 256 images = 8 batches of 16 per rank and epoch (global batch 32)."""
    return ["-m", "afflib_torch.cli.train_cifar", "--dataset", "fashion-mnist", "--blocks", "1", "--channel-times",
            "1", "--start-layer", "2", "--device", "cpu", "--threads", "1", "--no-progress", "--save-plot-dir", "",
            "--data-dir", data, "--save-dir", out, "--batch-size", "16", "--num-epochs", str(EPOCHS), "--lr", "0.1",
            "--log-interval", "0", "--save-period", "0"]


@pytest.fixture(scope="module")
def uninterrupted(subset, tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp_run")
    started = time.monotonic()
    job = torchrun(train_cifar(subset, out / "run"), out)
    log = finish(job, 400)
    print(f"torchrun train_cifar, {EPOCHS} epochs: {time.monotonic() - started:.1f} s")
    assert job.returncode == 0, log[-4000:]
    return out / "run", log


@pytest.mark.slow
def test_rank_0_alone_writes_the_run_folder(uninterrupted):
    run, output = uninterrupted
    assert sorted(p.name for p in run.iterdir() if p.suffix not in (".params", ".pt", ".json")) == \
        ["train_fashion-mnist-cifar_aff_resnet8-c1.log"]            # no temp files of two writers
    log = (run / "train_fashion-mnist-cifar_aff_resnet8-c1.log").read_text()
    for epoch in range(EPOCHS):     # once in the log file; both ranks print the summed training metrics
        assert len(re.findall(rf"^\[Epoch {epoch}\] validation: ", log, re.M)) == 1, log
        assert len(set(re.findall(rf"^\[Epoch {epoch}\] training: (.*)$", output, re.M))) == 1, output[-3000:]
        assert len(re.findall(rf"^\[Epoch {epoch}\] training: ", output, re.M)) == 2, output[-3000:]
    assert json.loads((run / "run_config.json").read_text())["world_size"] == 2
    record = verify_set(str(run / f"{LAST}.json"), ("params",))
    assert record["next_epoch"] == EPOCHS
    history = json.loads((run / "history.json").read_text())["epochs"]
    assert [e["epoch"] for e in history] == list(range(EPOCHS)) and history[-1]["val_samples"] == 64
