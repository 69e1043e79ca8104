"""The stage plan of the four AFF network families, which both engines instantiate layer for layer.

A plan function checks a family's constructor arguments and returns a :class:`NetworkPlan`: the stem, then per
stage the list of :class:`BlockPlan` (widths, strides, shortcut, zero-initialised gamma, groups, the fusion and
its r). The MXNet and PyTorch network classes only turn plans into layers, so the arithmetic (widths, strides,
downsampling, fusion per stage, ResNeXt group width, the release's inverted ``last_gamma``) exists once.
Framework-free (stdlib only).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .fusion import FusionChoice, canonical_fusion, default_r

__all__ = ["RESNET_BLOCKS", "StemPlan", "BlockPlan", "NetworkPlan", "check_layers", "cifar_widths", "stage_fusions",
           "group_width", "zero_last_gamma", "resnet_plan", "resnext_plan", "cifar_resnet_plan", "cifar_resnext_plan",
           "PLANS", "network_plan"]

EXPANSION = 4  # bottleneck and ResNeXt blocks output 4x their stage width
# The ImageNet ResNet blocks: kind -> expansion (outputs per stage width). Basic blocks make ResNet-18/34.
RESNET_BLOCKS: Dict[str, int] = {"bottleneck": EXPANSION, "basic": 1}


@dataclass(frozen=True)
class StemPlan:
    """The first convolution(s): a deep stem (three 3x3 convs, the first strided, inner ``width``) or one conv."""

    in_channels: int
    out_channels: int
    deep: bool
    width: int   # the deep stem's inner width
    kernel: int  # the single conv's kernel (7 on ImageNet, 3 on CIFAR); padding kernel // 2
    stride: int
    pool: bool   # a 3x3 stride-2 max pool after the stem's BN and ReLU (ImageNet)


@dataclass(frozen=True)
class BlockPlan:
    """One residual block.

    ``kind`` is ``'bottleneck'`` (ResNet-V1b), ``'basic'`` (ResNet-V1b basic block: two 3x3 convs),
    ``'resnext'`` (grouped bottleneck) or ``'preact'`` (CIFAR pre-activation basic block). ``width`` is the inner
    width (planes, the ResNeXt group width, or a basic block's channels), ``groups`` the 3x3 conv's groups. The
    shortcut is the identity unless ``downsample``: then ``[avgpool(stride)] conv1x1 [BN]`` (``avg_down``,
    ``shortcut_norm``). ``fusion`` is a canonical form name or a factory ``(channels, r) -> block``, applied to
    ``out_channels`` with reduction ``fusion_r``.
    """

    kind: str
    in_channels: int
    width: int
    out_channels: int
    stride: int
    downsample: bool
    avg_down: bool
    shortcut_norm: bool
    zero_gamma: bool
    groups: int
    fusion: Union[str, Callable[[int, int], Any]]
    fusion_r: int

    @property
    def shortcut(self) -> Tuple[int, int, int, bool, bool]:
        """Arguments of the engines' ``projection_shortcut``: in and out channels, stride, avg_down, norm."""
        return self.in_channels, self.out_channels, self.stride, self.avg_down, self.shortcut_norm


@dataclass(frozen=True)
class NetworkPlan:
    """A whole network: its family, stem, stages of blocks, and classifier (``features`` inputs)."""

    family: str
    stem: StemPlan
    stages: Tuple[Tuple[BlockPlan, ...], ...]
    features: int
    classes: int
    final_drop: float = 0.0


def check_layers(layers: Sequence[int], stages: int, cls: str, start_layer: int) -> List[int]:
    """The block counts as ints; a wrong count, or a ``start_layer`` past the last stage (a network without
    any fusion that would still carry the fusion's name), is a ValueError."""
    layers = [int(n) for n in layers]
    if len(layers) != stages or min(layers) < 1:
        raise ValueError(f"{cls}: layers must be {stages} positive block counts, got {layers}")
    if not 1 <= start_layer <= len(layers):
        raise ValueError(f"{cls}: start_layer must be a stage from 1 to {len(layers)}, got {start_layer}")
    return layers


def cifar_widths(channels: Union[int, Sequence[int]], stages: int) -> List[int]:
    """[stem, stage1, ..., stageN]; an int c means [c, c, 2c, 4c, ...]."""
    if isinstance(channels, int):
        return [channels] + [channels * 2 ** i for i in range(stages)]
    widths = [int(c) for c in channels]
    if len(widths) != stages + 1:
        raise ValueError(f"channels must list the stem width and {stages} stage widths, got {widths}")
    return widths


def _one_fusion(choice: Any, cls: str) -> Union[str, Callable[[int, int], Any]]:
    if callable(choice):
        return choice
    if isinstance(choice, str):
        return canonical_fusion(choice)
    raise ValueError(f"{cls}: a fusion is a name (e.g. 'aff') or a factory (channels, r) -> block, got {choice!r}")


def stage_fusions(fusion: FusionChoice, stages: int, start_layer: int,
                  cls: str = "network") -> List[Union[str, Callable[[int, int], Any]]]:
    """The fusion of each stage: ``fusion`` from stage ``start_layer`` on (1-based), plain addition before.

    ``fusion`` may also be a list with one entry per stage; its stages below ``start_layer`` must then be
    ``'add'`` (pass ``start_layer=1`` to choose every stage), so that neither argument silently overrides the other.
    """
    if isinstance(fusion, str) or callable(fusion):
        chosen = _one_fusion(fusion, cls)
        return [chosen if index >= start_layer else "add" for index in range(1, stages + 1)]
    if not isinstance(fusion, (list, tuple)) or len(fusion) != stages:
        raise ValueError(f"{cls}: fusion must be a name, a factory, or a list of {stages} (one per stage), "
                         f"got {fusion!r}")
    chosen_list = [_one_fusion(choice, cls) for choice in fusion]
    early = [i for i, choice in enumerate(chosen_list, start=1) if i < start_layer and choice != "add"]
    if early:
        raise ValueError(f"{cls}: fusion lists {fusion[early[0] - 1]!r} for stage {early[0]}, below "
                         f"start_layer={start_layer} (whose stages add plainly); pass start_layer=1 to choose "
                         f"every stage's fusion in the list")
    return chosen_list


def _fusion_r(fusion: Union[str, Callable[[int, int], Any]], kind: str, fusion_r: Optional[int]) -> int:
    """The given ``fusion_r`` or, if None, the catalogue's default for the block kind (4 for a factory)."""
    if fusion_r is not None:
        return int(fusion_r)
    if isinstance(fusion, str):
        return default_r(fusion, kind) or default_r("aff", kind) or 1
    return default_r("aff", kind) or 1


def group_width(channels: int, cardinality: int, bottleneck_width: int) -> int:
    """Width of a ResNeXt block's grouped convs: ``cardinality * floor(channels * bottleneck_width / 64)``."""
    return cardinality * int(math.floor(channels * (bottleneck_width / 64)))


def zero_last_gamma(last_gamma: bool, original_last_gamma: bool) -> bool:
    """Whether a ResNeXt block zero-initialises its last BN gamma.

    The original ResNeXt block zero-initialises it when ``last_gamma`` is False (inverted with respect to
    GluonCV and to its own ResNet block); ``original_last_gamma=False`` gives the GluonCV meaning.
    """
    return (not last_gamma) if original_last_gamma else last_gamma


def _stem(in_channels: int, out_channels: int, deep: bool, width: int, imagenet: bool) -> StemPlan:
    return StemPlan(in_channels, out_channels, deep, width, kernel=7 if imagenet else 3, stride=2 if imagenet else 1,
                    pool=imagenet)


def resnet_plan(fusion: FusionChoice, layers: Sequence[int], start_layer: int = 3, classes: int = 1000,
                last_gamma: bool = False, deep_stem: bool = True, stem_width: int = 32, avg_down: bool = True,
                final_drop: float = 0.0, fusion_r: Optional[int] = None, in_channels: int = 3,
                block: str = "bottleneck") -> NetworkPlan:
    """ImageNet AFF-ResNet, ResNet-50-D style (deep stem, average-pool projection shortcut).

    Parameters
    ----------
    fusion : str, factory or list
        Fusion of residual and shortcut in stages >= ``start_layer``: ``'aff'``, ``'iaff'``, ``'add'`` (any
        alias), a factory ``(channels, r) -> block``, or one of those per stage.
    layers : sequence of 4 int
        Blocks per stage ([3, 4, 6, 3] for 50 layers; with basic blocks [2, 2, 2, 2] for 18, [3, 4, 6, 3] for 34).
    start_layer : int
        First stage (1-4) that uses ``fusion``; earlier stages add plainly. The release used 3.
    classes : int
        Outputs of the classifier.
    last_gamma : bool
        Zero-initialise the last BN gamma of every block.
    deep_stem, stem_width, avg_down : ResNet-D options (the release: True, 32, True).
    final_drop : float
        Dropout before the classifier.
    fusion_r : int
        Channel reduction of the attention branches; None: the catalogue's default of the block kind (the
        release's bottleneck: 16; basic: 4, which keeps the attention width of AFF-ResNet-50's stages).
    in_channels : int
        Input channels.
    block : str
        ``'bottleneck'`` (ResNet-50 and deeper, outputs 4x the stage width) or ``'basic'`` (ResNet-18/34: two
        3x3 convs, outputs the stage width); stem, shortcuts and fusion placement are the same.
    """
    cls = "AFFResNet"
    if block not in RESNET_BLOCKS:
        raise ValueError(f"{cls}: block must be one of {', '.join(map(repr, RESNET_BLOCKS))}, got {block!r}")
    layers = check_layers(layers, 4, cls, start_layer)
    fusions = stage_fusions(fusion, 4, start_layer, cls)
    inplanes = stem_width * 2 if deep_stem else 64
    stem = _stem(in_channels, inplanes, deep_stem, stem_width, imagenet=True)
    stages = []
    for index, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers), start=1):
        stage = []
        for b in range(blocks):
            stride = 2 if (index > 1 and b == 0) else 1
            out = planes * RESNET_BLOCKS[block]
            stage.append(BlockPlan(block, inplanes, planes, out, stride,
                                   downsample=b == 0 and (stride != 1 or inplanes != out), avg_down=avg_down,
                                   shortcut_norm=True, zero_gamma=last_gamma, groups=1, fusion=fusions[index - 1],
                                   fusion_r=_fusion_r(fusions[index - 1], block, fusion_r)))
            inplanes = out
        stages.append(tuple(stage))
    return NetworkPlan(cls, stem, tuple(stages), inplanes, classes, final_drop)


def _resnext_stages(fusions: Sequence[Any], inplanes: int, widths: Sequence[int], layers: Sequence[int],
                    cardinality: int, bottleneck_width: int, avg_down: Callable[[int], bool], zero_gamma: bool,
                    fusion_r: Optional[int]) -> Tuple[Tuple[Tuple[BlockPlan, ...], ...], int]:
    """ResNeXt stages: stride 2 from stage 2 on, a projection shortcut in every stage's first block."""
    stages = []
    for index, (channels, blocks) in enumerate(zip(widths, layers), start=1):
        inner, out = group_width(channels, cardinality, bottleneck_width), channels * EXPANSION
        fusion = fusions[index - 1]
        stage = []
        for b in range(blocks):
            stage.append(BlockPlan("resnext", inplanes if b == 0 else out, inner, out,
                                   stride=(1 if index == 1 else 2) if b == 0 else 1, downsample=b == 0,
                                   avg_down=avg_down(index), shortcut_norm=True, zero_gamma=zero_gamma,
                                   groups=cardinality, fusion=fusion, fusion_r=_fusion_r(fusion, "resnext", fusion_r)))
        stages.append(tuple(stage))
        inplanes = out
    return tuple(stages), inplanes


def resnext_plan(fusion: FusionChoice, layers: Sequence[int], cardinality: int = 32, bottleneck_width: int = 4,
                 start_layer: int = 3, classes: int = 1000, last_gamma: bool = False, deep_stem: bool = True,
                 stem_width: int = 64, avg_down: bool = True, fusion_r: Optional[int] = None,
                 original_last_gamma: bool = True, in_channels: int = 3) -> NetworkPlan:
    """ImageNet AFF-ResNeXt (deep stem 64-64-128, average-pool projection shortcut in stages 2-4).

    ``last_gamma`` keeps the release's inverted meaning unless ``original_last_gamma=False`` (see
    :func:`zero_last_gamma`); only the initialisation differs, parameter names are the same either way. Other
    arguments as :func:`resnet_plan`; ``cardinality`` groups of ``bottleneck_width`` channels per 64.
    """
    cls = "AFFResNeXt"
    layers = check_layers(layers, 4, cls, start_layer)
    fusions = stage_fusions(fusion, 4, start_layer, cls)
    width = stem_width * 2 if deep_stem else 64
    stem = _stem(in_channels, width, deep_stem, stem_width, imagenet=True)
    stages, features = _resnext_stages(fusions, width, [64 * 2 ** i for i in range(4)], layers, cardinality,
                                       bottleneck_width, lambda index: avg_down and index > 1,
                                       zero_last_gamma(last_gamma, original_last_gamma), fusion_r)
    return NetworkPlan(cls, stem, stages, features, classes)


def cifar_resnet_plan(fusion: FusionChoice, layers: Sequence[int], channels: Union[int, Sequence[int]],
                      start_layer: int = 1, classes: int = 10, deep_stem: bool = False,
                      fusion_r: Optional[int] = None, in_channels: int = 3) -> NetworkPlan:
    """CIFAR pre-activation AFF-ResNet (input BN without scale and centre, avg-pool + 1x1 conv shortcut).

    ``channels`` = [stem, stage1, stage2, stage3] (the release's ResNet-32: blocks 5, [64, 64, 128, 256]); an
    int c means [c, c, 2c, 4c]. Any number of stages (``layers``); other arguments as :func:`resnet_plan`.
    """
    cls = "CIFARAFFResNet"
    layers = check_layers(layers, len(layers) or 1, cls, start_layer)
    widths = cifar_widths(channels, len(layers))
    fusions = stage_fusions(fusion, len(layers), start_layer, cls)
    stem = _stem(in_channels, widths[0], deep_stem, widths[0] // 2, imagenet=False)
    inplanes, stages = widths[0], []
    for index, (width, blocks) in enumerate(zip(widths[1:], layers), start=1):
        stage = []
        for b in range(blocks):
            stride = 2 if (index > 1 and b == 0) else 1
            stage.append(BlockPlan("preact", inplanes, width, width, stride,
                                   downsample=width != inplanes or stride != 1, avg_down=True, shortcut_norm=False,
                                   zero_gamma=False, groups=1, fusion=fusions[index - 1],
                                   fusion_r=_fusion_r(fusions[index - 1], "preact", fusion_r)))
            inplanes = width
        stages.append(tuple(stage))
    return NetworkPlan(cls, stem, tuple(stages), inplanes, classes)


def cifar_resnext_plan(fusion: FusionChoice, layers: Sequence[int], channels: Union[int, Sequence[int]] = 64,
                       cardinality: int = 32, bottleneck_width: int = 4, start_layer: int = 1, classes: int = 10,
                       deep_stem: bool = False, fusion_r: Optional[int] = None, last_gamma: bool = False,
                       original_last_gamma: bool = True, in_channels: int = 3) -> NetworkPlan:
    """CIFAR AFF-ResNeXt: 3x3 stem, bottleneck ResNeXt stages with average-pool projection shortcuts.

    ``channels`` is the stem width (int: stage widths c, 2c, 4c) or [stem, stage1, stage2, stage3]; stage
    outputs are 4x the stage width. ``last_gamma`` as in :func:`resnext_plan`.
    """
    cls = "CIFARAFFResNeXt"
    layers = check_layers(layers, len(layers) or 1, cls, start_layer)
    widths = cifar_widths(channels, len(layers))
    fusions = stage_fusions(fusion, len(layers), start_layer, cls)
    stem = _stem(in_channels, widths[0], deep_stem, widths[0] // 2, imagenet=False)
    stages, features = _resnext_stages(fusions, widths[0], widths[1:], layers, cardinality, bottleneck_width,
                                       lambda index: True, zero_last_gamma(last_gamma, original_last_gamma),
                                       fusion_r)
    return NetworkPlan(cls, stem, stages, features, classes)


# Family (class) name -> plan function. A new family is one plan function here and one class per engine.
PLANS: Dict[str, Callable[..., NetworkPlan]] = {
    "AFFResNet": resnet_plan, "AFFResNeXt": resnext_plan,
    "CIFARAFFResNet": cifar_resnet_plan, "CIFARAFFResNeXt": cifar_resnext_plan,
}
_NOT_ARGUMENTS = ("self", "kwargs", "__class__")


def network_plan(family: str, arguments: Mapping[str, Any]) -> NetworkPlan:
    """The plan of ``family`` for a network constructor's ``locals()`` (``self``, ``kwargs`` left out), so an
    engine class forwards its arguments without typing them twice."""
    return PLANS[family](**{k: v for k, v in arguments.items() if k not in _NOT_ARGUMENTS})
