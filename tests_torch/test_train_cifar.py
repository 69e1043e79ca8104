"""The PyTorch engine's train_cifar through its command line, as a user runs it (``scripts/train_cifar.py --engine
torch`` in real subprocesses, a real Fashion-MNIST subset): exact resume after SIGINT, NaN stop, bad flags, and the
eval tool reading the run's checkpoint alone."""
from __future__ import annotations

import json
import re
import signal
from pathlib import Path
from typing import List

import numpy as np
import pytest
import torch

from afflib.core.checkpoint_record import verify_set
from afflib.core.params_io import load_params
from cli_helpers import fashion_subset_or_skip, run_script, run_script_until

TINY = ["--engine", "torch", "--dataset", "fashion-mnist", "--blocks", "1", "--channel-times", "1", "--start-layer", "2",
        "--device", "cpu", "--threads", "1", "--no-progress", "--save-plot-dir", ""]
LAST = "fashion-mnist-cifar_aff_resnet8-c1-last"


@pytest.fixture(scope="module")
def subset(tmp_path_factory) -> Path:
    return fashion_subset_or_skip(tmp_path_factory, "fm_torch_train", 640, 200)


def run_tool(tool: str, *args):
    """``scripts/<tool>.py ARGS`` (the dispatcher: ``--engine torch`` runs ``afflib_torch.cli.<tool>``)."""
    return run_script(f"{tool}.py", *args, check=False)


def recipe(data: Path, out: Path) -> List[str]:
    return [*TINY, "--data-dir", data, "--save-dir", out, "--batch-size", "32", "--num-epochs", "2", "--lr", "0.1",
            "--cosine", "--warmup-epochs", "1", "--label-smoothing", "--no-wd", "--mixup", "--mixup-off-epoch", "1",
            "--log-interval", "1", "--save-period", "0"]


@pytest.mark.slow
def test_sigint_mid_epoch_then_resume_gives_the_uninterrupted_weights(subset, tmp_path):
    whole = run_tool("train_cifar", *recipe(subset, tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr[-2000:]

    status, _, err = run_script_until("train_cifar.py", *recipe(subset, tmp_path / "cut"),
                                      line_prefix="Epoch[0] Batch [6]",
                                      action=lambda proc: proc.send_signal(signal.SIGINT))
    assert status == 130, err[-2000:]
    assert "interrupted: SIGINT received at epoch 0 batch" in err
    record = json.loads((tmp_path / "cut" / f"{LAST}.json").read_text())
    stopped = record["interrupted_at_batch"]
    assert 6 <= stopped < 19 and record["next_epoch"] == 0
    verify_set(str(tmp_path / "cut" / f"{LAST}.json"))

    resumed = run_tool("train_cifar", *recipe(subset, tmp_path / "cut"), "--resume-from",
                       tmp_path / "cut" / f"{LAST}.params")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"at epoch 0 batch {stopped + 1}" in resumed.stdout
    # the resumed run logs exactly the batches the first part did not run
    assert re.findall(r"^Epoch\[0\] Batch \[(\d+)\]", resumed.stdout, re.M)[0] == str(stopped + 1)

    a, b = (load_params(tmp_path / run / f"{LAST}.params") for run in ("whole", "cut"))
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    sa, sb = (torch.load(tmp_path / run / f"{LAST}.pt", weights_only=True) for run in ("whole", "cut"))
    for key, value in sa["optimizer"]["state"].items():
        torch.testing.assert_close(value["momentum_buffer"], sb["optimizer"]["state"][key]["momentum_buffer"],
                                   rtol=0, atol=0)
    ha, hb = (json.loads((tmp_path / run / "history.json").read_text())["epochs"] for run in ("whole", "cut"))
    assert [(h["train_loss"], h["train_accuracy"], h["val_top1_error"]) for h in ha] == \
        [(h["train_loss"], h["train_accuracy"], h["val_top1_error"]) for h in hb]


def test_sigterm_saves_a_resumable_set_and_exits_143(subset, tmp_path):
    status, _, err = run_script_until("train_cifar.py", *TINY, "--data-dir", subset, "--save-dir", tmp_path,
                                      "--batch-size", "32", "--num-epochs", "1", "--log-interval", "1",
                                      line_prefix="Epoch[0] Batch [2]",
                                      action=lambda proc: proc.send_signal(signal.SIGTERM))
    assert status == 143, err[-2000:]
    assert "interrupted: SIGTERM received at epoch 0 batch" in err and "Traceback" not in err
    record = verify_set(str(tmp_path / f"{LAST}.json"))
    saved = torch.load(tmp_path / f"{LAST}.pt", weights_only=True)
    assert saved["position"] == {"epoch": 0, "batch": record["interrupted_at_batch"] + 1}
    assert saved["meter"]["count"] == 32 * saved["position"]["batch"]


def test_nan_loss_stops_with_status_3_keeping_the_last_good_set(subset, tmp_path):
    # step decay by 1e30 at epoch 1: epoch 0 trains normally, epoch 1 diverges
    proc = run_tool("train_cifar", *TINY, "--data-dir", subset, "--save-dir", tmp_path, "--batch-size", "64",
                    "--num-epochs", "2", "--lr", "0.1", "--lr-decay", "1e30", "--lr-decay-epoch", "1",
                    "--log-interval", "0")
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert re.search(r"error: loss is (NaN|not finite) at epoch 1 batch \d+; stopped before updating", proc.stderr)
    assert "Traceback" not in proc.stderr
    record = verify_set(str(tmp_path / f"{LAST}.json"))
    assert record["next_epoch"] == 1
    assert all(np.isfinite(v).all() for v in load_params(tmp_path / f"{LAST}.params").values())


@pytest.mark.parametrize("flags, message", [
    (["--auto_aug"], "--auto_aug"),
    (["--dtype", "float16"], "--dtype float16"),
    (["--data-dir", "/nonexistent/fm"], "/nonexistent/fm"),
    (["--lr", "-1"], "--lr"),
    (["--cpus", "2"], "--cpus 2"),
    (["--batch-size", "100000"], "--batch-size"),
])
def test_bad_input_exits_2_with_a_clear_line(subset, tmp_path, flags, message):
    args = [*TINY, "--save-dir", tmp_path / "run", "--num-epochs", "1"]
    if "--data-dir" not in flags:
        args += ["--data-dir", subset]
    proc = run_tool("train_cifar", *args, *flags)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_eval_reads_the_run_from_its_checkpoint_alone(subset, tmp_path):
    train = run_tool("train_cifar", *TINY, "--data-dir", subset, "--save-dir", tmp_path, "--batch-size", "64",
                     "--num-epochs", "1", "--lr", "0.1", "--log-interval", "0")
    assert train.returncode == 0, train.stderr[-2000:]
    val = float(re.findall(r"^\[Epoch 0\] train=[\d.]+ val=([\d.]+)", train.stdout, re.M)[-1])
    proc = run_tool("eval_cifar", "--engine", "torch", "--params", tmp_path / f"{LAST}.params", "--data-dir", subset,
                    "--device", "cpu", "--no-progress")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert float(re.search(r"^test accuracy: ([\d.]+) \(error", proc.stdout, re.M).group(1)) == pytest.approx(val,
                                                                                                       abs=1e-4)
    conflict = run_tool("eval_cifar", "--engine", "torch", "--params", tmp_path / f"{LAST}.params", "--dataset", "cifar10")
    assert conflict.returncode == 2 and "--dataset cifar10 conflicts with the run record" in conflict.stderr


@pytest.fixture(scope="module")
def learning_subset(tmp_path_factory) -> Path:
    return fashion_subset_or_skip(tmp_path_factory, "fm_torch_learn", 2000, 500)


@pytest.mark.slow
def test_learns_on_a_fashion_mnist_subset(learning_subset, tmp_path):
    # 2,000 images, 2 epochs of batch 32 (62 steps each), warmup + cosine to 0.2: the last epoch's validation accuracy
    # over seeds 0-3 spread from 0.706 to 0.724 (chance: 0.1)
    proc = run_tool("train_cifar", *TINY, "--data-dir", learning_subset, "--save-dir", tmp_path, "--batch-size", "32",
                    "--num-epochs", "2", "--lr", "0.2", "--cosine", "--warmup-epochs", "1", "--label-smoothing",
                    "--no-wd", "--channels-last", "--log-interval", "0")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = re.findall(r"^\[Epoch (\d)\] train=([\d.]+) val=([\d.]+) loss=([\d.]+) lr: [\d.]+ time: [\d.]+$",
                       proc.stdout, flags=re.M)
    assert [line[0] for line in lines] == ["0", "1"]
    assert float(lines[1][2]) > 0.6
    assert float(lines[1][3]) < float(lines[0][3])                # training loss falls
    assert f"final test accuracy: {float(lines[1][2]):.4f}" in proc.stdout
    history = json.loads((tmp_path / "history.json").read_text())["epochs"]
    assert [h["epoch"] for h in history] == [0, 1] and history[1]["val_samples"] == 500
    config = json.loads((tmp_path / "run_config.json").read_text())
    assert config["engine"] == "torch" and config["network"]["name"] == "cifar_aff_resnet8"
    assert (tmp_path / "train_fashion-mnist-cifar_aff_resnet8-c1.log").read_text().count("[Epoch 1] validation") == 1
