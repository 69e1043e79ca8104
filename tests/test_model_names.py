"""One model name everywhere: the spec a run prints is what get_model / --model-name accept, a run's checkpoint alone
is enough for eval_cifar and predict, old run records still load, and the mismatch hint says what differs."""
import inspect
import json
import re
import shutil
import sys
from pathlib import Path

import mxnet as mx
import pytest

import afflib
from afflib.core.modelspec import CONSTRUCTOR_DEFAULTS, ModelSpec, cifar_spec, parse_spec
from afflib.model_zoo import networks
from afflib.core.runrecord import read_run_record
from cli_helpers import run_script
from fashion_run import train_tiny_run, write_fashion_subset

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SPEC = "cifar_aff_resnet8(channels=[16,16,32,64], in_channels=1, classes=10)"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """(-last.params of a real 1-epoch run on 600/200 Fashion-MNIST images, its last validation accuracy, data)."""
    root = tmp_path_factory.mktemp("names")
    data = write_fashion_subset(root / "fmnist", 600, 200)
    if data is None:
        pytest.skip("Fashion-MNIST is not installed in /usr/share/datasets/fashion-mnist")
    params, accuracy = train_tiny_run(sys.executable, data, root)
    return params, accuracy, data, root / "rec"


def _accuracy(stdout):
    return float(re.search(r"^test accuracy: ([\d.]+)", stdout, flags=re.M).group(1))


def test_spec_text_round_trips_and_names_any_cifar_depth():
    spec = cifar_spec("resnet", "ASKCFuse", 1, 1, 1, 10, 1)
    assert spec.text() == SPEC and spec.tag() == "cifar_aff_resnet8-c1" and parse_spec(spec.text()) == spec
    assert ModelSpec.create("cifar_aff_resnet20", layers=[1, 1, 1], channels=[16, 16, 32, 64], in_channels=1,
                            classes=10) == spec
    assert ModelSpec.create("aff_resnet50", classes=1000, start_layer=3, fusion_r=16).text() == "aff_resnet50"
    assert cifar_spec("resnext", "iAFF", 3, 4, 2, 100, 3).text() == "cifar_iaff_resnext29_32x4d(start_layer=2)"
    net = afflib.get_model(SPEC)
    net.initialize()
    assert net(mx.nd.zeros((2, 1, 28, 28))).shape == (2, 10)
    with pytest.raises(ValueError, match=r"has classes=10, but classes=100 was asked for"):
        afflib.get_model(SPEC, classes=100)
    with pytest.raises(ValueError, match=r"depth is 6\*blocks\+2 \(e.g. 8, 14, 20\), not 9"):
        afflib.get_model("cifar_aff_resnet9")
    with pytest.raises(ValueError, match=r"'cifar_aff_resnet8-c1' is the file-name form of "
                                         r"cifar_aff_resnet8\(channels=\[16,16,32,64\]\)"):
        afflib.get_model("cifar_aff_resnet8-c1")
    with pytest.raises(ValueError, match=r"the value of channels is not a literal"):
        afflib.get_model("cifar_aff_resnet8(channels=wide)")


def test_constructor_defaults_table_matches_the_networks():
    for family, table in CONSTRUCTOR_DEFAULTS.items():
        signature = inspect.signature(getattr(networks, family).__init__).parameters
        assert {k: signature[k].default for k in table} == table, family


def test_run_prints_one_name_that_every_tool_accepts(tiny_run, tmp_path):
    params, accuracy, data, rec = tiny_run
    config = json.loads((params.parent / "run_config.json").read_text())
    assert config["network"]["text"] == SPEC and config["model"] == "cifar_aff_resnet8-c1"
    assert config["dataset"]["name"] == "fashion-mnist" and config["dataset"]["in_channels"] == 1
    assert f"model: {SPEC}" in (params.parent / "train_fashion-mnist-cifar_aff_resnet8-c1.log").read_text()
    # the run's checkpoint alone: same accuracy as the training log's last validation, the printed name
    proc = run_script("eval_cifar.py", "--params", params, "--rec-dir", rec, "--no-progress")
    assert f"model={SPEC} dataset=fashion-mnist images=200" in proc.stdout and _accuracy(proc.stdout) == accuracy
    # the printed name, given back to --model-name for a copy of the weights without a run record
    alone = tmp_path / "alone.params"
    shutil.copy(params, alone)
    proc = run_script("eval_cifar.py", "--params", alone, "--model-name", SPEC, "--dataset", "fashion-mnist",
                      "--rec-dir", rec, "--no-progress")
    assert _accuracy(proc.stdout) == accuracy
    # flags that contradict the run are refused by name
    for flags, name in ((["--blocks", "3"], "--blocks 3"), (["--dataset", "cifar10"], "--dataset cifar10"),
                        (["--model-name", "cifar_aff_resnet20"], "--model-name cifar_aff_resnet20")):
        proc = run_script("eval_cifar.py", "--params", params, *flags, "--rec-dir", rec, check=False)
        assert proc.returncode == 2 and proc.stderr.startswith(f"error: {name}") and "Traceback" not in proc.stderr
        assert "drop " + name.split()[0] in proc.stderr


def test_predict_with_params_alone_agrees_with_the_training_log(tiny_run, tmp_path):
    from PIL import Image
    from cli_helpers import read_idx as _read_idx
    params, accuracy, data, _ = tiny_run
    images, labels = _read_idx(data / "t10k-images-idx3-ubyte"), _read_idx(data / "t10k-labels-idx1-ubyte")
    for i, (image, label) in enumerate(zip(images, labels)):
        Image.fromarray(image).save(tmp_path / f"{i:03d}_{label}.png")
    proc = run_script("predict.py", "--params", params, tmp_path, "--json", "--topk", "1")
    report = json.loads(proc.stdout)
    assert report["model"] == SPEC and report["dataset"] == "fashion-mnist"
    right = [int(re.search(r"_(\d)\.png$", p["path"]).group(1)) == p["top"][0]["index"] for p in report["predictions"]]
    assert len(right) == 200 and round(sum(right) / len(right), 4) == accuracy


def test_run_record_of_main_13122a3_still_loads(tiny_run, tmp_path):
    """A run_config.json as main @13122a3 wrote it (args and model, no model_spec) beside the run's weights."""
    params, accuracy, _, rec = tiny_run
    old = json.loads((FIXTURES / "run_config_13122a3.json").read_text())
    assert "model_spec" not in old and old["model"] == "cifar_aff_resnet8-c1"
    shutil.copy(params, tmp_path / params.name)
    shutil.copy(FIXTURES / "run_config_13122a3.json", tmp_path / "run_config.json")
    record = read_run_record(str(tmp_path / params.name))
    assert record.spec.text() == SPEC and record.dataset == "fashion-mnist" and record.in_channels == 1
    proc = run_script("eval_cifar.py", "--params", tmp_path / params.name, "--rec-dir", rec, "--no-progress")
    assert f"model={SPEC}" in proc.stdout and _accuracy(proc.stdout) == accuracy


def test_mismatch_hint_says_what_differs(tiny_run, tmp_path):
    params, _, _, rec = tiny_run
    alone = tmp_path / "alone.params"
    shutil.copy(params, alone)
    # in_channels: the file is a 1-channel Fashion-MNIST net, the model a 3-channel CIFAR-10 one
    proc = run_script("eval_cifar.py", "--params", alone, "--dataset", "cifar10", "--blocks", "1", "--channel-times",
                      "1", check=False)
    in_use = "cifar_aff_resnet8(channels=[16,16,32,64], classes=10)"
    assert proc.returncode == 2 and f"does not fit {in_use}:" in proc.stderr
    assert "what differs: in_channels: file 1, model 3\n" in proc.stderr
    assert f"closest registry model: {SPEC} (names and shapes fit)" in proc.stderr
    # fusion: an AFF file is not matched to an add model
    proc = run_script("eval_cifar.py", "--params", alone, "--dataset", "fashion-mnist", "--blocks", "1",
                      "--channel-times", "1", "--askc-type", "DirectAdd", "--rec-dir", rec, check=False)
    assert proc.returncode == 2 and "what differs: fusion: file aff, model add\n" in proc.stderr
    closest = re.search(r"closest registry model: (\S+)", proc.stderr).group(1)
    assert closest.startswith("cifar_aff_resnet8(") and "Traceback" not in proc.stderr
    # widths and blocks
    proc = run_script("eval_cifar.py", "--params", alone, "--dataset", "fashion-mnist", "--blocks", "3",
                      "--rec-dir", rec, check=False)
    assert "what differs: blocks: file [1, 1, 1], model [3, 3, 3]; widths: file [16, 32, 64], model [64, 128, 256]" \
        in proc.stderr
