"""The paper's ablation study as data: which fusion forms each table compares and the "paper" parameter preset.

Table 4 of the paper gives MS-GAU, MS-SENet, MS-SA and AFF the reduction r = 2 and iAFF r = 4 "so that all have
the same number of convolution weights"; the preset here is *computed* from the catalogue's parameter layouts
(:func:`afflib.core.fusion.fusion_parameters`): for each form, the r whose convolution weights equal AFF's at
r = 2 (2 C^2: four C x C/2 kernels). ``concat`` has that budget without a choice (one 2C -> C kernel), ``add``
has no weights. Forms that cannot meet the budget (``concat-aff``'s extra 2C -> C convolution) take AFF's r.
Framework-free (stdlib only). Notation as :mod:`afflib.core.fusion`: afflib's ``x`` is the paper's Y.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Dict, Optional, Sequence, Tuple, Union

from .fusion import FORMS, FusionChoice, canonical_fusion, fusion_form, fusion_parameters
from .plan import NetworkPlan, cifar_resnet_plan

__all__ = ["TABLES", "TABLE4_FORMS", "TABLE3_FORMS", "TABLE6_FORMS", "ABLATION_FORMS", "PAPER_R_CANDIDATES",
           "conv_weights", "paper_budget", "paper_r", "preset_r", "PRESETS", "inception_resnet_plan", "NEW_FORMS",
           "form_class"]

TABLE4_FORMS: Tuple[str, ...] = ("add", "concat", "ms-gau", "ms-se", "ms-sa", "aff", "iaff")
TABLE3_FORMS: Tuple[str, ...] = ("aff-global-global", "aff-local-local", "aff")
TABLE6_FORMS: Tuple[str, ...] = ("half-aff", "concat-aff", "recursive-aff", "aff")
# Table 1 compares context kinds; sk (global context, softmax over two paths) is its SKNet row.
TABLES: Dict[str, Tuple[str, ...]] = {"Table 1": ("sk", "aff"), "Table 3": TABLE3_FORMS, "Table 4": TABLE4_FORMS,
                                      "Table 6": TABLE6_FORMS}
ABLATION_FORMS: Tuple[str, ...] = tuple(dict.fromkeys(
    name for forms in (TABLE4_FORMS, ("sk",), TABLE3_FORMS, TABLE6_FORMS) for name in forms))
# The forms beyond the release's three, each built by an engine's generic catalogue block (:func:`form_class`).
NEW_FORMS: Tuple[str, ...] = tuple(name for name in ABLATION_FORMS if not FORMS[name].release)
PAPER_R_CANDIDATES: Tuple[int, ...] = (1, 2, 4, 8, 16)
_PAPER_AFF_R = 2
_PROBE_CHANNELS = 64  # any width divisible by every candidate r: budgets scale as C^2


def conv_weights(name: str, channels: int, r: Optional[int]) -> int:
    """How many convolution kernel weights form ``name`` holds (biases and BatchNorm left out)."""
    shapes = fusion_parameters(name, channels, r or 1)
    return sum(math.prod(shape) for key, shape in shapes if key.endswith(".weight") and len(shape) == 4)


def paper_budget(channels: int) -> int:
    """The convolution weights every Table 4 form gets in the paper: AFF's at r = 2."""
    return conv_weights("aff", channels, _PAPER_AFF_R)


def paper_r(name: str) -> Optional[int]:
    """The "paper" preset's r for form ``name``: the candidate r that meets :func:`paper_budget` (None without
    attention branches; AFF's r = 2 when no r does)."""
    form = fusion_form(name)
    if not form.attended:
        return None
    for r in PAPER_R_CANDIDATES:
        if conv_weights(form.name, _PROBE_CHANNELS, r) == paper_budget(_PROBE_CHANNELS):
            return r
    return _PAPER_AFF_R


def form_class(form: str, base: type, module: str) -> type:
    """A subclass of an engine's generic catalogue block ``base`` for row ``form``: ``FORM`` set, named by the
    row's class_name (as ``get_fusion`` finds it), documented by the paper's formula, placed in ``module``."""
    row = FORMS[canonical_fusion(form)]
    doc = f"``{row.formula}`` (the paper's {row.source}; X the shortcut ``y``, Y the residual branch ``x``)."
    return type(row.class_name, (base,), {"FORM": row.name, "__doc__": doc, "__module__": module,
                                          "__qualname__": row.class_name})


# Named presets of r per form: "paper" (the equal budget above) and "release" (the CIFAR networks' r = 4).
PRESETS: Dict[str, Dict[str, Optional[int]]] = {
    "paper": {name: paper_r(name) for name in FORMS},
    "release": {name: (4 if FORMS[name].attended else None) for name in FORMS},
}


def preset_r(name: str, preset: str = "paper") -> Optional[int]:
    """r of form ``name`` (any alias) under ``preset`` (``'paper'`` or ``'release'``); a ValueError lists both."""
    if preset not in PRESETS:
        raise ValueError(f"unknown parameter preset {preset!r}; valid: {', '.join(sorted(PRESETS))}")
    return PRESETS[preset][canonical_fusion(name)]


def inception_resnet_plan(fusion: FusionChoice, layers: Sequence[int], channels: Union[int, Sequence[int]],
                          start_layer: int = 1, classes: int = 10, deep_stem: bool = False,
                          fusion_r: Optional[int] = None, in_channels: int = 3) -> NetworkPlan:
    """The paper's same-layer host, Inception-ResNet-20-b: the CIFAR pre-activation ResNet
    (:func:`afflib.core.plan.cifar_resnet_plan`, ``layers=[b] * 3``) whose every 3x3 convolution becomes two
    parallel branches, a 3x3 and a 3x3 with dilation 2 (a 5x5 receptive field), each followed by BatchNorm and
    joined by ``fusion`` (X = the dilation-1 branch = afflib's ``y``). The residual addition stays plain: blocks
    of kind ``'inception'`` carry the form that joins the branches, not the one that joins the shortcut."""
    base = cifar_resnet_plan(fusion, layers, channels, start_layer=start_layer, classes=classes,
                             deep_stem=deep_stem, fusion_r=fusion_r, in_channels=in_channels)
    stages = tuple(tuple(replace(block, kind="inception") for block in stage) for stage in base.stages)
    return replace(base, family="CIFARInceptionResNet", stages=stages)
