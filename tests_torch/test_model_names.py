"""A real MXNet training run's checkpoint alone is enough for eval_torch.py and convert.py (both directions): they
rebuild the network from its run_config.json, print the same model spec, and refuse contradicting flags."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

import afflib_torch
from afflib_torch.convert import load_checkpoint
from fashion_run import train_tiny_run, write_fashion_subset

ROOT = Path(__file__).resolve().parents[1]
MXNET_PYTHON = ROOT / ".venv" / "bin" / "python"
SPEC = "cifar_aff_resnet8(channels=[16,16,32,64], in_channels=1, classes=10)"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """(-last.params of a 1-epoch scripts/train_cifar.py run in the MXNet environment, its last validation
    accuracy, the Fashion-MNIST subset it ran on)."""
    if not MXNET_PYTHON.exists():
        pytest.skip(f"no MXNet environment at {MXNET_PYTHON} to train the run with (make venv)")
    root = tmp_path_factory.mktemp("names")
    data = write_fashion_subset(root / "fmnist", 600, 200)
    if data is None:
        pytest.skip("Fashion-MNIST is not installed in /usr/share/datasets/fashion-mnist")
    params, accuracy = train_tiny_run(str(MXNET_PYTHON), data, root)
    return params, accuracy, data


def run(script, *args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / script), *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def _accuracy(stdout):
    return float(re.search(r"^test accuracy: ([\d.]+)", stdout, flags=re.M).group(1))


def test_eval_torch_and_convert_take_the_runs_checkpoint_alone(tiny_run, tmp_path):
    params, accuracy, data = tiny_run
    net = load_checkpoint(afflib_torch.get_model(SPEC), params)          # the printed name builds the run's net
    assert net.output.out_features == 10
    proc = run("eval_torch.py", "--params", params, "--data-dir", data, "--threads", "1", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert f"model={SPEC} " in proc.stdout and "dataset=fashion-mnist images=200" in proc.stdout
    # the same 200 images the training log validated on; another framework may flip one near-tie at most
    assert abs(_accuracy(proc.stdout) - accuracy) <= 1 / 200 + 1e-9
    # convert: run .params -> .pt in the run's folder, and back to a .params elsewhere, without model flags
    converted = params.parent / "converted.pt"
    proc = run("convert.py", params, converted)
    assert proc.returncode == 0 and f": {SPEC} (" in proc.stdout, proc.stderr
    back = tmp_path / "back.params"
    proc = run("convert.py", converted, back)
    assert proc.returncode == 0, proc.stderr
    assert back.read_bytes() == params.read_bytes()
    proc = run("eval_torch.py", "--params", converted, "--data-dir", data, "--threads", "1", "--no-progress")
    assert proc.returncode == 0 and abs(_accuracy(proc.stdout) - accuracy) <= 1 / 200 + 1e-9, proc.stderr
    # a .params without a run record still needs --model, and says so
    proc = run("convert.py", back, tmp_path / "x.pt")
    assert proc.returncode != 0 and "--model is needed: " in proc.stderr and "no run_config.json" in proc.stderr


def test_flags_that_contradict_the_run_are_refused_by_name(tiny_run, tmp_path):
    params, _, data = tiny_run
    for script, flags, name in (("eval_torch.py", ["--in-channels", "3"], "--in-channels 3"),
                                ("eval_torch.py", ["--dataset", "cifar10"], "--dataset cifar10"),
                                ("eval_torch.py", ["--model", "cifar_aff_resnet20"], "--model cifar_aff_resnet20"),
                                ("convert.py", ["--classes", "100"], "--classes 100"),
                                ("convert.py", ["--model", "cifar_add_resnet8"], "--model cifar_add_resnet8")):
        target = ["--data-dir", data] if script == "eval_torch.py" else [tmp_path / "out.pt"]
        args = [*flags, "--params", params, *target] if script == "eval_torch.py" else [*flags, params, *target]
        proc = run(script, *args)
        assert proc.returncode != 0 and proc.stderr.startswith(f"error: {name}"), proc.stderr
        assert "Traceback" not in proc.stderr and f"drop {name.split()[0]}" in proc.stderr
    assert not (tmp_path / "out.pt").exists()
