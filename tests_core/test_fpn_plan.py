"""The long-skip host's plans (afflib.core.fpn): ResNet-20-b + FPN at b = 1..4 with every fusion form, the
ImageNet variant's laterals, registry names of any depth 6b + 2, and bad arguments naming themselves."""
from pathlib import Path

import pytest

from afflib.core.ablation import ABLATION_FORMS, preset_r
from afflib.core.fpn import (backbone_checkpoint, backbone_release_name, cifar_fpn_plan, long_skip_r,
                             resnet_fpn_plan, stage_outputs)
from afflib.core.modelspec import ModelSpec, entry, full_args, parse_spec
from afflib.core.released import PretrainedNotAvailable
from afflib.core.specs import MODEL_SPECS


@pytest.mark.parametrize("form", ABLATION_FORMS)
def test_cifar_plan_at_b_1_to_4_with_every_form(form):
    for b in (1, 2, 3, 4):
        plan = cifar_fpn_plan(form, [b] * 3, [16, 16, 32, 64], classes=11, in_channels=1)
        assert [len(stage) for stage in plan.backbone.stages] == [b] * 3
        assert [block.stride for block in plan.backbone.stages[1]][:1] == [2]
        # the backbone's own residual additions stay plain: only the long skips carry the form
        assert {block.fusion for stage in plan.backbone.stages for block in stage} == {"add"}
        assert plan.stage_channels == (16, 32, 64) and plan.laterals == ()
        assert [(lv.stage, lv.high_channels, lv.channels) for lv in plan.levels] == [(2, 64, 32), (1, 32, 16)]
        assert {lv.fusion for lv in plan.levels} == {form}
        assert {lv.fusion_r for lv in plan.levels} == {preset_r(form) or 1}
        assert (plan.head_channels, plan.classes, plan.output_stride) == (16, 11, 1)
        assert plan.backbone.stem.in_channels == 1


def test_aliases_fusion_r_widths_and_backbone_fusion():
    plan = cifar_fpn_plan("MS-GAU", [2, 2, 2], 8, classes=2, fusion_r=4, in_channels=3, backbone_fusion="aff")
    assert [lv.fusion for lv in plan.levels] == ["ms-gau", "ms-gau"] and plan.levels[0].fusion_r == 4
    assert plan.stage_channels == (8, 16, 32) and plan.classes == 2 and plan.backbone.stem.in_channels == 3
    assert {block.fusion for stage in plan.backbone.stages for block in stage} == {"aff"}
    assert long_skip_r("iaff", None) == preset_r("iaff") == 4 and long_skip_r("add", None) == 1
    assert long_skip_r(lambda c, r: None, None) == 2


def test_resnet_plan_laterals_to_fpn_channels():
    plan = resnet_fpn_plan("iaff", [3, 4, 6, 3], classes=21, fpn_channels=128)
    assert plan.laterals == (256, 512, 1024, 2048) and plan.stage_channels == (128,) * 4
    assert [(lv.stage, lv.high_channels, lv.channels) for lv in plan.levels] == [(3, 128, 128), (2, 128, 128),
                                                                               (1, 128, 128)]
    assert plan.output_stride == 4 and plan.backbone.stem.deep
    # the release's backbone: its fusion from stage 3 on with r = 16, so that aff_resnet50's checkpoint loads
    assert [stage[0].fusion for stage in plan.backbone.stages] == ["add", "add", "aff", "aff"]
    assert plan.backbone.stages[2][0].fusion_r == 16
    assert backbone_release_name("AFF", [3, 4, 6, 3]) == "aff_resnet50"


@pytest.mark.parametrize("call, argument", [
    (lambda: cifar_fpn_plan("sum", [1, 1, 1], 16), "fusion"),
    (lambda: cifar_fpn_plan(3, [1, 1, 1], 16), "fusion"),
    (lambda: cifar_fpn_plan("aff", [1, 1], 16), "layers"),
    (lambda: cifar_fpn_plan("aff", [0, 1, 1], 16), "layers"),
    (lambda: cifar_fpn_plan("aff", [1, 1, 1], [16, 32]), "channels"),
    (lambda: cifar_fpn_plan("aff", [1, 1, 1], 16, classes=0), "classes"),
    (lambda: cifar_fpn_plan("aff", [1, 1, 1], 16, fusion_r=0), "fusion_r"),
    (lambda: cifar_fpn_plan("aff", [1, 1, 1], 16, in_channels=0), "in_channels"),
    (lambda: resnet_fpn_plan("aff", [3, 4, 6]), "layers"),
    (lambda: resnet_fpn_plan("aff", fpn_channels=-1), "fpn_channels"),
    (lambda: backbone_release_name("aff", [1, 1, 1, 1]), "pretrained_base"),
])
def test_bad_arguments_name_themselves(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()


def test_registry_names_and_any_depth():
    for fusion in ("aff", "iaff", "add"):
        for depth, b in ((8, 1), (14, 2), (20, 3), (26, 4)):
            family, defaults = MODEL_SPECS[f"cifar_{fusion}_fpn{depth}"]
            assert family == "CIFARFPN" and defaults == dict(fusion=fusion, layers=[b] * 3,
                                                             channels=[16, 16, 32, 64], in_channels=1, classes=11)
        assert MODEL_SPECS[f"{fusion}_resnet50_fpn"][0] == "AFFResNetFPN"
    assert entry("cifar_iaff_fpn38")[1]["layers"] == [6, 6, 6]
    with pytest.raises(ValueError, match=r"depth is 6\*blocks\+2"):
        entry("cifar_aff_fpn9")
    spec = parse_spec("cifar_aff_fpn8(fusion='ms-gau', fusion_r=2)")
    assert full_args(spec)["fusion"] == "ms-gau" and full_args(spec)["layers"] == [1, 1, 1]
    assert ModelSpec.create("cifar_aff_fpn8", fusion="MS-GAU", fusion_r=2).text() == \
        "cifar_aff_fpn8(fusion_r=2, fusion='ms-gau')"
    assert ModelSpec.create("cifar_aff_fpn8", fusion="iaff", layers=[4, 4, 4], classes=11).text() == "cifar_iaff_fpn26"
    assert ModelSpec.create("aff_resnet50_fpn", classes=2, fpn_channels=256).text() == "aff_resnet50_fpn(classes=2)"


def test_backbone_checkpoint_and_stage_outputs(tmp_path):
    assert backbone_checkpoint(False, "aff", [3, 4, 6, 3]) is None
    path = tmp_path / "mine.params"
    assert backbone_checkpoint(str(path), "aff", [3, 4, 6, 3]) == Path(path)
    with pytest.raises(PretrainedNotAvailable, match="no released weights for 'add_resnet50'"):
        backbone_checkpoint(True, "add", [3, 4, 6, 3], root=tmp_path)
    # the outputs of the last `stages` layers: a stem (x + 1) then three stages (x * 2)
    assert stage_outputs([lambda x: x + 1] + [lambda x: x * 2] * 3, 3, 1) == [4, 8, 16]
