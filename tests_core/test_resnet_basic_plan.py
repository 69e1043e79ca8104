"""The plan of AFF-ResNet-18/34 (basic blocks): the release's ResNet-D stem, shortcut and fusion placement."""
from __future__ import annotations

import pytest

from afflib.core.flagtable import named_model_values
from afflib.core.fusion import attention_channels, default_r
from afflib.core.modelspec import ModelSpec, full_args, parse_spec
from afflib.core.plan import network_plan, resnet_plan
from afflib.core.registry import plain_twin
from afflib.core.specs import MODEL_SPECS

BASIC = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3]}
NAMES = [f"{fusion}_resnet{depth}" for fusion in ("aff", "iaff", "add") for depth in BASIC]


def _stages(plan):
    """Per stage: (blocks, first block's in/width/out/stride/downsample, fusion, r)."""
    return [(len(stage), stage[0].in_channels, stage[0].width, stage[0].out_channels, stage[0].stride,
             stage[0].downsample, stage[0].fusion, stage[0].fusion_r) for stage in plan.stages]


@pytest.mark.parametrize("depth", sorted(BASIC))
def test_basic_plan_has_the_resnet50_stem_shortcuts_and_fusion_stages(depth):
    plan = resnet_plan("aff", BASIC[depth], block="basic")
    release = resnet_plan("aff", [3, 4, 6, 3])
    assert plan.stem == release.stem and (plan.stem.deep, plan.stem.width, plan.stem.out_channels) == (True, 32, 64)
    blocks = BASIC[depth]
    assert _stages(plan) == [(blocks[0], 64, 64, 64, 1, False, "add", 4), (blocks[1], 64, 128, 128, 2, True, "add", 4),
                             (blocks[2], 128, 256, 256, 2, True, "aff", 4),
                             (blocks[3], 256, 512, 512, 2, True, "aff", 4)]
    # the same stages fuse as in the release's AFF-ResNet-50, with the same shortcut (avg-pool, 1x1 conv, BN)
    assert [s[0].fusion for s in plan.stages] == [s[0].fusion for s in release.stages]
    for stage in plan.stages:
        assert all(b.kind == "basic" and b.avg_down and b.shortcut_norm and b.groups == 1 and not b.zero_gamma
                   for b in stage)
        assert not any(b.downsample for b in stage[1:]) and all(b.stride == 1 for b in stage[1:])
    assert (plan.features, plan.classes) == (512, 1000)


def test_basic_r_keeps_the_attention_width_of_the_bottleneck():
    """r = 4 on the basic block's C channels gives the width C/4 that r = 16 gives on the bottleneck's 4C."""
    assert default_r("aff", "basic") == default_r("iaff", "basic") == 4 and default_r("aff", "bottleneck") == 16
    basic, bottleneck = resnet_plan("iaff", [2, 2, 2, 2], block="basic"), resnet_plan("iaff", [3, 4, 6, 3])
    widths = [[attention_channels(s[0].out_channels, s[0].fusion_r) for s in p.stages[2:]] for p in (basic, bottleneck)]
    assert widths[0] == widths[1] == [64, 128]


def test_basic_options_as_the_bottleneck_plan():
    plan = resnet_plan("iaff", [1, 1, 1, 1], block="basic", start_layer=1, last_gamma=True, fusion_r=8,
                       deep_stem=False, classes=10)
    assert [s[0].fusion for s in plan.stages] == ["iaff"] * 4 and {s[0].fusion_r for s in plan.stages} == {8}
    assert all(s[0].zero_gamma for s in plan.stages) and (plan.stem.deep, plan.stem.kernel) == (False, 7)
    assert network_plan("AFFResNet", {"self": None, "fusion": "add", "layers": [2, 2, 2, 2],
                                      "block": "basic"}).stages[0][0].kind == "basic"
    with pytest.raises(ValueError, match=r"AFFResNet: block must be one of 'bottleneck', 'basic', got 'bsaic'"):
        resnet_plan("aff", [2, 2, 2, 2], block="bsaic")


@pytest.mark.parametrize("name", NAMES)
def test_registry_entries_and_specs(name):
    family, defaults = MODEL_SPECS[name]
    depth = int(name.rsplit("resnet", 1)[1])
    assert family == "AFFResNet" and defaults == dict(fusion=name.split("_")[0], layers=BASIC[depth], block="basic",
                                                      fusion_r=4, start_layer=3, classes=1000)
    plan = network_plan(family, defaults)
    assert sum(len(s) for s in plan.stages) * 2 + 2 == depth  # two convs a block, the stem and the classifier
    assert ModelSpec.create(name, classes=1000, fusion_r=4).text() == name
    assert ModelSpec.create(name, fusion_r=16).text() == f"{name}(fusion_r=16)"
    assert parse_spec(ModelSpec.create(name, classes=10).text()) == ModelSpec(name, {"classes": 10})
    assert full_args(ModelSpec(name))["block"] == "basic" and full_args(ModelSpec("aff_resnet50"))["block"] == (
        "bottleneck")
    flags = named_model_values(name)  # what train_imagenet's architecture flags would have to say
    assert (flags["model"], flags["num_layer"], flags["r"], flags["start_layer"]) == ("resnet", depth, 4, 3)
    if not name.startswith("add_"):
        assert plain_twin(name) == f"add_resnet{depth}" and plain_twin(name) in MODEL_SPECS
