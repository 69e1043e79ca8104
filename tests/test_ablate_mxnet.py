"""scripts/ablate.py with the MXNet engine: one cell of the Inception host with a form beyond the release's
(MS-GAU) trains through train_cifar.py --engine mxnet on a real Fashion-MNIST subset, lands in results.csv and
table.md, and a rerun reuses it. The PyTorch-engine sweep (stop, resume, several cells): tests_torch/test_ablate.py."""
from __future__ import annotations

import csv
import json

import pytest

from cli_helpers import fashion_subset_or_skip, run_script


def test_one_inception_cell_with_the_mxnet_engine(tmp_path_factory, tmp_path):
    data = fashion_subset_or_skip(tmp_path_factory, "fm_ablate_mx", 256, 100)
    out = tmp_path / "sweep"
    argv = ["--scenario", "inception", "--fusions", "MS-GAU", "--blocks", "1", "--seeds", "0", "--engine", "mxnet",
            "--data-dir", data, "--rec-dir", tmp_path / "rec", "--num-epochs", "1", "--out", out]
    proc = run_script("ablate.py", *argv, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "1 cell: 0 reused (finished before), 1 to train" in proc.stdout
    (row,) = list(csv.DictReader(open(out / "results.csv", encoding="utf-8")))
    assert (row["scenario"], row["fusion"], row["b"], row["engine"]) == ("inception", "ms-gau", "1", "mxnet")
    assert row["model"] == "cifar_aff_inception_resnet8(channels=[16,16,32,64], fusion_r=2, fusion='ms-gau')"
    config = json.loads((out / "cells" / "inception-ms-gau-b1-s0" / "run_config.json").read_text(encoding="utf-8"))
    assert config["network"]["kwargs"]["fusion"] == "ms-gau" and config["network"]["name"] == \
        "cifar_aff_inception_resnet8"
    assert "| ms-gau | 1 |" in (out / "table.md").read_text(encoding="utf-8")
    again = run_script("ablate.py", *argv, check=False)
    assert again.returncode == 0 and "1 cell: 1 reused" in again.stdout, again.stderr[-2000:]
