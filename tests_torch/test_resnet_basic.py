"""AFF/iAFF/add-ResNet-18/34 in PyTorch: build at 224 and small inputs, and equal the MXNet engine through the
converter (names, shapes, trainable count, float64 outputs in inference and training mode).

The MXNet side runs in its own environment (tests/mxnet_resnet_basic.py, a subprocess of $AFF_MXNET_PYTHON or
.venv/bin/python): seeded random weights and BatchNorm statistics, forwards computed in float64. Randomly
initialised full-size networks are chaotic in training mode at batch 2 even in float64 (iaff_resnet34 at 224:
a 1e-15 relative input change moves the output by 12 %, measured), so training mode is compared at 64x64 with a
batch of 8, where both engines agree to 1e-12; inference mode at 224 and at 64.
"""
import os
import subprocess

import numpy as np
import pytest
import torch

import afflib_torch
from afflib.core.params_io import load_params
from afflib.core.released import PretrainedNotAvailable
from afflib_torch.blocks import BasicBlock
from afflib_torch.convert import load_checkpoint, mxnet_arrays_from_model, name_map
from test_batch_one import ROOT, mxnet_python

NAMES = [f"{form}_resnet{depth}" for depth in (18, 34) for form in ("aff", "iaff", "add")]
FULL, SMALL = (224, 2), (64, 8)  # (input size, batch) of the MXNet runs
TOLERANCE = 1e-9                  # of the output's largest magnitude, float64 (measured: 1e-11 or less)
FORMS = {"add": "DirectAdd", "aff": "AFF", "iaff": "IAFF"}


@pytest.mark.parametrize("name", NAMES)
def test_builds_at_224_and_small_inputs(name):
    net = afflib_torch.get_model(name).eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 224, 224)).shape == (1, 1000)
        assert net(torch.randn(2, 3, 32, 32)).shape == (2, 1000)
    small = afflib_torch.get_model(name, classes=10, in_channels=1).train()
    assert small(torch.randn(2, 1, 64, 64)).shape == (2, 10)
    form = name.split("_")[0]
    for stage in range(1, 5):
        layer = getattr(net, f"layer{stage}")
        assert all(isinstance(block, BasicBlock) for block in layer)
        assert {type(block.attention).__name__ for block in layer} == {FORMS[form if stage >= 3 else "add"]}
    assert net.fc.in_features == 512


@pytest.mark.parametrize("name", ["aff_resnet18", "iaff_resnet34"])
def test_pretrained_is_refused_no_released_weights(name):
    with pytest.raises(PretrainedNotAvailable, match=f"no released weights for '{name}'.*pretrained=<path"):
        afflib_torch.get_model(name, pretrained=True)


@pytest.fixture(scope="module")
def mxnet_runs(tmp_path_factory):
    """Every name at both sizes, run by the MXNet engine; returns the folder of its files."""
    python = mxnet_python()
    out = tmp_path_factory.mktemp("resnet_basic")
    items = [f"{name}:{size}:{batch}" for name in NAMES for size, batch in (FULL, SMALL)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", MXNET_ENFORCE_DETERMINISM="1")
    proc = subprocess.run([python, str(ROOT / "tests" / "mxnet_resnet_basic.py"), str(out), *items],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _relative(got: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(got - expected).max() / np.abs(expected).max())


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_mxnet_and_torch_agree_through_the_converter(mxnet_runs, name):
    for size, batch in (FULL, SMALL):
        stem = mxnet_runs / f"{name}-{size}"
        params = stem.with_suffix(".params")
        net = afflib_torch.get_model(name).double()
        load_checkpoint(net, params)
        names = [line.split() for line in stem.with_suffix(".names").read_text().splitlines()]
        state = net.state_dict()
        assert [[mx, ",".join(map(str, state[key].shape))] for key, mx in name_map(net).items()] == names
        io = np.load(stem.with_suffix(".npz"))
        assert sum(p.numel() for p in net.parameters()) == int(io["trainable"])
        arrays = load_params(params)  # and back: the twin's arrays are the file's, bit for bit
        assert all(np.array_equal(a, arrays[k]) for k, a in mxnet_arrays_from_model(net).items())
        params.unlink()  # 50-100 MB each
        x = torch.from_numpy(io["input"])
        assert x.shape == (batch, 3, size, size) and x.dtype == torch.float64
        with torch.no_grad():
            error = _relative(net.eval()(x).numpy(), io["output_eval"])
            assert error <= TOLERANCE, f"{name} at {size}: inference output differs by {error:.1e}"
            if size == SMALL[0]:
                error = _relative(net.train()(x).numpy(), io["output_train"])
                assert error <= TOLERANCE, f"{name} at {size}: training-mode output differs by {error:.1e}"
