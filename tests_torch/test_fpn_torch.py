"""The long-skip host in the PyTorch engine (afflib_torch.fpn): ResNet-20-b + FPN builds with every fusion form at
b = 1..4, reproduces the MXNet engine's float64 outputs through the converter, maps its names both ways, and the
AFF-ResNet-50 + FPN backbone loads a classification checkpoint in the released layout."""
from pathlib import Path

import numpy as np
import pytest
import torch

import afflib_torch
from afflib.core.ablation import ABLATION_FORMS, preset_r
from afflib.core.fusion import fusion_parameters
from afflib.core.params_io import load_params, save_params
from afflib_torch.convert import CheckpointMismatch, mxnet_arrays_from_model, name_map, save_checkpoint, \
    state_dict_from_mxnet
from afflib_torch.fpn import AFFResNetFPN, CIFARFPN
from reference import load_released_format, reference_dir

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "fpn_mxnet_float64.npz"
SMALL = dict(channels=[4, 4, 8, 16], classes=3, in_channels=1)
REFERENCE_NETS = {"aff_ms-sa": dict(fusion="ms-sa", fusion_r=2, **SMALL), "iaff": dict(fusion="iaff", **SMALL)}
TINY_RESNET = dict(layers=[1, 1, 1, 1], fpn_channels=8, classes=3)


@pytest.mark.parametrize("form", ABLATION_FORMS)
def test_builds_with_every_form(form):
    per_fusion = len(fusion_parameters(form, 4, preset_r(form) or 1))
    net = CIFARFPN(fusion=form, layers=[1, 1, 1], **SMALL)
    assert net(torch.randn(1, 1, 16, 16)).shape == (1, 3, 16, 16)
    names = list(name_map(net).values())
    assert sum(key.startswith("top_down.") and ".attention." in key for key in names) == 2 * per_fusion
    assert not any(key.startswith("backbone.") and ".attention." in key for key in names)


@pytest.mark.parametrize("fusion", ["aff", "iaff", "add"])
def test_registry_names_at_b_1_to_4(fusion):
    for depth, b in ((8, 1), (14, 2), (20, 3), (26, 4)):
        net = afflib_torch.get_model(f"cifar_{fusion}_fpn{depth}", channels=[4, 4, 8, 16])
        assert net(torch.randn(2, 1, 16, 12)).shape == (2, 11, 16, 12)
        assert [len(stage) for stage in list(net.backbone)[2:]] == [b] * 3
    net = afflib_torch.get_model("cifar_aff_fpn8(fusion='ms-gau', fusion_r=2)", classes=2, channels=[4, 4, 8, 16])
    assert type(net.top_down[0].attention).__name__ == "MSGAU"


@pytest.mark.parametrize("tag", sorted(REFERENCE_NETS))
def test_equals_the_mxnet_engine_through_the_converter(tag):
    stored = dict(np.load(FIXTURE))
    prefix = f"{tag}/param:"
    arrays = {key[len(prefix):]: value for key, value in stored.items() if key.startswith(prefix)}
    net = CIFARFPN(layers=[1, 1, 1], **REFERENCE_NETS[tag]).double()
    net.load_state_dict(state_dict_from_mxnet(net, arrays))
    x = torch.from_numpy(stored[f"{tag}/input"])
    with torch.no_grad():
        net.eval()
        np.testing.assert_allclose(net(x).numpy(), stored[f"{tag}/eval"], rtol=1e-9, atol=1e-9)
        net.train()
        np.testing.assert_allclose(net(x).numpy(), stored[f"{tag}/train"], rtol=1e-9, atol=1e-9)
    # and back: the MXNet names and values the converter writes (through float32) are the fixture's
    back = mxnet_arrays_from_model(net, dtype="float64")
    assert sorted(back) == sorted(arrays)
    for key in (k for k in arrays if "running" not in k):   # train mode moved the running statistics
        np.testing.assert_allclose(back[key], arrays[key], rtol=1e-6, atol=1e-7, err_msg=key)


def test_resnet_fpn_names_are_the_mxnet_engines():
    stored = np.load(FIXTURE)["resnet_fpn/names"].tolist()
    net = AFFResNetFPN(**TINY_RESNET)
    state = net.state_dict()
    ours = [f"{mx} {tuple(state[key].shape)}" for key, mx in name_map(net).items()]
    assert sorted(ours) == sorted(stored)


def _released_layout_file(tmp_path, dtype):
    """A classification checkpoint as released (AFF-ResNet-50 names, ``fc`` included), random weights."""
    torch.manual_seed(0)
    classifier = afflib_torch.get_model("aff_resnet50")
    path = tmp_path / "aff_resnet50-random.params"
    save_checkpoint(classifier, path, dtype=dtype)
    return path


def test_resnet50_fpn_builds_and_its_backbone_loads_a_released_layout_file(tmp_path):
    path = _released_layout_file(tmp_path, "float16")   # the ImageNet releases are float16
    saved = load_params(path)
    if reference_dir() is not None:   # the released file's names (reference data, when present)
        assert sorted(saved) == sorted(name for name, _ in load_released_format("AFF-ResNet-50")["params"])
    net = afflib_torch.get_model("aff_resnet50_fpn", pretrained_base=str(path))
    for key, mx_name in name_map(net.backbone).items():
        np.testing.assert_array_equal(net.backbone.state_dict()[key].numpy(), saved[mx_name].astype(np.float32),
                                      err_msg=mx_name)
    net.eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 64, 64)).shape == (1, 21, 64, 64)
    assert type(net.top_down[0].attention).__name__ == "AFF"


def test_load_backbone_refuses_a_file_of_another_network(tmp_path):
    path = tmp_path / "cifar.params"
    save_params(path, mxnet_arrays_from_model(afflib_torch.get_model("cifar_aff_resnet20")))
    net = AFFResNetFPN(**TINY_RESNET)
    with pytest.raises(CheckpointMismatch, match="missing from the file"):
        net.load_backbone(path)
    with pytest.raises(ValueError, match="pretrained_base"):
        AFFResNetFPN(layers=[1, 1, 1, 1], pretrained_base=True)
