"""The four AFF network families of the paper: ImageNet ResNet-D / ResNeXt and CIFAR ResNet / ResNeXt.

Each class turns the plan of :mod:`afflib.core.plan` (widths, strides, shortcuts, fusion per stage) into Gluon
layers; the arguments and their checks are the plan functions'. Stages numbered below ``start_layer`` (1-based)
fuse by plain addition; the others use ``fusion``: a form name (``'aff'``, ``'iaff'``, ``'add'`` or a release
name), a factory ``(channels, r) -> block``, or one per stage. With ``fusion='add'`` each class is the plain
baseline of identical topology.
"""
from __future__ import annotations

from typing import Sequence, Union

from mxnet.gluon import HybridBlock, nn

from afflib.core.fusion import FusionChoice
from afflib.core.plan import BlockPlan, NetworkPlan, StemPlan, network_plan
from ..nn import GlobalMean
from .blocks import BLOCKS, relu

__all__ = ["AFFResNet", "AFFResNeXt", "CIFARAFFResNet", "CIFARAFFResNeXt"]


def _stem(seq: nn.HybridSequential, stem: StemPlan) -> None:
    """Deep stem: conv3x3(stride) BN ReLU conv3x3 BN ReLU conv3x3 (no trailing BN); else one conv."""
    if not stem.deep:
        seq.add(_plain_stem(stem))
        return
    seq.add(nn.Conv2D(stem.width, 3, stem.stride, 1, use_bias=False, in_channels=stem.in_channels))
    seq.add(nn.BatchNorm(in_channels=stem.width))
    seq.add(nn.Activation("relu"))
    seq.add(nn.Conv2D(stem.width, 3, 1, 1, use_bias=False, in_channels=stem.width))
    seq.add(nn.BatchNorm(in_channels=stem.width))
    seq.add(nn.Activation("relu"))
    seq.add(nn.Conv2D(stem.out_channels, 3, 1, 1, use_bias=False, in_channels=stem.width))


def _plain_stem(stem: StemPlan) -> nn.Conv2D:
    return nn.Conv2D(stem.out_channels, stem.kernel, stem.stride, stem.kernel // 2, use_bias=False,
                     in_channels=stem.in_channels)


def _stage(blocks: Sequence[BlockPlan]) -> nn.HybridSequential:
    stage = nn.HybridSequential(prefix="")
    with stage.name_scope():
        for block in blocks:
            stage.add(BLOCKS[block.kind](block))
    return stage


def _resnet_trunk(block: HybridBlock, plan: NetworkPlan) -> None:
    """Set ``conv1`` (deep or plain stem), ``bn1``, ``maxpool`` and ``layer1``..``layerN`` of the ImageNet ResNet
    on ``block`` (inside its name scope): AFFResNet's and the FPN backbone's (afflib.model_zoo.fpn) layers."""
    if plan.stem.deep:
        block.conv1 = nn.HybridSequential(prefix="")
        with block.conv1.name_scope():
            _stem(block.conv1, plan.stem)
    else:
        block.conv1 = _plain_stem(plan.stem)
    block.bn1 = nn.BatchNorm(in_channels=plan.stem.out_channels)
    block.maxpool = nn.MaxPool2D(pool_size=3, strides=2, padding=1)
    for index, blocks in enumerate(plan.stages, start=1):
        setattr(block, "layer%d" % index, _stage(blocks))


class AFFResNet(HybridBlock):
    """ImageNet AFF-ResNet, ResNet-50-D style (deep stem, average-pool projection shortcut).

    Arguments as :func:`afflib.core.plan.resnet_plan` (``fusion``, ``layers`` [3, 4, 6, 3] for 50 layers,
    ``start_layer`` 3 in the release, ``fusion_r`` 16, ``final_drop`` before the classifier, ``block='basic'``
    for ResNet-18/34, whose registry entries pass ``fusion_r=4``...).
    """

    def __init__(self, fusion: FusionChoice, layers: Sequence[int], start_layer: int = 3, classes: int = 1000,
                 last_gamma: bool = False, deep_stem: bool = True, stem_width: int = 32, avg_down: bool = True,
                 final_drop: float = 0.0, fusion_r: int = 16, in_channels: int = 3, block: str = "bottleneck",
                 **kwargs):
        plan: NetworkPlan = network_plan("AFFResNet", locals())
        super().__init__(**kwargs)
        with self.name_scope():
            _resnet_trunk(self, plan)
            self.avgpool = GlobalMean()
            self.drop = nn.Dropout(plan.final_drop) if plan.final_drop > 0 else None
            self.fc = nn.Dense(plan.classes, in_units=plan.features)

    def hybrid_forward(self, F, x):
        x = self.maxpool(relu(F, self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = F.flatten(self.avgpool(x))
        if self.drop is not None:
            x = self.drop(x)
        return self.fc(x)


def _resnext_features(plan: NetworkPlan) -> nn.HybridSequential:
    """stem, BN, ReLU, [max pool], the ResNeXt stages, global mean: the ``features`` of both ResNeXt families."""
    features = nn.HybridSequential(prefix="")
    with features.name_scope():
        _stem(features, plan.stem)
        features.add(nn.BatchNorm(in_channels=plan.stem.out_channels))
        features.add(nn.Activation("relu"))
        if plan.stem.pool:
            features.add(nn.MaxPool2D(3, 2, 1))
        for blocks in plan.stages:
            features.add(_stage(blocks))
        features.add(GlobalMean())
    return features


class _ResNeXtNetwork(HybridBlock):
    """What both ResNeXt families build from their plan: ``features`` and the classifier ``output``."""

    def _build(self, plan: NetworkPlan) -> None:
        with self.name_scope():
            self.features = _resnext_features(plan)
            self.output = nn.Dense(plan.classes, in_units=plan.features)

    def hybrid_forward(self, F, x):
        return self.output(self.features(x))


class AFFResNeXt(_ResNeXtNetwork):
    """ImageNet AFF-ResNeXt (deep stem 64-64-128, average-pool projection shortcut in stages 2-4).

    Arguments as :func:`afflib.core.plan.resnext_plan`. ``last_gamma`` keeps the release's inverted meaning
    unless ``original_last_gamma=False``: the release's ResNeXt block zero-initialises the last BN gamma when
    ``last_gamma`` is False. Only the initialisation differs; parameter names are the same either way.
    """

    def __init__(self, fusion: FusionChoice, layers: Sequence[int], cardinality: int = 32, bottleneck_width: int = 4,
                 start_layer: int = 3, classes: int = 1000, last_gamma: bool = False, deep_stem: bool = True,
                 stem_width: int = 64, avg_down: bool = True, fusion_r: int = 16, original_last_gamma: bool = True,
                 in_channels: int = 3, **kwargs):
        plan: NetworkPlan = network_plan("AFFResNeXt", locals())
        super().__init__(**kwargs)
        self._build(plan)


class CIFARAFFResNet(HybridBlock):
    """CIFAR pre-activation AFF-ResNet (input BN without scale and centre, avg-pool + 1x1 conv shortcut).

    Arguments as :func:`afflib.core.plan.cifar_resnet_plan`: ``channels`` = [stem, stage1, stage2, stage3]
    (the release's ResNet-32: blocks 5, [64, 64, 128, 256]).
    """

    def __init__(self, fusion: FusionChoice, layers: Sequence[int], channels: Union[int, Sequence[int]],
                 start_layer: int = 1, classes: int = 10, deep_stem: bool = False, fusion_r: int = 4,
                 in_channels: int = 3, **kwargs):
        plan: NetworkPlan = network_plan("CIFARAFFResNet", locals())
        super().__init__(**kwargs)
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            with self.features.name_scope():
                self.features.add(nn.BatchNorm(scale=False, center=False, in_channels=plan.stem.in_channels))
                _stem(self.features, plan.stem)
                for blocks in plan.stages:
                    self.features.add(_stage(blocks))
                self.features.add(nn.BatchNorm(in_channels=plan.features))
                self.features.add(nn.Activation("relu"))
                self.features.add(GlobalMean())
                self.features.add(nn.Flatten())
            self.output = nn.Dense(plan.classes, in_units=plan.features)

    def hybrid_forward(self, F, x):
        return self.output(self.features(x))


class CIFARAFFResNeXt(_ResNeXtNetwork):
    """CIFAR AFF-ResNeXt: 3x3 stem, bottleneck ResNeXt stages with average-pool projection shortcuts.

    Arguments as :func:`afflib.core.plan.cifar_resnext_plan`: ``channels`` is the stem width (int: stage widths
    c, 2c, 4c) or [stem, stage1, stage2, stage3]; stage outputs are 4x the stage width. See :class:`AFFResNeXt`
    for ``last_gamma``.
    """

    def __init__(self, fusion: FusionChoice, layers: Sequence[int], channels: Union[int, Sequence[int]] = 64,
                 cardinality: int = 32, bottleneck_width: int = 4, start_layer: int = 1, classes: int = 10,
                 deep_stem: bool = False, fusion_r: int = 16, last_gamma: bool = False,
                 original_last_gamma: bool = True, in_channels: int = 3, **kwargs):
        plan: NetworkPlan = network_plan("CIFARAFFResNeXt", locals())
        super().__init__(**kwargs)
        self._build(plan)
