"""The paper's same-layer host in the MXNet engine (afflib.model_zoo.inception): Inception-ResNet-20-b builds with
every fusion form at b = 1..4, its layers are the plan's, and its float64 outputs are stored for the PyTorch twin."""
import os
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

from afflib.core.ablation import ABLATION_FORMS, preset_r
from afflib.core.fusion import fusion_parameters
from afflib.model_zoo.inception import CIFARInceptionResNet, MixedConv

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "inception_mxnet_float64.npz"
SMALL = dict(channels=[4, 4, 8, 16], classes=5)


@pytest.mark.parametrize("name", ABLATION_FORMS)
def test_inception_host_builds_with_every_form_at_b_1_to_4(name):
    x = mx.nd.array(np.random.RandomState(0).normal(size=(2, 3, 8, 8)))
    per_fusion = len(fusion_parameters(name, 4, preset_r(name) or 4))
    for b in (1, 2, 3, 4):
        net = CIFARInceptionResNet(fusion=name, layers=[b] * 3, fusion_r=preset_r(name) or 4, **SMALL)
        net.initialize()
        assert net(x).shape == (2, 5)
        params = list(net._collect_params_with_prefix())
        # two mixed layers per block, each with a 3x3 and a dilated 3x3 branch and one fusion
        assert sum(key.endswith("conv5.0.weight") for key in params) == 3 * b * 2
        assert sum(".attention." in key for key in params) == 3 * b * 2 * per_fusion
        mixed = [block for block in net.features[2]._children.values()][0].resfwd[2]
        assert isinstance(mixed, MixedConv) and mixed.conv5[0]._kwargs["dilate"] == (2, 2)


def _reference_net():
    net = CIFARInceptionResNet(fusion="ms-sa", layers=[1, 1, 1], fusion_r=2, **SMALL)
    net.initialize()
    net.cast("float64")
    rng = np.random.RandomState(7)
    values = {}
    for key, param in net._collect_params_with_prefix().items():
        shape = param.shape
        if key.endswith("running_var") or key.endswith("gamma"):
            values[key] = rng.uniform(0.5, 1.5, size=shape)
        elif key.endswith(("running_mean", "beta", "bias")):
            values[key] = rng.normal(0.0, 0.2, size=shape)
        else:
            values[key] = rng.normal(0.0, np.sqrt(2.0 / np.prod(shape[1:])), size=shape)
        param.set_data(mx.nd.array(values[key], dtype="float64"))
    return net, values


def test_float64_outputs_for_the_pytorch_twin_are_current():
    net, values = _reference_net()
    x = np.random.RandomState(8).normal(size=(3, 3, 8, 8))
    computed = {f"param:{k}": v for k, v in values.items()}
    computed["input"] = x
    computed["eval"] = net(mx.nd.array(x, dtype="float64")).asnumpy()
    with autograd.record():
        computed["train"] = net(mx.nd.array(x, dtype="float64")).asnumpy()
    if os.environ.get("AFF_WRITE_FORMS_FIXTURE") == "1":
        np.savez_compressed(FIXTURE, **computed)
    stored = dict(np.load(FIXTURE))
    assert sorted(stored) == sorted(computed)
    for key, value in computed.items():
        np.testing.assert_allclose(stored[key], value, rtol=1e-9, atol=1e-9, err_msg=key)


@pytest.mark.parametrize("name", ["concat", "ms-gau", "sk", "recursive-aff"])
def test_hybridized_inception_host_trains(name):
    """Both branches of a mixed layer receive gradient through the form, in the hybridized graph training uses."""
    net = CIFARInceptionResNet(fusion=name, layers=[1, 1, 1], fusion_r=preset_r(name) or 4, **SMALL)
    net.initialize()
    net.hybridize()
    x = mx.nd.array(np.random.RandomState(1).normal(size=(2, 3, 8, 8)))
    with autograd.record():
        loss = net(x).sum()
    loss.backward()
    mixed = net.features[2][0].resfwd[2]
    for branch in (mixed.conv3, mixed.conv5):
        grad = branch[0].weight.grad().asnumpy()
        assert np.isfinite(grad).all() and np.abs(grad).sum() > 0
