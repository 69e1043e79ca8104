"""scripts/ablate.py end to end with the PyTorch engine, as a user runs it: a micro grid (2 forms x b = 1 x 2 seeds,
a real Fashion-MNIST subset, 1 epoch) stopped by SIGTERM after its first cell, resumed (the finished cell reused),
tabulated (results.csv, table.md, the PNG) and, run again, retraining nothing."""
from __future__ import annotations

import csv
import json
import signal
from pathlib import Path

import pytest

from cli_helpers import fashion_subset_or_skip, run_script, run_script_until


@pytest.fixture(scope="module")
def subset(tmp_path_factory) -> Path:
    return fashion_subset_or_skip(tmp_path_factory, "fm_ablate", 320, 100)


@pytest.mark.slow
def test_micro_grid_stops_resumes_tabulates_and_reruns_nothing(subset, tmp_path):
    out = tmp_path / "sweep"
    argv = ["--scenario", "resnet", "--fusions", "add,AFF", "--blocks", "1", "--seeds", "0,1", "--dataset",
            "fashion-mnist", "--data-dir", subset, "--engine", "torch", "--recipe", "ablation_short", "--num-epochs",
            "1", "--train-size", "256", "--device", "cpu", "--threads", "1", "--out", out]
    status, _, err = run_script_until("ablate.py", *argv, line_prefix="resnet-add-b1-s0: accuracy",
                                      action=lambda proc: proc.send_signal(signal.SIGTERM))
    assert status == 143, err[-2000:]
    assert "interrupted: stopped the running cells (rerun the same command to resume)" in err
    assert "Traceback" not in err

    resumed = run_script("ablate.py", *argv, "--jobs", "2", check=False)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "4 cells: 1 reused (finished before), 3 to train" in resumed.stdout
    rows = list(csv.DictReader(open(out / "results.csv", encoding="utf-8")))
    assert sorted((r["fusion"], r["seed"]) for r in rows) == [("add", "0"), ("add", "1"), ("aff", "0"), ("aff", "1")]
    assert all(r["epochs"] == "1" and 0 < float(r["accuracy"]) <= 1 and int(r["parameters"]) > 0 for r in rows)
    params = {r["fusion"]: int(r["parameters"]) for r in rows}
    assert params["aff"] > params["add"]                      # the attention branches' weights
    table = (out / "table.md").read_text(encoding="utf-8")
    assert "| add | 1 |" in table and "| aff | 1 |" in table and "| 2 |" in table and "74.00 |" in table
    assert "label set measured: fashion-mnist" in table
    assert (out / "accuracy_vs_b.png").read_bytes()[:4] == b"\x89PNG"
    # every cell is a normal run folder of the training tool, its network the form's host with the paper's r
    config = json.loads((out / "cells" / "resnet-aff-b1-s1" / "run_config.json").read_text(encoding="utf-8"))
    assert config["network"]["text"] == "cifar_aff_resnet8(channels=[16,16,32,64], fusion_r=2, in_channels=1, " \
                                        "classes=10)"
    assert config["args"]["seed"] == 1 and config["args"]["train_size"] == 256

    again = run_script("ablate.py", *argv, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "4 cells: 4 reused (finished before), 0 to train" in again.stdout and "training" not in again.stdout
    assert list(csv.DictReader(open(out / "results.csv", encoding="utf-8"))) == rows


@pytest.mark.slow
def test_the_long_skip_column_trains_segmentation_cells_and_tabulates_miou(tmp_path):
    if not Path("/usr/share/datasets/fashion-mnist").is_dir():
        pytest.skip("Fashion-MNIST IDX files missing (apt-get install dataset-fashion-mnist)")
    recipe = tmp_path / "tiny.json"
    recipe.write_text(json.dumps({"name": "tiny_segmentation", "train_size": 64, "test_size": 32, "num_epochs": 1,
                                  "batch_size": 16, "lr": 0.05, "optimizer": "adagrad"}))
    out = tmp_path / "sweep"
    argv = ["--scenario", "fpn", "--fusions", "add,ms-sa", "--seeds", "0", "--recipe", recipe, "--engine", "torch",
            "--device", "cpu", "--threads", "1", "--out", out]
    first = run_script("ablate.py", *argv, check=False)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "2 cells: 0 reused (finished before), 2 to train" in first.stdout
    rows = {r["fusion"]: r for r in csv.DictReader(open(out / "results.csv", encoding="utf-8"))}
    assert set(rows) == {"add", "ms-sa"} and int(rows["ms-sa"]["parameters"]) > int(rows["add"]["parameters"])
    history = json.loads((out / "cells" / "fpn-ms-sa-b1-s0" / "history.json").read_text())["epochs"]
    assert float(rows["ms-sa"]["accuracy"]) == pytest.approx(history[-1]["val_miou"], abs=1e-4)
    config = json.loads((out / "cells" / "fpn-ms-sa-b1-s0" / "run_config.json").read_text())
    assert "fusion='ms-sa'" in config["network"]["text"] and "fusion_r=2" in config["network"]["text"]
    table = (out / "table.md").read_text(encoding="utf-8")
    assert "## fpn host" in table and "| fusion | b | mIoU (%) |" in table
    assert "label set measured: fashion-mnist-scenes" in table
    again = run_script("ablate.py", *argv, check=False)
    assert "2 cells: 2 reused (finished before), 0 to train" in again.stdout
