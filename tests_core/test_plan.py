"""The stage plan (afflib.core.plan): layer checks, widths, strides, shortcuts, fusion per stage, zero gamma."""
from __future__ import annotations

import inspect

import pytest

from afflib.core.modelspec import CONSTRUCTOR_DEFAULTS
from afflib.core.plan import (PLANS, check_layers, cifar_resnet_plan, cifar_resnext_plan, cifar_widths, group_width,
                              network_plan, resnet_plan, resnext_plan, stage_fusions, zero_last_gamma)


def _summary(plan):
    """Per stage: (blocks, first block's in/width/out/stride/downsample, fusion, r)."""
    return [(len(stage), stage[0].in_channels, stage[0].width, stage[0].out_channels, stage[0].stride,
             stage[0].downsample, stage[0].fusion, stage[0].fusion_r) for stage in plan.stages]


def test_resnet50_d():
    plan = resnet_plan("ASKCFuse", [3, 4, 6, 3], fusion_r=16)
    assert (plan.stem.deep, plan.stem.width, plan.stem.out_channels, plan.stem.stride) == (True, 32, 64, 2)
    assert _summary(plan) == [(3, 64, 64, 256, 1, True, "add", 16), (4, 256, 128, 512, 2, True, "add", 16),
                              (6, 512, 256, 1024, 2, True, "aff", 16), (3, 1024, 512, 2048, 2, True, "aff", 16)]
    later = plan.stages[1][1]
    assert (later.in_channels, later.stride, later.downsample) == (512, 1, False)
    assert all(b.kind == "bottleneck" and b.avg_down and b.shortcut_norm and not b.zero_gamma
               for stage in plan.stages for b in stage)
    assert (plan.features, plan.classes) == (2048, 1000)
    plain = resnet_plan("aff", [1, 1, 1, 1], deep_stem=False, last_gamma=True)
    assert (plain.stem.deep, plain.stem.kernel, plain.stem.out_channels) == (False, 7, 64)
    assert all(stage[0].zero_gamma for stage in plain.stages)


def test_resnext50_32x4d_group_width_and_inverted_last_gamma():
    plan = resnext_plan("iaff", [3, 4, 6, 3])
    assert [stage[0].width for stage in plan.stages] == [128, 256, 512, 1024]
    assert [stage[0].avg_down for stage in plan.stages] == [False, True, True, True]
    assert [stage[0].downsample for stage in plan.stages] == [True] * 4
    assert all(b.groups == 32 and b.zero_gamma for stage in plan.stages for b in stage)  # release: not last_gamma
    assert (plan.stem.width, plan.stem.out_channels, plan.features) == (64, 128, 2048)
    assert not any(b.zero_gamma for s in resnext_plan("aff", [1] * 4, last_gamma=True).stages for b in s)
    assert all(b.zero_gamma for s in resnext_plan("aff", [1] * 4, last_gamma=True, original_last_gamma=False).stages
               for b in s)
    assert group_width(64, 64, 4) == 256 and group_width(100, 32, 4) == 192
    assert [zero_last_gamma(g, o) for g in (False, True) for o in (True, False)] == [True, False, False, True]


def test_cifar_resnet32_of_the_release():
    plan = cifar_resnet_plan("aff", [5, 5, 5], [64, 64, 128, 256], classes=100, fusion_r=4)
    assert (plan.stem.deep, plan.stem.kernel, plan.stem.stride, plan.stem.out_channels) == (False, 3, 1, 64)
    assert _summary(plan) == [(5, 64, 64, 64, 1, False, "aff", 4), (5, 64, 128, 128, 2, True, "aff", 4),
                              (5, 128, 256, 256, 2, True, "aff", 4)]
    assert all(b.kind == "preact" and not b.shortcut_norm for stage in plan.stages for b in stage)
    assert cifar_resnet_plan("aff", [1, 1, 1], 16, deep_stem=True).stem.width == 8


def test_cifar_resnext_widths():
    plan = cifar_resnext_plan("aff", [3, 3, 3], [64, 64, 128, 256])
    assert [(s[0].in_channels, s[0].width, s[0].out_channels, s[0].stride) for s in plan.stages] == [
        (64, 128, 256, 1), (256, 256, 512, 2), (512, 512, 1024, 2)]
    assert plan.features == 1024 and not plan.stem.pool
    assert _summary(cifar_resnext_plan("aff", [1, 1], 16)) == _summary(cifar_resnext_plan("aff", [1, 1], [16, 16, 32]))


def test_layer_and_width_checks():
    assert check_layers((3, "4", 6, 3), 4, "AFFResNet", 3) == [3, 4, 6, 3]
    with pytest.raises(ValueError, match="AFFResNet: layers must be 4 positive block counts"):
        resnet_plan("aff", [3, 4, 6])
    with pytest.raises(ValueError, match="start_layer must be a stage from 1 to 3, got 4"):
        cifar_resnet_plan("aff", [1, 1, 1], 16, start_layer=4)
    assert cifar_widths(16, 3) == [16, 16, 32, 64]
    with pytest.raises(ValueError, match="stem width and 3 stage widths"):
        cifar_widths([16, 16, 32], 3)


def test_fusion_per_stage():
    assert stage_fusions("iAFF", 4, 3) == ["add", "add", "iaff", "iaff"]
    assert stage_fusions(["add", "aff", "iaff", "DirectAdd"], 4, 1) == ["add", "aff", "iaff", "add"]
    assert stage_fusions(["add", "add", "aff", "iaff"], 4, 3) == ["add", "add", "aff", "iaff"]
    with pytest.raises(ValueError, match="stage 1, below start_layer=3 .*pass start_layer=1"):
        stage_fusions(["aff"] * 4, 4, 3)
    with pytest.raises(ValueError, match="list of 3"):
        stage_fusions(["aff"] * 4, 3, 1)
    with pytest.raises(ValueError, match="unknown fusion type 'sum'"):
        stage_fusions("sum", 3, 1)
    plan = resnet_plan(["add", "aff", "iaff", "aff"], [1, 1, 1, 1], start_layer=1)
    assert [stage[0].fusion for stage in plan.stages] == ["add", "aff", "iaff", "aff"]


def test_a_factory_replaces_the_fusion_from_start_layer():
    def factory(channels, r):
        return ("mine", channels, r)

    plan = cifar_resnet_plan(factory, [1, 1, 1], 16, start_layer=2, fusion_r=2)
    assert [stage[0].fusion for stage in plan.stages] == ["add", factory, factory]
    assert plan.stages[2][0].fusion_r == 2


def test_plan_defaults_are_the_constructor_defaults():
    for family, table in CONSTRUCTOR_DEFAULTS.items():
        signature = inspect.signature(PLANS[family]).parameters
        ours = {k: signature[k].default for k in table}
        assert ours.pop("fusion_r") is None  # the catalogue's default_r (tests_core/test_fusion_catalogue.py)
        assert ours == {k: v for k, v in table.items() if k != "fusion_r"}, family
    kinds = {"AFFResNet": "bottleneck", "AFFResNeXt": "resnext", "CIFARAFFResNet": "preact",
             "CIFARAFFResNeXt": "resnext"}
    for family, table in CONSTRUCTOR_DEFAULTS.items():
        args = {"fusion": "aff", "layers": [1] * (4 if family.startswith("AFF") else 3), "channels": 16}
        plan = network_plan(family, {k: v for k, v in args.items() if k in inspect.signature(PLANS[family]).parameters})
        assert {b.kind for s in plan.stages for b in s} == {kinds[family]}
        assert {b.fusion_r for s in plan.stages for b in s} == {table["fusion_r"]}


def test_network_plan_takes_a_constructors_locals():
    class Net:
        def __init__(self, fusion, layers, channels, start_layer=1, **kwargs):
            self.plan = network_plan("CIFARAFFResNet", locals())
            super().__init__()

    plan = Net("aff", [1, 1, 1], 8, prefix="x_").plan
    assert plan.family == "CIFARAFFResNet" and plan.features == 32
