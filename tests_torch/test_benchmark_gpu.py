"""The GPU benchmark script: its plan, ratios and table, and one end-to-end run on the CPU with tiny settings."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from afflib_torch.cli import benchmark_gpu as gpu

ROOT = Path(__file__).resolve().parents[1]


def test_plan_pairs_each_configuration_with_the_add_twin_and_puts_the_loader_last():
    args = gpu.parse_args(["--out", "x", "--data-loader", "pkg.mod:make"])
    labels = [spec["label"] for spec in gpu.plan(args)]
    assert labels == ["aff_resnet50 eager", "add_resnet50 eager", "aff_resnet50 compiled", "add_resnet50 compiled",
                      "aff_resnet50 compiled-unfused", "aff_resnet50 compiled + data loader"]
    args = gpu.parse_args(["--out", "x", "--configs", "eager-kernel,eager", "--baseline", "none"])
    assert [spec["label"] for spec in gpu.plan(args)] == ["aff_resnet50 eager-kernel", "aff_resnet50 eager"]
    assert args.dtype == "bfloat16" and gpu.parse_args(["--out", "x", "--device", "cpu"]).dtype == "float32"


@pytest.mark.parametrize("flags, message", [(["--configs", "eager,jit"], "--configs"),
                                            (["--data-loader", "nocolon"], "--data-loader"),
                                            (["--batch-size", "0"], "--batch-size")])
def test_bad_flags_exit_2_naming_the_flag(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        gpu.parse_args(["--out", "x"] + flags)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_ratios_come_from_the_rows_of_the_same_run_and_errors_stay_rows():
    rows = [{"label": "a", "model": "aff", "compiled": False, "loader": False, "images_per_s": 800.0,
             "window_rates": [790.0, 810.0], "first_step_s": 1.0, "compile_s": None, "peak_memory_gib": 3.0},
            {"label": "b", "model": "add", "compiled": False, "loader": False, "images_per_s": 1000.0,
             "window_rates": [1000.0], "first_step_s": 1.0, "compile_s": None, "peak_memory_gib": 2.0},
            {"label": "c", "error": "did not finish within 100 s (budget share)"}]
    gpu.summarise(rows, "add")
    assert rows[0]["time_vs_baseline"] == pytest.approx(1.25) and rows[1]["time_vs_baseline"] == 1.0
    assert rows[0]["x_release_per_gpu"] == pytest.approx(800 / 540)
    table = gpu.markdown(rows, "header")
    assert "| a | 800.0 | 790.0-810.0 | 1.250 | 1.48 |" in table and "| c | did not finish" in table


@pytest.mark.slow
def test_runs_end_to_end_on_the_cpu_with_tiny_settings(tmp_path):
    """The coordinator's GPU command with tiny CPU settings, as a fresh process from the checkout (PYTHONPATH=.),
    with the data-loader hook fed by the example factory: every row measured, JSON and table written."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark_gpu.py"), "--device", "cpu",
                           "--batch-size", "2", "--input-size", "64", "--steps", "2", "--windows", "2",
                           "--warmup", "1", "--configs", "eager", "--data-loader",
                           "afflib_torch.cli.benchmark_gpu:synthetic_batches", "--out", str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    payload = json.loads((tmp_path / "benchmark_gpu.json").read_text())
    rows = payload["results"]
    assert [r["label"] for r in rows] == ["aff_resnet50 eager", "add_resnet50 eager",
                                          "aff_resnet50 eager + data loader"]
    assert all(r["images_per_s"] > 0 and len(r["window_rates"]) >= 1 for r in rows)
    assert rows[0]["time_vs_baseline"] == pytest.approx(rows[1]["images_per_s"] / rows[0]["images_per_s"])
    assert "| aff_resnet50 eager |" in (tmp_path / "benchmark_gpu.md").read_text()
