"""Segmentation with the PyTorch engine through its command lines, as a user runs them (``scripts/train_segmentation.py
--engine torch``, ``scripts/eval_segmentation.py``), on real generated Fashion-MNIST scenes: the run folder, the
closing lines, exact resume after SIGTERM, evaluation of the checkpoint alone, bad flags, and that a short run
learns beyond the all-background baseline."""
from __future__ import annotations

import json
import re
import signal
from pathlib import Path
from typing import List

import numpy as np
import pytest
import torch

from afflib.core.params_io import load_params
from afflib.core.segmetrics import ConfusionMatrix
from afflib_torch.train.tasks import Segmentation
from cli_helpers import FASHION_MNIST, run_script, run_script_until

pytestmark = pytest.mark.skipif(not FASHION_MNIST.is_dir(), reason=f"{FASHION_MNIST} missing (apt-get install "
                                                                   "dataset-fashion-mnist)")
LAST = "fashion-mnist-scenes-cifar_aff_fpn8-last"


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("scenes_cache")


def tiny(cache: Path, out: Path, *more) -> List[str]:
    return ["--engine", "torch", "--device", "cpu", "--threads", "1", "--no-progress", "--cache-dir", str(cache),
            "--train-size", "96", "--test-size", "32", "--batch-size", "16", "--num-epochs", "2",
            "--log-interval", "1", "--save-dir", str(out), *map(str, more)]


def closing(stdout: str) -> dict:
    return {key: float(value) for key, value in re.findall(r"^(mIoU|baseline mIoU): ([0-9.]+)$", stdout, re.M)}


def test_a_run_writes_its_folder_and_ends_with_miou_and_the_baseline(cache, tmp_path):
    proc = run_script("train_segmentation.py", *tiny(cache, tmp_path / "run", "--fusion", "ms-sa"), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert re.fullmatch(r"mIoU: 0\.\d{4}", lines[-2]) and re.fullmatch(r"baseline mIoU: 0\.\d{4}", lines[-1])
    run = tmp_path / "run"
    name = "fashion-mnist-scenes-cifar_aff_fpn8"
    history = json.loads((run / "history.json").read_text())["epochs"]
    assert [h["epoch"] for h in history] == [0, 1]
    assert abs(history[-1]["val_miou"] - closing(proc.stdout)["mIoU"]) < 5e-5
    assert history[-1]["val_top1_error"] == pytest.approx(1 - history[-1]["val_miou"])
    config = json.loads((run / "run_config.json").read_text())
    assert config["scenes"] == {"dataset": "fashion-mnist-scenes", "canvas": 64, "binary": None, "train_size": 96,
                                "seed": 0}
    assert "fusion='ms-sa'" in config["network"]["text"]
    for suffix in ("-last.params", "-last.pt", "-last.json", "-overlays.png", ".png"):
        assert (run / f"{name}{suffix}").is_file(), suffix
    assert "[Epoch 1] validation: mIoU=" in (run / f"train_{name}.log").read_text()
    arrays = load_params(str(run / f"{name}-last.params"))          # MXNet's format and names
    assert {"top_down.0.smooth.0.weight", "top_down.1.reduce.0.weight", "head.3.bias"} <= set(arrays)
    assert any(key.startswith("top_down.1.attention.") for key in arrays)


def test_eval_reads_the_checkpoint_alone_and_repeats_the_run_s_miou(cache, tmp_path):
    run = tmp_path / "run"
    assert run_script("train_segmentation.py", *tiny(cache, run, "--num-epochs", "1")).returncode == 0
    trained = json.loads((run / "history.json").read_text())["epochs"][-1]["val_miou"]
    proc = run_script("eval_segmentation.py", "--engine", "torch", "--params", run / f"{LAST}.params", "--device",
                      "cpu", "--threads", "1", "--no-progress", "--cache-dir", cache, "--test-size", "32",
                      "--out", tmp_path / "o.png")
    values = closing(proc.stdout)
    assert abs(values["mIoU"] - trained) < 5e-5 and values["baseline mIoU"] < 0.2
    assert (tmp_path / "o.png").stat().st_size > 1000


@pytest.mark.slow
def test_sigterm_mid_epoch_then_resume_gives_the_uninterrupted_weights(cache, tmp_path):
    whole = run_script("train_segmentation.py", *tiny(cache, tmp_path / "whole", "--overlays", "0"))
    assert whole.returncode == 0
    status, _, err = run_script_until("train_segmentation.py", *tiny(cache, tmp_path / "cut", "--overlays", "0"),
                                      line_prefix="Epoch[0] Batch [2]",
                                      action=lambda proc: proc.send_signal(signal.SIGTERM))
    assert status == 143, err[-2000:]
    assert "interrupted: SIGTERM received at epoch 0 batch" in err
    resumed = run_script("train_segmentation.py", *tiny(cache, tmp_path / "cut", "--overlays", "0"), "--resume-from",
                         tmp_path / "cut" / f"{LAST}.params")
    assert "resuming" in resumed.stdout
    a = load_params(str(tmp_path / "whole" / f"{LAST}.params"))
    b = load_params(str(tmp_path / "cut" / f"{LAST}.params"))
    assert sorted(a) == sorted(b)
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) < 1e-5
    assert closing(whole.stdout)["mIoU"] == pytest.approx(closing(resumed.stdout)["mIoU"], abs=2e-4)


@pytest.mark.parametrize("flags, message", [
    (["--gpus", "0"], "--gpus is the MXNet engine's flag"),
    (["--canvas", "30"], "--canvas 30: must be divisible by 4"),
    (["--fusion", "bogus"], "bogus"),
    (["--dataset", "voc"], "GluonCV's datasets are read by the MXNet engine"),
    (["--recipe", "no_such"], "no such segmentation recipe"),
    (["--binary", "12"], "--binary"),
])
def test_bad_flags_exit_2_with_one_line_and_write_nothing(cache, tmp_path, flags, message):
    proc = run_script("train_segmentation.py", *tiny(cache, tmp_path / "run"), *flags, check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert message in proc.stderr.strip().splitlines()[-1] and "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()


def test_eval_of_a_missing_checkpoint_says_so(tmp_path):
    proc = run_script("eval_segmentation.py", "--engine", "torch", "--params", tmp_path / "none.params", check=False)
    assert proc.returncode == 2 and "no such file" in proc.stderr.splitlines()[-1]


def test_the_segmentation_loss_is_per_image_mean_pixel_cross_entropy_and_validation_counts_pixels():
    torch.manual_seed(0)
    logits = torch.randn(3, 4, 5, 6)
    masks = torch.randint(0, 4, (3, 5, 6))
    task = Segmentation(4)
    losses = task.losses(logits, masks, None, 20.0, 0.5)
    expected = -torch.log_softmax(logits, 1).gather(1, masks[:, None]).squeeze(1).mean(dim=(1, 2))
    assert torch.allclose(losses, expected, atol=1e-6) and losses.shape == (3,)

    class Fixed(torch.nn.Module):
        def forward(self, images):
            return logits[: len(images)]

    from afflib_torch.engine import RunConfig
    result = task.evaluate(Fixed(), [(torch.zeros(3, 1, 5, 6), masks)], RunConfig.create("cpu", False, "float32", False))
    matrix = ConfusionMatrix(4).update(logits.argmax(1).numpy(), masks.numpy())
    assert result.metrics["miou"] == pytest.approx(matrix.miou())
    assert result.metrics["pixel_accuracy"] == pytest.approx(float((logits.argmax(1) == masks).float().mean()))
    assert result.samples == 3 and result.top1_error == pytest.approx(1 - matrix.miou())


@pytest.mark.slow
def test_a_short_run_beats_the_all_background_baseline(cache, tmp_path):
    proc = run_script("train_segmentation.py", "--engine", "torch", "--device", "cpu", "--threads", "1",
                      "--no-progress", "--cache-dir", cache, "--train-size", "768", "--test-size", "128",
                      "--num-epochs", "2", "--overlays", "0", "--save-dir", tmp_path / "run")
    values = closing(proc.stdout)
    assert values["mIoU"] > values["baseline mIoU"] + MARGIN, proc.stdout[-1500:]


# measured 2026-11-27 (768 scenes, 2 epochs, 128 test scenes): mIoU 0.1264 / 0.1187 / 0.1315 at seeds 0 / 1 / 2
# against the baseline 0.0767, i.e. margins 0.042-0.055; the threshold sits at half the smallest
MARGIN = 0.02
