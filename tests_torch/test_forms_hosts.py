"""The paper's same-layer host in the PyTorch engine (afflib_torch.inception): Inception-ResNet-20-b builds with
every fusion form at b = 1..4 and reproduces the MXNet engine's float64 outputs through the converter."""
from pathlib import Path

import numpy as np
import pytest
import torch

from afflib.core.ablation import ABLATION_FORMS, preset_r
from afflib.core.fusion import fusion_parameters
from afflib_torch.convert import name_map, state_dict_from_mxnet
from afflib_torch.inception import CIFARInceptionResNet

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "inception_mxnet_float64.npz"
SMALL = dict(channels=[4, 4, 8, 16], classes=5)


@pytest.mark.parametrize("name", ABLATION_FORMS)
def test_inception_host_builds_with_every_form_at_b_1_to_4(name):
    x = torch.randn(2, 3, 8, 8)
    per_fusion = len(fusion_parameters(name, 4, preset_r(name) or 4))
    for b in (1, 2, 3, 4):
        net = CIFARInceptionResNet(fusion=name, layers=[b] * 3, fusion_r=preset_r(name) or 4, **SMALL)
        assert net(x).shape == (2, 5)
        names = list(name_map(net).values())
        assert sum(key.endswith("conv5.0.weight") for key in names) == 3 * b * 2
        assert sum(".attention." in key for key in names) == 3 * b * 2 * per_fusion
        assert net.features[2][0].resfwd[2].conv5[0].dilation == (2, 2)


def test_equals_the_mxnet_engine_through_the_converter():
    stored = dict(np.load(FIXTURE))
    arrays = {key[len("param:"):]: value for key, value in stored.items() if key.startswith("param:")}
    net = CIFARInceptionResNet(fusion="ms-sa", layers=[1, 1, 1], fusion_r=2, **SMALL).double()
    net.load_state_dict(state_dict_from_mxnet(net, arrays))
    x = torch.from_numpy(stored["input"])
    with torch.no_grad():
        net.eval()
        np.testing.assert_allclose(net(x).numpy(), stored["eval"], rtol=1e-9, atol=1e-9)
        net.train()
        np.testing.assert_allclose(net(x).numpy(), stored["train"], rtol=1e-9, atol=1e-9)
