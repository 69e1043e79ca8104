"""The same-layer host's plan (afflib.core.ablation.inception_resnet_plan): the CIFAR ResNet-20-b plan with
every block of kind 'inception', the chosen form joining the two branches of each layer."""
from __future__ import annotations

import pytest

from afflib.core.ablation import inception_resnet_plan
from afflib.core.plan import cifar_resnet_plan


@pytest.mark.parametrize("b", [1, 2, 3, 4])
def test_inception_plan_is_the_resnet_plan_with_mixed_layers(b):
    plan = inception_resnet_plan("MS-SENet", [b] * 3, 16, fusion_r=2)
    base = cifar_resnet_plan("ms-se", [b] * 3, 16, fusion_r=2)
    assert plan.family == "CIFARInceptionResNet" and plan.stem == base.stem and plan.features == base.features
    blocks = [block for stage in plan.stages for block in stage]
    assert len(blocks) == 3 * b and 2 * len(blocks) + 2 == 6 * b + 2  # depth 6b + 2
    assert {block.kind for block in blocks} == {"inception"}
    assert {(block.fusion, block.fusion_r) for block in blocks} == {("ms-se", 2)}
    assert [(bl.width, bl.stride, bl.downsample) for bl in blocks] == \
        [(bl.width, bl.stride, bl.downsample) for stage in base.stages for bl in stage]


def test_inception_plan_refuses_what_the_resnet_plan_refuses():
    with pytest.raises(ValueError, match="unknown fusion type 'sum'"):
        inception_resnet_plan("sum", [1, 1, 1], 16)
    with pytest.raises(ValueError, match="layers must be"):
        inception_resnet_plan("aff", [0, 1, 1], 16)
