"""The fusion catalogue (afflib.core.fusion): names, parameter layout against the release, input checks."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from afflib.core import specs
from afflib.core.fusion import (FORMS, FUSION_ALIASES, MS_CAM, RELEASE_NAMES, attention_channels, attention_pairs,
                                canonical_fusion, check_inputs, default_r, fusion_form, fusion_parameters)
from afflib.core.modelspec import CONSTRUCTOR_DEFAULTS

REPO = Path(__file__).resolve().parents[1]


def _released(stem: str) -> dict:
    env = os.environ.get("AFF_REFERENCE_DIR")
    for root in ([Path(env)] if env else []) + [REPO.parent / "shared" / "reference"]:
        path = root / "released_format" / f"{stem}.json"
        if path.is_file():
            return json.loads(path.read_text())
    pytest.skip("reference data of the original release not found: set AFF_REFERENCE_DIR")


@pytest.mark.parametrize("alias,expected", [("aff", "aff"), ("ASKCFuse", "aff"), ("askcfuse", "aff"), ("AFF", "aff"),
                                            ("iAFF", "iaff"), ("ResGlobLocaforGlobLocaCha", "iaff"),
                                            ("ResGlobLocaforGlobLocaChaFuse", "iaff"), ("add", "add"),
                                            ("DirectAdd", "add"), ("DIRECTADD", "add"), (" DirectAddFuse ", "add")])
def test_paper_release_and_class_names_are_accepted(alias, expected):
    assert canonical_fusion(alias) == expected
    assert fusion_form(alias).name == expected


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown fusion type 'sum'; valid .*ASKCFuse, DirectAdd, "
                                         "ResGlobLocaforGlobLocaCha, add, aff, aff-global-global, .*iaff"):
        canonical_fusion("sum")


def test_the_old_tables_are_derived_from_the_catalogue():
    assert RELEASE_NAMES == {"aff": "ASKCFuse", "iaff": "ResGlobLocaforGlobLocaCha", "add": "DirectAdd"}
    release = {alias: name for alias, name in FUSION_ALIASES.items() if FORMS[name].release}
    assert release == {"aff": "aff", "askcfuse": "aff", "iaff": "iaff", "resgloblocaforgloblocacha": "iaff",
                       "resgloblocaforgloblocachafuse": "iaff", "add": "add", "directadd": "add",
                       "directaddfuse": "add"}
    assert specs.canonical_fusion is canonical_fusion and specs.FUSION_ALIASES is FUSION_ALIASES


def test_every_row_is_consistent():
    classes = [form.class_name for form in FORMS.values()]
    assert len(set(classes)) == len(classes)
    for name, form in FORMS.items():
        assert form.name == name == name.lower()
        if not form.release:
            continue  # the ablation forms: tests_core/test_forms_catalogue.py
        assert form.blend in ("soft", "add") and form.context in ("both", "local", "global", "none")
        # one (local, global) pair of branches per attention map
        assert len(form.branches) == 2 * form.iterations if form.attended else form.iterations == 0
        assert all(not branch.pooled for branch in form.branches[0::2])
        assert all(branch.pooled for branch in form.branches[1::2])


def test_what_each_release_form_computes():
    aff, iaff, add = FORMS["aff"], FORMS["iaff"], FORMS["add"]
    assert (aff.iterations, aff.scale, aff.branches) == (1, 2.0, MS_CAM)
    assert (iaff.iterations, iaff.scale) == (2, 1.0)
    assert attention_pairs(iaff.branches) == [("local_att", "global_att"), ("local_att2", "global_att2")]
    assert (add.blend, add.attended, fusion_parameters("add", 64, 4)) == ("add", False, [])


def test_default_r_per_block_kind_matches_the_network_defaults():
    kinds = {"AFFResNet": "bottleneck", "AFFResNeXt": "resnext", "CIFARAFFResNet": "preact",
             "CIFARAFFResNeXt": "resnext"}
    for family, kind in kinds.items():
        for form in ("aff", "iaff"):
            assert default_r(form, kind) == CONSTRUCTOR_DEFAULTS[family]["fusion_r"], (family, form)
    assert default_r("aff") == 4 and default_r("add", "bottleneck") is None


@pytest.mark.parametrize("stem,form,prefix,channels,r", [
    ("AFF-ResNet-50", "aff", "layer3.0.attention.", 1024, 16),
    ("iAFF-ResNet-50", "iaff", "layer4.2.attention.", 2048, 16),
    ("iAFF-ResNeXt-50-32x4d", "iaff", "features.12.0.attention.", 1024, 16),
    ("CIFAR-AFF-ResNet-32", "aff", "features.2.0.attention.", 64, 4)])
def test_parameter_layout_is_the_released_one(stem, form, prefix, channels, r):
    released = [(name[len(prefix):], tuple(shape)) for name, shape in _released(stem)["params"]
                if name.startswith(prefix)]
    assert fusion_parameters(form, channels, r) == released


def test_input_checks_name_the_module_and_the_shapes():
    check_inputs("AFF", 8, [(1, 8, 4, 4), (1, 8, 4, 4)])
    check_inputs("DirectAdd", None, [(3, 5), (3, 5)])
    with pytest.raises(ValueError, match=r"AFF: the two inputs must have the same shape, got \(1, 8, 4, 4\) and "
                                         r"\(1, 8, 4, 5\)"):
        check_inputs("AFF", 8, [(1, 8, 4, 4), (1, 8, 4, 5)])
    with pytest.raises(ValueError, match=r"IAFF was built for 8 channels \(NCHW input\), got an input of shape "
                                         r"\(1, 16, 4, 4\)"):
        check_inputs("IAFF", 8, [(1, 16, 4, 4), (1, 16, 4, 4)])
    with pytest.raises(ValueError, match=r"channels // r >= 1"):
        attention_channels(4, 8)
    assert attention_channels(64, 16) == 4
