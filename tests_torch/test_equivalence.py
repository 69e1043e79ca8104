"""The converted PyTorch twins reproduce the original MXNet implementation's reference vectors.

For every vector: regenerate its parameters, write them as a real MXNet .params file with the NumPy writer,
convert with scripts/convert.py's library path, and compare eval- and train-mode outputs within 1e-4 of
the largest magnitude.
"""
import numpy as np
import pytest
import torch

from afflib_torch.convert import load_checkpoint, name_map
from afflib_torch.networks import AFFResNet, AFFResNeXt, CIFARAFFResNet, CIFARAFFResNeXt
from afflib.core.params_io import save_params
from reference import load_vector, regenerate_params, vector_names, vector_network


def build_from_vector(config):
    return vector_network(config, {cls.__name__: cls for cls in (AFFResNet, AFFResNeXt, CIFARAFFResNet,
                                                                  CIFARAFFResNeXt)})


def _train_output(net, x: np.ndarray) -> np.ndarray:
    """Training-mode forward (batch statistics) that leaves the running statistics untouched."""
    saved = {k: v.clone() for k, v in net.state_dict().items()}
    net.train()
    with torch.no_grad():
        out = net(torch.from_numpy(x.astype(np.float32))).numpy()
    net.load_state_dict(saved)
    return out


def float32_noise_spread(net, x: np.ndarray, trials: int = 3, rel: float = 1e-7) -> float:
    """How far the train-mode output moves, relative to its maximum, when the input moves by ~1 float32 ulp.

    With the vectors' batch of 2, BatchNorm over globally pooled features normalises a difference of two
    numbers; where it is far below sqrt(eps) the output is chaotic at float32 precision.
    """
    base = _train_output(net, x)
    rng = np.random.RandomState(0)
    spreads = [np.abs(_train_output(net, x * (1 + rel * rng.randn(*x.shape))) - base).max() for _ in range(trials)]
    return float(max(spreads) / np.abs(base).max())


@pytest.mark.parametrize("fused", [True, False], ids=["fused-blend", "autograd-blend"])
@pytest.mark.parametrize("vector", vector_names() or ["<reference data absent>"])
def test_converted_outputs_equal_original_implementation(vector, fused, tmp_path):
    config, io = load_vector(vector)
    net = build_from_vector(config)
    assert list(name_map(net).values()) == [name for name, _ in config["params"]]
    path = tmp_path / "vector.params"
    save_params(path, regenerate_params(config))
    load_checkpoint(net, path)
    for module in net.modules():
        if hasattr(module, "fused"):
            module.fused = fused
    x = io["input"]

    net.eval()
    with torch.no_grad():
        got = net(torch.from_numpy(x)).numpy()
    expected = io["output_eval"]
    error = np.abs(got - expected).max() / np.abs(expected).max()
    assert error <= 1e-4, f"{vector}: inference-mode output differs by {error:.2e} of its maximum"

    expected = io["output_train"]
    error = np.abs(_train_output(net, x) - expected).max() / np.abs(expected).max()
    if error <= 1e-4:
        return
    spread = float32_noise_spread(net, x)
    # A real difference in the network would not hide inside float32 noise; an ill-conditioned vector does.
    assert spread > 1e-5 and error <= 10 * spread, (
        f"{vector}: training-mode output differs by {error:.2e} of its maximum; float32 noise moves it by only "
        f"{spread:.2e}")
    pytest.skip(f"{vector}: training-mode reference is ill-conditioned at float32 (1-ulp input noise moves the "
                f"output by {spread:.1e} of its maximum; ours differs by {error:.1e}): checked only within that noise")


@pytest.mark.parametrize("vector", ["cifar_resnet_iaff", "imagenet_resnext_aff"])
def test_float64_twin_agrees_with_float32_vectors(vector, tmp_path):
    """In float64 the eval outputs still match: the twin's math, not float32 luck, reproduces the original."""
    config, io = load_vector(vector)
    net = build_from_vector(config)
    save_params(tmp_path / "v.params", regenerate_params(config))
    load_checkpoint(net, tmp_path / "v.params")
    net = net.double().eval()
    with torch.no_grad():
        got = net(torch.from_numpy(io["input"]).double()).numpy()
    assert np.abs(got - io["output_eval"]).max() / np.abs(io["output_eval"]).max() <= 1e-4
