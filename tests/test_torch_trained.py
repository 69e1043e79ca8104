"""A checkpoint trained by the PyTorch engine, read by the MXNet engine: ``afflib.get_model(name, pretrained=path)``
loads its ``.params`` and the MXNet ``eval_cifar`` scores the same test accuracy as the PyTorch one.

The PyTorch run needs the checkout's torch environment (``make venv-torch``: ``.venv-torch/bin/python``); without
it the test is skipped, saying so.
"""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from cli_helpers import REPO, fashion_subset_or_skip, script_env

TORCH_PYTHON = REPO / ".venv-torch" / "bin" / "python"
LAST = "fashion-mnist-cifar_aff_resnet8-c1-last"


def accuracy(stdout: str) -> float:
    return float(re.search(r"^test accuracy: ([\d.]+) \(error", stdout, re.M).group(1))


def run(cmd) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], env=script_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{cmd[:3]} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc


@pytest.mark.slow
def test_torch_trained_checkpoint_scores_the_same_in_mxnet(tmp_path_factory, tmp_path):
    if not TORCH_PYTHON.is_file():
        pytest.skip(f"no PyTorch environment at {TORCH_PYTHON} (make venv-torch) to train the checkpoint with")
    data = fashion_subset_or_skip(tmp_path_factory, "fm_torch_trained", 1000, 500)
    run([TORCH_PYTHON, "-m", "afflib_torch.cli.train_cifar", "--dataset", "fashion-mnist", "--data-dir", data,
         "--blocks", "1", "--channel-times", "1", "--start-layer", "2", "--batch-size", "50", "--num-epochs", "1",
         "--lr", "0.1", "--device", "cpu", "--save-dir", tmp_path / "run", "--save-plot-dir", "", "--no-progress",
         "--log-interval", "0"])
    params = tmp_path / "run" / f"{LAST}.params"
    torch_eval = run([TORCH_PYTHON, "-m", "afflib_torch.cli.eval_cifar", "--params", params, "--data-dir", data,
                      "--device", "cpu", "--no-progress"])
    mxnet_eval = run([sys.executable, "-m", "afflib.cli.eval_cifar", "--params", params, "--data-dir", data,
                      "--rec-dir", tmp_path / "rec", "--no-progress"])
    # the same 500 images, the same weights: at most one image may flip on a float tie between the engines
    assert abs(accuracy(mxnet_eval.stdout) - accuracy(torch_eval.stdout)) <= 1 / 500 + 1e-9

    import afflib
    net = afflib.get_model("cifar_aff_resnet8(channels=[16,16,32,64], start_layer=2, in_channels=1, classes=10)",
                           pretrained=str(params))
    from afflib.core.params_io import load_params
    saved = load_params(params)
    loaded = net._collect_params_with_prefix()
    assert sorted(loaded) == sorted(saved)
    for name, array in saved.items():
        np.testing.assert_array_equal(loaded[name].data().asnumpy(), array, err_msg=name)
