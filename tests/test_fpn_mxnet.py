"""The long-skip host in the MXNet engine (afflib.model_zoo.fpn): ResNet-20-b + FPN builds with every fusion form at
b = 1..4 and gives (N, classes, H, W) logits, its float64 outputs are stored for the PyTorch twin, and the
AFF-ResNet-50 + FPN backbone loads a classification checkpoint in the released layout."""
import os
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

import afflib
from afflib.core.ablation import ABLATION_FORMS, preset_r
from afflib.core.fusion import fusion_parameters
from afflib.model_zoo.fpn import AFFResNetFPN, CIFARFPN
from reference import load_released_format, reference_dir, regenerate_params

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "fpn_mxnet_float64.npz"
SMALL = dict(channels=[4, 4, 8, 16], classes=3, in_channels=1)
# fixture tag -> constructor arguments of the reference networks (the torch suite builds the same)
REFERENCE_NETS = {"aff_ms-sa": dict(fusion="ms-sa", fusion_r=2, **SMALL), "iaff": dict(fusion="iaff", **SMALL)}
TINY_RESNET = dict(layers=[1, 1, 1, 1], fpn_channels=8, classes=3)


def _image(shape, seed=0):
    return mx.nd.array(np.random.RandomState(seed).normal(size=shape))


@pytest.mark.parametrize("form", ABLATION_FORMS)
def test_builds_with_every_form(form):
    per_fusion = len(fusion_parameters(form, 4, preset_r(form) or 1))
    net = CIFARFPN(fusion=form, layers=[1, 1, 1], **SMALL)
    net.initialize()
    assert net(_image((1, 1, 16, 16))).shape == (1, 3, 16, 16)
    params = list(net._collect_params_with_prefix())
    assert sum(key.startswith("top_down.") and ".attention." in key for key in params) == 2 * per_fusion
    # the backbone adds plainly: no attention parameters outside the long skips
    assert not any(key.startswith("backbone.") and ".attention." in key for key in params)


@pytest.mark.parametrize("fusion", ["aff", "iaff", "add"])
def test_registry_names_at_b_1_to_4(fusion):
    for depth, b in ((8, 1), (14, 2), (20, 3), (26, 4)):
        net = afflib.get_model(f"cifar_{fusion}_fpn{depth}", channels=[4, 4, 8, 16])
        net.initialize()
        assert net(_image((2, 1, 16, 12))).shape == (2, 11, 16, 12)
        assert [len(stage) for stage in net.backbone[2:]] == [b] * 3
    net = afflib.get_model("cifar_aff_fpn8(fusion='ms-gau', fusion_r=2)", classes=2, channels=[4, 4, 8, 16])
    assert type(net.top_down[0].attention).__name__ == "MSGAU"


def _reference_net(args):
    """The network with seeded values (float32-exact, the reference vectors' rule) cast to float64."""
    net = CIFARFPN(layers=[1, 1, 1], **args)
    net.initialize()
    net.cast("float64")
    params = net._collect_params_with_prefix()
    drawn = regenerate_params({"seed": 7, "params": [(key, param.shape) for key, param in params.items()]})
    values = {key: value.astype(np.float64) for key, value in drawn.items()}
    for key, param in params.items():
        param.set_data(mx.nd.array(values[key], dtype="float64"))
    return net, values


def _resnet_names():
    net = AFFResNetFPN(**TINY_RESNET)
    return np.array([f"{key} {tuple(param.shape)}" for key, param in net._collect_params_with_prefix().items()])


def test_float64_outputs_for_the_pytorch_twin_are_current():
    computed = {"resnet_fpn/names": _resnet_names()}
    x = np.random.RandomState(8).normal(size=(2, 1, 8, 12))
    for tag, args in REFERENCE_NETS.items():
        net, values = _reference_net(args)
        computed.update({f"{tag}/param:{k}": v for k, v in values.items()})
        computed[f"{tag}/input"] = x
        computed[f"{tag}/eval"] = net(mx.nd.array(x, dtype="float64")).asnumpy()
        with autograd.record():
            computed[f"{tag}/train"] = net(mx.nd.array(x, dtype="float64")).asnumpy()
        assert computed[f"{tag}/eval"].shape == (2, 3, 8, 12)
    if os.environ.get("AFF_WRITE_FPN_FIXTURE") == "1":
        np.savez_compressed(FIXTURE, **computed)
    stored = dict(np.load(FIXTURE))
    assert sorted(stored) == sorted(computed)
    for key, value in computed.items():
        if value.dtype.kind == "U":
            assert stored[key].tolist() == value.tolist(), key
        else:
            np.testing.assert_allclose(stored[key], value, rtol=1e-9, atol=1e-9, err_msg=key)


def test_upsampling_is_bilinear_without_corner_alignment():
    """A 2x upsampling of a ramp: half-pixel centres (align_corners=False), the edges clamped."""
    x = mx.nd.array(np.array([0.0, 4.0], dtype=np.float64).reshape(1, 1, 1, 2), dtype="float64")
    like = mx.nd.zeros((1, 1, 1, 4), dtype="float64")
    out = mx.nd.contrib.BilinearResize2D(x, like=like, mode="like", align_corners=False).asnumpy().ravel()
    np.testing.assert_allclose(out, [0.0, 1.0, 3.0, 4.0])


def test_hybridized_network_equals_imperative_and_both_fusion_inputs_train():
    net = CIFARFPN(fusion="aff", layers=[1, 1, 1], **SMALL)
    net.initialize(mx.init.Xavier())
    x = _image((2, 1, 8, 8), seed=3)
    expected = net(x).asnumpy()
    net.hybridize()
    np.testing.assert_allclose(net(x).asnumpy(), expected, rtol=1e-5, atol=1e-6)
    with autograd.record():
        loss = net(x).sum()
    loss.backward()
    # x of the fusion (the top-down map) and y (the long skip from stage 1) both receive gradient
    for param in (net.top_down[1].reduce[0].weight, net.backbone[2][0].resfwd[2].weight):
        grad = param.grad().asnumpy()
        assert np.isfinite(grad).all() and np.abs(grad).sum() > 0
    resnet = AFFResNetFPN(**TINY_RESNET)
    resnet.initialize()
    resnet.hybridize()
    assert resnet(_image((1, 3, 64, 32))).shape == (1, 3, 64, 32)


def _released_layout_file(tmp_path, dtype="float32"):
    """A classification checkpoint as released (AFF-ResNet-50 names, ``fc`` included), random weights."""
    classifier = afflib.get_model("aff_resnet50")
    classifier.initialize(mx.init.Xavier())
    classifier(_image((1, 3, 32, 32)))
    classifier.cast(dtype)
    path = tmp_path / "aff_resnet50-random.params"
    classifier.save_parameters(str(path))
    return classifier, path


def test_resnet50_fpn_builds_and_its_backbone_loads_a_released_layout_file(tmp_path):
    classifier, path = _released_layout_file(tmp_path, "float16")   # the ImageNet releases are float16
    saved = mx.nd.load(str(path))
    if reference_dir() is not None:   # the released file's names (reference data, when present)
        assert sorted(name for name, _ in load_released_format("AFF-ResNet-50")["params"]) == sorted(saved)
    net = afflib.get_model("aff_resnet50_fpn", pretrained_base=str(path))
    for key, param in net.backbone._collect_params_with_prefix().items():
        np.testing.assert_array_equal(param.data().asnumpy(), saved[key].asnumpy().astype(np.float32), err_msg=key)
    net.initialize_decoder()  # the laterals, top-down path and head
    assert net(_image((1, 3, 64, 64))).shape == (1, 21, 64, 64)
    assert type(net.top_down[0].attention).__name__ == "AFF"


def test_load_backbone_refuses_a_file_of_another_network(tmp_path):
    other = afflib.get_model("cifar_aff_resnet20")
    other.initialize()
    other(_image((1, 3, 8, 8)))
    path = tmp_path / "cifar.params"
    other.save_parameters(str(path))
    net = AFFResNetFPN(**TINY_RESNET)
    with pytest.raises(ValueError, match="backbone arrays missing"):
        net.load_backbone(path)
    with pytest.raises(ValueError, match="pretrained_base"):
        AFFResNetFPN(layers=[1, 1, 1, 1], pretrained_base=True)
