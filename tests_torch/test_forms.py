"""The paper's ablation fusion forms in the PyTorch engine (afflib_torch.forms): each against its formula, the
MXNet engine's float64 outputs reproduced through the converter (eval and train mode), the notation's properties,
the CIFAR ResNet host with every form at b = 1..4, and the paper preset's equal budget in whole networks."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from afflib.core.ablation import ABLATION_FORMS, TABLE3_FORMS, TABLE4_FORMS, conv_weights, preset_r
from afflib.core.fusion import fusion_parameters
from afflib.core.params_io import save_params
from afflib_torch import get_fusion
from afflib_torch.convert import load_checkpoint, mxnet_arrays_from_model, name_map
from afflib_torch.forms import CatalogueForm
from afflib_torch.inception import CIFARInceptionResNet
from afflib_torch.networks import CIFARAFFResNet
from forms_reference import CHANNELS, FIXTURE, form_inputs, form_params, form_r, paper_formula


def _loaded(name: str, tmp_path) -> torch.nn.Module:
    """Form ``name`` in float64 with the shared reference parameters, through a real MXNet .params file."""
    block = get_fusion(name, CHANNELS, r=form_r(name)).double()
    if form_params(name):  # add has none (and MXNet writes no named file for an empty set)
        path = tmp_path / f"{name}.params"
        save_params(path, form_params(name))
        load_checkpoint(block, path)
    return block


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


@pytest.mark.parametrize("name", ABLATION_FORMS)
def test_form_computes_its_paper_formula(name, tmp_path):
    block = _loaded(name, tmp_path).eval()
    x, y = form_inputs(name)
    with torch.no_grad():
        got = block(_t(x), _t(y)).numpy()
    np.testing.assert_allclose(got, paper_formula(name, form_params(name), x, y), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ABLATION_FORMS)
def test_equals_the_mxnet_engine_through_the_converter(name, tmp_path):
    stored = np.load(FIXTURE)
    block = _loaded(name, tmp_path)
    x, y = (_t(a) for a in form_inputs(name))
    with torch.no_grad():
        block.eval()
        np.testing.assert_allclose(block(x, y).numpy(), stored[f"{name}/eval"], rtol=1e-9, atol=1e-9)
        block.train()
        np.testing.assert_allclose(block(x, y).numpy(), stored[f"{name}/train"], rtol=1e-9, atol=1e-9)
    # and back: the twin's arrays carry the MXNet names and values it was loaded from (written as float32)
    arrays = mxnet_arrays_from_model(block)
    assert sorted(arrays) == sorted(form_params(name))
    for key, value in form_params(name).items():
        if "running" not in key:  # train mode moved the running statistics
            np.testing.assert_array_equal(arrays[key], value.astype(np.float32))


@pytest.mark.parametrize("name", ABLATION_FORMS)
def test_names_follow_the_catalogue_and_gradients_flow(name):
    block = get_fusion(name, 16, r=4)
    assert list(name_map(block).values()) == [key for key, _ in fusion_parameters(name, 16, 4)]
    weights = sum(p.numel() for p in block.parameters() if p.dim() == 4)
    assert weights == conv_weights(name, 16, 4)
    x, y = torch.randn(2, 16, 4, 4, requires_grad=True), torch.randn(2, 16, 4, 4, requires_grad=True)
    block(x, y).square().sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all() and x.grad.abs().sum() > 0


def test_registered_by_every_spelling_and_refuses_wrong_shapes():
    assert type(get_fusion("MS-GAU", 8, 2)).__name__ == "MSGAU"
    assert type(get_fusion("SKNet", 8, 1)).__name__ == "SK"
    assert isinstance(get_fusion("Global+Global", 8, 2), CatalogueForm)
    with pytest.raises(ValueError, match="MSSA was built for 8 channels"):
        get_fusion("ms-sa", 8, 2)(torch.ones(1, 4, 3, 3), torch.ones(1, 4, 3, 3))


def test_properties_of_the_notation(tmp_path):
    """afflib's y (shortcut) is the paper's X, x (residual branch) the paper's Y."""
    gen = torch.Generator().manual_seed(0)
    x, y, d = (torch.randn(2, CHANNELS, 4, 4, generator=gen, dtype=torch.float64) for _ in range(3))
    zero = torch.zeros_like(x)
    gau, se, sa, sk, aff, concat = (_loaded(n, tmp_path).eval()
                                    for n in ("ms-gau", "ms-se", "ms-sa", "sk", "aff", "concat"))
    with torch.no_grad():
        torch.testing.assert_close(gau(x, zero), x, rtol=0, atol=1e-12)  # MS-GAU with X = 0 returns Y
        ratio = (se(x, y) - y) / x  # MS-SE: the residual branch rescaled in (0, 1), the shortcut unchanged
        assert ((ratio > 0) & (ratio < 1)).all()
        gate = (sa(x, y) - x) / y  # MS-SA: the gate reads X + Y only
        torch.testing.assert_close((sa(x + d, y - d) - (x + d)) / (y - d), gate, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(sk(x, x), x, rtol=0, atol=1e-12)  # SK's two weights sum to one
        weight = (sk(x, y) - x) / (y - x)  # ... and are constant over H, W (global context)
        torch.testing.assert_close(weight, weight[:, :, :1, :1].expand_as(weight), rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(aff(x, x), 2 * x, rtol=1e-12, atol=1e-12)  # the release's factor 2
        torch.testing.assert_close(concat(x, y), concat(x, zero) + concat(zero, y), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ABLATION_FORMS)
def test_cifar_resnet_host_builds_with_every_form_at_b_1_to_4(name):
    x = torch.randn(2, 3, 8, 8)
    per_block = len(fusion_parameters(name, 4, preset_r(name) or 4))
    for b in (1, 2, 3, 4):
        net = CIFARAFFResNet(fusion=name, layers=[b] * 3, channels=[4, 4, 8, 16], classes=5,
                             fusion_r=preset_r(name) or 4)
        assert net(x).shape == (2, 5)
        fused = [key for key in name_map(net).values() if ".attention." in key]
        assert len(fused) == 3 * b * per_block, (name, b)


@pytest.mark.parametrize("host", ["resnet", "inception"])
def test_paper_preset_gives_every_table4_form_the_same_convolution_weights_in_a_host(host):
    """Table 4's equal budget, counted in whole networks: the hosts differ only in their fusions' kernels."""
    cls = CIFARAFFResNet if host == "resnet" else CIFARInceptionResNet

    def conv_weights_of(name):
        net = cls(fusion=name, layers=[2, 2, 2], channels=[16, 16, 32, 64], classes=10, fusion_r=preset_r(name))
        return sum(p.numel() for key, p in net.named_parameters() if p.dim() == 4 and ".attention." in f".{key}")

    counts = {name: conv_weights_of(name) for name in TABLE4_FORMS + TABLE3_FORMS if name != "add"}
    assert len(set(counts.values())) == 1, counts
    assert conv_weights_of("add") == 0


def test_the_fusion_module_alone_names_where_the_ablation_forms_live():
    """afflib_torch.fusion cannot import the forms module (it imports fusion); a fresh interpreter that asks the
    fusion module for an ablation form before anything imported afflib_torch.forms gets a clear error."""
    probe = ("from afflib_torch.fusion import get_fusion\n"
             "try:\n    get_fusion('ms-gau', 8, 2)\nexcept ValueError as error:\n    print(error)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert "'ms-gau' is built by afflib_torch.forms" in done.stdout, done.stderr
