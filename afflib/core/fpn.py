"""The paper's long-skip scenario as plans: a ResNet backbone plus an FPN top-down path whose "+" is a fusion form.

Network (the paper's section on the long skip connection, both engines build it from these plans): the backbone's
stage outputs C1..Cn (CIFAR ResNet-20-b: strides 1, 2, 4; ImageNet ResNet-50: 4, 8, 16, 32, each first through
a 1x1 lateral conv to ``fpn_channels``). Top-down from the deepest, P_n = C_n; for each shallower level i::

    Y   = upsample_bilinear(ReLU(BN(conv1x1(P_{i+1} -> channels of C_i))), size of C_i)   # high-level map
    P_i = ReLU(BN(conv3x3(fuse(Y, C_i))))                                                 # fuse replaces FPN's "+"

then an FCN head on P_1 (conv3x3, BN, ReLU, conv1x1 -> classes with bias), resized to the input's size.

Where AFF's two inputs come from (the "two-input API"): afflib's fusion call is ``fuse(x, y)`` with ``x`` the
paper's Y and ``y`` the paper's X (:mod:`afflib.core.fusion`). Here ``x`` = Y = the upsampled high-level map (the
top-down path) and ``y`` = X = the low-level backbone map C_i (the long skip). Framework-free (stdlib only).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from .ablation import preset_r
from .fusion import canonical_fusion
from .plan import NetworkPlan, cifar_resnet_plan, resnet_plan
from .store import is_params_path, released_file

__all__ = ["FPNLevel", "FPNPlan", "cifar_fpn_plan", "resnet_fpn_plan", "long_skip_r", "FPN_CONSTRUCTOR_DEFAULTS",
           "FPN_FAMILIES", "backbone_release_name", "backbone_checkpoint", "stage_outputs"]

Fusion = Union[str, Callable[[int, int], Any]]
_FACTORY_R = 2  # a factory's r when none is given: AFF's r in the paper's preset


@dataclass(frozen=True)
class FPNLevel:
    """One top-down step: P_{stage+1} (``high_channels``) -> conv1x1 BN ReLU to ``channels`` -> upsample ->
    ``fusion(Y, C_stage)`` at ``channels`` with reduction ``fusion_r`` -> conv3x3 BN ReLU = P_stage."""

    stage: int          # the backbone stage (1-based) whose output is the low-level map X = C_stage
    high_channels: int
    channels: int
    fusion: Fusion      # a canonical form name or a factory (channels, r) -> block
    fusion_r: int


@dataclass(frozen=True)
class FPNPlan:
    """A segmentation network: the backbone's plan, the lateral widths (empty: the stage outputs are used as they
    are), the top-down levels (deepest first), the head's width, the classes and the stride of P_1."""

    family: str
    backbone: NetworkPlan
    stage_channels: Tuple[int, ...]   # C_1..C_n as the top-down path sees them (after the laterals, if any)
    laterals: Tuple[int, ...]         # per stage: the backbone output channels a 1x1 lateral takes (or empty)
    levels: Tuple[FPNLevel, ...]
    head_channels: int
    classes: int
    output_stride: int                # P_1's stride: 1 needs no final resize


def long_skip_r(fusion: Fusion, fusion_r: Optional[int]) -> int:
    """The long skips' reduction: ``fusion_r`` if given, else the paper's preset of the form (equal weight
    budgets, :func:`afflib.core.ablation.preset_r`); 1 for forms without attention, 2 for a factory."""
    if fusion_r is not None:
        if isinstance(fusion_r, bool) or not isinstance(fusion_r, int) or fusion_r < 1:
            raise ValueError(f"fusion_r must be a positive int (or None for the paper preset), got {fusion_r!r}")
        return fusion_r
    if callable(fusion):
        return _FACTORY_R
    return preset_r(fusion) or 1


def _long_skip_fusion(fusion: Any) -> Fusion:
    if callable(fusion):
        return fusion
    if not isinstance(fusion, str):
        raise ValueError(f"fusion must be a form name (e.g. 'aff', 'ms-gau') or a factory (channels, r) -> block, "
                         f"got {fusion!r}")
    try:
        return canonical_fusion(fusion)
    except ValueError as err:
        raise ValueError(f"fusion: {err}") from None


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _top_down(channels: Sequence[int], fusion: Fusion, fusion_r: int) -> Tuple[FPNLevel, ...]:
    """Levels from the deepest stage up: P_n = C_n, each shallower P_i from P_{i+1} and C_i."""
    return tuple(FPNLevel(stage, channels[stage], channels[stage - 1], fusion, fusion_r)
                 for stage in range(len(channels) - 1, 0, -1))


def cifar_fpn_plan(fusion: Fusion = "aff", layers: Sequence[int] = (1, 1, 1),
                   channels: Union[int, Sequence[int]] = (16, 16, 32, 64), classes: int = 11,
                   fusion_r: Optional[int] = None, in_channels: int = 1, backbone_fusion: Fusion = "add",
                   backbone_r: Optional[int] = None, deep_stem: bool = False) -> FPNPlan:
    """The paper's ResNet-20-b + FPN (``layers=[b] * 3``, depth 6b + 2): the CIFAR pre-activation ResNet
    (:func:`afflib.core.plan.cifar_resnet_plan`, ``channels`` = [stem, stage1, stage2, stage3]) whose stage
    outputs C1..C3 (strides 1, 2, 4) feed the top-down path directly; ``fusion`` (any catalogue form or a
    factory, reduction ``fusion_r``, default the paper preset) joins each level's long skip. The backbone's own
    residual additions use ``backbone_fusion`` (plain ``'add'``: the scenario ablates only the long skips).
    Inputs: any H, W divisible by 4; output logits (N, classes, H, W)."""
    fusion = _long_skip_fusion(fusion)
    r = long_skip_r(fusion, fusion_r)
    _positive("classes", classes)
    _positive("in_channels", in_channels)
    if not isinstance(layers, (list, tuple)) or len(layers) != 3:
        raise ValueError(f"layers must be 3 positive block counts (b per stage), got {layers!r}")
    backbone = cifar_resnet_plan(backbone_fusion, layers, channels, start_layer=1, classes=classes,
                                 deep_stem=deep_stem, fusion_r=backbone_r, in_channels=in_channels)
    widths = tuple(stage[-1].out_channels for stage in backbone.stages)
    return FPNPlan("CIFARFPN", backbone, widths, (), _top_down(widths, fusion, r), widths[0], classes, 1)


def resnet_fpn_plan(fusion: Fusion = "aff", layers: Sequence[int] = (3, 4, 6, 3), classes: int = 21,
                    fusion_r: Optional[int] = None, fpn_channels: int = 256, backbone_fusion: Fusion = "aff",
                    backbone_r: Optional[int] = None, start_layer: int = 3, in_channels: int = 3) -> FPNPlan:
    """AFF-ResNet-50 + FPN: the ImageNet AFF-ResNet (:func:`afflib.core.plan.resnet_plan`, the release's
    ResNet-D layout, so that its released checkpoints load into the backbone; ``backbone_fusion`` from stage
    ``start_layer`` on, ``backbone_r`` default 16), a 1x1 lateral conv (BN, ReLU) from each stage output C2..C5
    to ``fpn_channels``, then the top-down path with ``fusion`` (reduction ``fusion_r``, default the paper
    preset) and the head; P_2 has stride 4, the output is resized to the input. Inputs: H, W divisible by 32."""
    fusion = _long_skip_fusion(fusion)
    r = long_skip_r(fusion, fusion_r)
    _positive("classes", classes)
    _positive("fpn_channels", fpn_channels)
    _positive("in_channels", in_channels)
    if not isinstance(layers, (list, tuple)) or len(layers) != 4:
        raise ValueError(f"layers must be 4 positive block counts (the ResNet stages), got {layers!r}")
    backbone = resnet_plan(backbone_fusion, layers, start_layer=start_layer, classes=1000, fusion_r=backbone_r,
                           in_channels=in_channels)
    laterals = tuple(stage[-1].out_channels for stage in backbone.stages)
    widths = (fpn_channels,) * len(laterals)
    return FPNPlan("AFFResNetFPN", backbone, widths, laterals, _top_down(widths, fusion, r), fpn_channels,
                   classes, 4)


def backbone_release_name(backbone_fusion: Any, layers: Sequence[int]) -> str:
    """The classification registry name whose released checkpoint fits the backbone (``aff_resnet50``), for
    ``pretrained_base``; a ValueError for a backbone without released weights."""
    depth = {(3, 4, 6, 3): 50, (3, 4, 23, 3): 101, (3, 8, 36, 3): 152}.get(tuple(layers))
    if depth is None or not isinstance(backbone_fusion, str):
        raise ValueError(f"pretrained_base: no released checkpoint for a backbone with layers={list(layers)} and "
                         f"backbone_fusion={backbone_fusion!r}; pass a .params path instead")
    return f"{canonical_fusion(backbone_fusion)}_resnet{depth}"


def backbone_checkpoint(pretrained_base: Union[bool, str, os.PathLike], backbone_fusion: Any,
                        layers: Sequence[int], root: Optional[Union[str, os.PathLike]] = None) -> Optional[Path]:
    """The classification checkpoint an FPN's ``pretrained_base`` names: None for False, the path itself for a
    ``.params`` path, else (True or a label tag) the released ImageNet file of :func:`backbone_release_name`,
    fetched and hash-checked by :mod:`afflib.core.store` under ``root``."""
    if not pretrained_base:
        return None
    if is_params_path(pretrained_base):
        return Path(pretrained_base).expanduser()
    return released_file(backbone_release_name(backbone_fusion, layers), pretrained_base, 1000, root)[1]


def stage_outputs(layers: Sequence[Callable[[Any], Any]], stages: int, x: Any) -> List[Any]:
    """Apply ``layers`` in order to ``x``; the outputs of the last ``stages`` of them are C1..Cn. How both engines
    read a backbone's stage outputs (the layers are the engine's, the arrays its tensors or symbols)."""
    outputs = []
    for index, layer in enumerate(layers):
        x = layer(x)
        if index >= len(layers) - stages:
            outputs.append(x)
    return outputs


# Family name -> plan function, and the constructor defaults a model spec leaves out (afflib.core.modelspec).
FPN_FAMILIES: Dict[str, Callable[..., FPNPlan]] = {"CIFARFPN": cifar_fpn_plan, "AFFResNetFPN": resnet_fpn_plan}
FPN_CONSTRUCTOR_DEFAULTS: Dict[str, Dict[str, Any]] = {
    "CIFARFPN": {"classes": 11, "fusion_r": None, "in_channels": 1, "backbone_fusion": "add", "backbone_r": None,
                 "deep_stem": False},
    "AFFResNetFPN": {"classes": 21, "fusion_r": None, "fpn_channels": 256, "backbone_r": None, "start_layer": 3,
                     "in_channels": 3},
}
