"""The paper's ablation forms in the catalogue (afflib.core.fusion) and the "paper" parameter preset
(afflib.core.ablation): names, rows, layouts, and equal convolution-weight budgets."""
from __future__ import annotations

from pathlib import Path

import pytest

import afflib.core.fusion as catalogue
from afflib.core.ablation import (ABLATION_FORMS, NEW_FORMS, PRESETS, TABLE3_FORMS, TABLE4_FORMS, TABLE6_FORMS,
                                  TABLES, conv_weights, form_class, paper_budget, paper_r, preset_r)
from afflib.core.fusion import FORMS, RELEASE_NAMES, canonical_fusion, fusion_form, fusion_parameters

BLENDS = ("soft", "select", "gate-shortcut", "gate-residual", "linear", "add")
AGGREGATES = ("sum", "half", "concat", "recursive")


@pytest.mark.parametrize("alias,expected", [
    ("add", "add"), ("concat", "concat"), ("CONCAT", "concat"), ("MS-GAU", "ms-gau"), ("ms-gau", "ms-gau"),
    ("MS-SENet", "ms-se"), ("MS-SE", "ms-se"), ("MS-SA", "ms-sa"), ("SKNet", "sk"), ("sk", "sk"),
    ("AFF", "aff"), ("iAFF", "iaff"), ("Global+Global", "aff-global-global"),
    ("AFF-Global-Global", "aff-global-global"),
    ("Local+Local", "aff-local-local"), ("aff-local-local", "aff-local-local"), ("Half-AFF", "half-aff"),
    ("Concat-AFF", "concat-aff"), ("Recursive-AFF", "recursive-aff"),
    # release-era class names of the same forms
    ("GAUFuse", "ms-gau"), ("SEFuse", "ms-se"), ("AXYforXplusYAddFuse", "ms-sa"), ("SKFuse", "sk"),
    ("ResGlobGlobChaFuse", "aff-global-global"), ("RASKCFuse", "recursive-aff")])
def test_paper_spellings_and_release_era_names_are_accepted(alias, expected):
    assert canonical_fusion(alias) == expected
    assert fusion_form(f"  {alias.swapcase()} ").name == expected


def test_every_table_form_is_a_row_and_every_alias_is_unique():
    assert set(ABLATION_FORMS) <= set(FORMS)
    assert {"add", "concat", "ms-gau", "ms-se", "ms-sa", "sk", "aff", "iaff", "aff-global-global",
            "aff-local-local", "half-aff", "concat-aff", "recursive-aff"} == set(ABLATION_FORMS)
    seen = {}
    for form in FORMS.values():
        for alias in form.names():
            assert seen.setdefault(alias, form.name) == form.name, alias
    # the ablation forms' release-era names are aliases, not release names with weights
    assert RELEASE_NAMES == {"aff": "ASKCFuse", "iaff": "ResGlobLocaforGlobLocaCha", "add": "DirectAdd"}


@pytest.mark.parametrize("name", sorted(FORMS))
def test_every_row_states_its_formula_source_and_a_known_computation(name):
    form = FORMS[name]
    assert form.formula and form.source.startswith("Table")
    assert form.blend in BLENDS and form.aggregate in AGGREGATES
    assert form.attention_input in ("x+y", "x", "none")
    assert form.attended == (form.attention_input != "none") == (form.blend not in ("add", "linear"))
    if form.name not in ("add", "aff"):
        assert form.notes, "say where the release-era code differs"
    if form.aggregate == "recursive":
        assert [b.name for b in form.branches] == ["local_att", "global_att", "local_att2", "global_att2"]
    if form.aggregate == "concat":
        assert [c.name for c in form.extra] == ["post"] and len(form.branches) == 2


def test_the_notation_mapping_is_stated():
    doc = " ".join(catalogue.__doc__.split())
    assert "afflib's x is the paper's Y and afflib's y the paper's X" in doc
    assert FORMS["ms-gau"].formula == "G(Y) X + Y" and FORMS["ms-gau"].attention_input == "x"
    assert FORMS["ms-gau"].blend == "gate-shortcut"  # x + M * y: afflib's y (shortcut) is the paper's X
    assert FORMS["ms-se"].formula == "X + G(Y) Y" and FORMS["ms-se"].blend == "gate-residual"
    assert FORMS["ms-sa"].formula == "G(X + Y) X + Y" and FORMS["ms-sa"].attention_input == "x+y"
    assert FORMS["sk"].blend == "select" and FORMS["sk"].context == "global"


def test_contexts_of_the_table3_rows():
    pooled = {name: [b.pooled for b in FORMS[name].branches] for name in TABLE3_FORMS}
    assert pooled == {"aff-global-global": [True, True], "aff-local-local": [False, False], "aff": [False, True]}
    assert [b.pooled for b in FORMS["sk"].branches] == [True]


def test_layout_includes_the_pointwise_convolutions():
    assert fusion_parameters("concat", 8, 4) == [("fuse.weight", (8, 16, 1, 1))]
    layout = dict(fusion_parameters("concat-aff", 8, 2))
    assert layout["post.weight"] == (8, 16, 1, 1) and layout["post.bias"] == (8,)
    assert list(layout)[:2] == ["local_att.0.weight", "local_att.0.bias"]
    assert dict(fusion_parameters("sk", 8, 2))["global_att.1.weight"] == (4, 8, 1, 1)


def test_paper_preset_is_the_tables_r():
    assert {name: paper_r(name) for name in ("ms-gau", "ms-se", "ms-sa", "aff", "iaff")} == {
        "ms-gau": 2, "ms-se": 2, "ms-sa": 2, "aff": 2, "iaff": 4}
    assert paper_r("add") is None and paper_r("concat") is None
    assert preset_r("MS-SENet") == 2 and preset_r("iAFF", "release") == 4
    with pytest.raises(ValueError, match="unknown parameter preset 'best'; valid: paper, release"):
        preset_r("aff", "best")
    assert set(PRESETS["paper"]) == set(FORMS)


@pytest.mark.parametrize("channels", [16, 64, 256])
def test_paper_preset_gives_table4_and_table3_forms_one_budget(channels):
    budget = paper_budget(channels)
    assert budget == 2 * channels * channels
    for name in TABLE4_FORMS + TABLE3_FORMS + ("sk", "half-aff", "recursive-aff"):
        expected = 0 if name == "add" else budget
        assert conv_weights(name, channels, preset_r(name)) == expected, name
    # concat-aff's extra 2C -> C convolution alone is the budget: it cannot meet it and takes AFF's r
    assert preset_r("concat-aff") == 2 and conv_weights("concat-aff", channels, 2) == 2 * budget


def test_tables_list_catalogue_forms():
    assert TABLES["Table 4"] == TABLE4_FORMS and TABLES["Table 6"] == TABLE6_FORMS
    for forms in TABLES.values():
        assert all(canonical_fusion(name) == name for name in forms)


def test_docs_state_the_notation_and_every_form():
    text = (Path(__file__).resolve().parents[1] / "docs" / "ablation.md").read_text(encoding="utf-8")
    assert "afflib's `x` is the paper's Y and afflib's `y` is the paper's X" in text
    for name in ABLATION_FORMS:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
        cells = [cell.strip() for cell in row.split("|")[1:-1]]
        assert cells[3] == str(paper_r(name) or "-"), name
        budget = conv_weights(name, 8, paper_r(name)) // 64
        assert cells[4] == (f"{budget} C²" if budget else "0"), name


def test_engine_classes_are_made_from_the_rows():
    class Base:
        FORM = ""

    made = [form_class(name, Base, "engine") for name in NEW_FORMS]
    assert [cls.__name__ for cls in made] == [FORMS[name].class_name for name in NEW_FORMS]
    assert [cls.FORM for cls in made] == list(NEW_FORMS) and issubclass(made[0], Base)
    assert form_class("MS-GAU", Base, "engine").__doc__.startswith("``G(Y) X + Y`` (the paper's Table 4 (MS-GAU)")
    assert set(NEW_FORMS) == {name for name in ABLATION_FORMS if name not in ("aff", "iaff", "add")}
