"""scripts/convert.py and the conversion library: both directions, exact round trips, clear errors."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import afflib_torch
from afflib_torch.convert import CheckpointMismatch, load_checkpoint, mxnet_arrays_from_model, save_checkpoint
from afflib.core.params_io import load_params, save_params
from reference import load_vector, regenerate_params

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(layers=[1, 1, 1], channels=[16, 16, 32, 64], classes=10)
SMALL_JSON = '{"layers": [1, 1, 1], "channels": [16, 16, 32, 64]}'


def convert(*args, check=True):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "convert.py"), *map(str, args)],
                            capture_output=True, text=True)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_params_to_pt_and_back_is_byte_identical(tmp_path):
    """A vector's .params -> .pt -> .params reproduces the file exactly (same names, order, values)."""
    config, io = load_vector("cifar_resnet_iaff")
    source = tmp_path / "mx.params"
    save_params(source, regenerate_params(config))
    kwargs = '{"layers": %s, "channels": %s, "start_layer": %d}' % (config["layers"], config["channels"],
                                                                   config["start_layer"])
    out = convert("--model", "cifar_iaff_resnet20", "--classes", config["classes"], "--model-kwargs", kwargs,
                  source, tmp_path / "net.pt")
    assert "net.pt" in out.stdout
    state = torch.load(tmp_path / "net.pt", weights_only=True)
    assert "features.0.weight" in state and "features.0.gamma" not in state
    net = afflib_torch.get_model("cifar_iaff_resnet20", classes=config["classes"], layers=config["layers"],
                                 channels=config["channels"], start_layer=config["start_layer"]).eval()
    net.load_state_dict(state)
    with torch.no_grad():
        got = net(torch.from_numpy(io["input"])).numpy()
    assert np.abs(got - io["output_eval"]).max() <= 1e-4 * np.abs(io["output_eval"]).max()
    convert("--model", "cifar_iaff_resnet20", "--classes", config["classes"], "--model-kwargs", kwargs,
            tmp_path / "net.pt", tmp_path / "back.params")
    assert (tmp_path / "back.params").read_bytes() == source.read_bytes()


def test_torch_trained_model_converts_to_params_and_loads_back(tmp_path):
    net = afflib_torch.get_model("cifar_aff_resnet20", **SMALL)
    step = torch.optim.SGD(net.parameters(), lr=0.1)
    net(torch.randn(8, 3, 32, 32)).logsumexp(1).mean().backward()
    step.step()
    save_checkpoint(net, tmp_path / "trained.params", dtype="float16")
    arrays = load_params(tmp_path / "trained.params")
    assert arrays["features.0.gamma"].dtype == np.float16 and "features.0.num_batches_tracked" not in arrays
    again = load_checkpoint(afflib_torch.get_model("cifar_aff_resnet20", **SMALL), tmp_path / "trained.params")
    for (key, a), b in zip(net.state_dict().items(), again.state_dict().values()):
        if not key.endswith("num_batches_tracked"):
            torch.testing.assert_close(a.half().float(), b, msg=key)


def test_mismatched_file_lists_missing_unexpected_and_shapes(tmp_path):
    arrays = mxnet_arrays_from_model(afflib_torch.get_model("cifar_aff_resnet20", **SMALL))
    del arrays["features.2.0.attention.local_att.0.bias"]
    arrays["features.2.0.attention.extra.weight"] = np.zeros(3, np.float32)
    arrays["output.weight"] = np.zeros((7, 64), np.float32)
    save_params(tmp_path / "bad.params", arrays)
    with pytest.raises(CheckpointMismatch) as info:
        load_checkpoint(afflib_torch.get_model("cifar_aff_resnet20", **SMALL), tmp_path / "bad.params")
    message = str(info.value)
    assert "1 missing from the file: features.2.0.attention.local_att.0.bias" in message
    assert "1 unexpected in the file: features.2.0.attention.extra.weight" in message
    assert "output.weight (file (7, 64), model (10, 64))" in message
    result = convert("--model", "cifar_aff_resnet20", "--classes", 10, "--model-kwargs", SMALL_JSON,
                     tmp_path / "bad.params", tmp_path / "out.pt", check=False)
    assert result.returncode != 0 and "missing from the file" in result.stderr
    assert not (tmp_path / "out.pt").exists()


def test_classifier_only_mismatch_suggests_classes(tmp_path):
    save_checkpoint(afflib_torch.get_model("cifar_aff_resnet20", **SMALL), tmp_path / "ten.params")
    result = convert("--model", "cifar_aff_resnet20", "--model-kwargs", SMALL_JSON, tmp_path / "ten.params",
                     tmp_path / "x.pt", check=False)
    assert result.returncode != 0 and "number of classes" in result.stderr


def test_refuses_to_overwrite_and_unknown_extensions(tmp_path):
    save_checkpoint(afflib_torch.get_model("cifar_aff_resnet20", **SMALL), tmp_path / "a.params")
    (tmp_path / "b.pt").write_bytes(b"keep")
    result = convert("--model", "cifar_aff_resnet20", "--classes", 10, "--model-kwargs", SMALL_JSON,
                     tmp_path / "a.params", tmp_path / "b.pt", check=False)
    assert result.returncode != 0 and "--force" in result.stderr
    assert (tmp_path / "b.pt").read_bytes() == b"keep"
    result = convert("--model", "cifar_aff_resnet20", tmp_path / "a.params", tmp_path / "b.onnx", check=False)
    assert result.returncode != 0 and ".safetensors" in result.stderr
