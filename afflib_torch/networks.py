"""The four AFF network families in PyTorch: the plans of :mod:`afflib.core.plan` as ``nn.Module`` layers.

Arguments, checks and the fusion of each stage are the plan functions'; attribute names and Sequential indices
are those of the MXNet engine (``afflib.model_zoo.networks``), so state_dict keys are the release's structural
names. ``fusion`` is a form name, a factory ``(channels, r) -> module``, or one per stage.
"""
from __future__ import annotations

from typing import List, Sequence, Union

import torch
from torch import Tensor, nn

from afflib.core.fusion import FusionChoice
from afflib.core.plan import NetworkPlan, StemPlan, network_plan

from .blocks import BLOCKS
from .fusion import BatchNorm2d, GlobalMean

__all__ = ["AFFResNet", "AFFResNeXt", "CIFARAFFResNet", "CIFARAFFResNeXt"]


def _stem(stem: StemPlan) -> List[nn.Module]:
    """Deep stem: conv3x3(stride) BN ReLU conv3x3 BN ReLU conv3x3 (no trailing BN); else one conv."""
    if not stem.deep:
        return [nn.Conv2d(stem.in_channels, stem.out_channels, stem.kernel, stem.stride, stem.kernel // 2,
                          bias=False)]
    return [nn.Conv2d(stem.in_channels, stem.width, 3, stem.stride, 1, bias=False), BatchNorm2d(stem.width),
            nn.ReLU(inplace=True), nn.Conv2d(stem.width, stem.width, 3, 1, 1, bias=False), BatchNorm2d(stem.width),
            nn.ReLU(inplace=True), nn.Conv2d(stem.width, stem.out_channels, 3, 1, 1, bias=False)]


def _stages(plan: NetworkPlan) -> List[nn.Sequential]:
    return [nn.Sequential(*[BLOCKS[block.kind](block) for block in blocks]) for blocks in plan.stages]


def _resnext_features(plan: NetworkPlan) -> nn.Sequential:
    """stem, BN, ReLU, [max pool], the ResNeXt stages, global mean: the ``features`` of both ResNeXt families."""
    features = _stem(plan.stem) + [BatchNorm2d(plan.stem.out_channels), nn.ReLU(inplace=True)]
    features += [nn.MaxPool2d(3, 2, 1)] if plan.stem.pool else []
    return nn.Sequential(*features, *_stages(plan), GlobalMean())


def _resnet_trunk(module: nn.Module, plan: NetworkPlan) -> None:
    """Set ``conv1`` (deep or plain stem), ``bn1``, ``relu``, ``maxpool`` and ``layer1``..``layerN`` of the ImageNet
    ResNet on ``module``: AFFResNet's and the FPN backbone's (afflib_torch.fpn) layers."""
    stem = _stem(plan.stem)
    module.conv1 = nn.Sequential(*stem) if plan.stem.deep else stem[0]
    module.bn1 = BatchNorm2d(plan.stem.out_channels)
    module.relu = nn.ReLU(inplace=True)
    module.maxpool = nn.MaxPool2d(3, 2, 1)
    for index, stage in enumerate(_stages(plan), start=1):
        setattr(module, "layer%d" % index, stage)


class AFFResNet(nn.Module):
    """ImageNet AFF-ResNet, ResNet-50-D style; arguments as :func:`afflib.core.plan.resnet_plan`
    (``block='basic'`` for ResNet-18/34)."""

    def __init__(self, fusion: FusionChoice, layers: Sequence[int], start_layer: int = 3, classes: int = 1000,
                 last_gamma: bool = False, deep_stem: bool = True, stem_width: int = 32, avg_down: bool = True,
                 final_drop: float = 0.0, fusion_r: int = 16, in_channels: int = 3, block: str = "bottleneck"):
        plan: NetworkPlan = network_plan("AFFResNet", locals())
        super().__init__()
        _resnet_trunk(self, plan)
        self.avgpool = GlobalMean()
        self.drop = nn.Dropout(plan.final_drop) if plan.final_drop > 0 else None
        self.fc = nn.Linear(plan.features, plan.classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        if self.drop is not None:
            x = self.drop(x)
        return self.fc(x)


class _ResNeXtNetwork(nn.Module):
    """What both ResNeXt families build from their plan: ``features`` and the classifier ``output``."""

    def _build(self, plan: NetworkPlan) -> None:
        self.features = _resnext_features(plan)
        self.output = nn.Linear(plan.features, plan.classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.output(torch.flatten(self.features(x), 1))


class AFFResNeXt(_ResNeXtNetwork):
    """ImageNet AFF-ResNeXt (deep stem 64-64-128); arguments as :func:`afflib.core.plan.resnext_plan`, whose
    ``last_gamma`` keeps the release's inverted meaning unless ``original_last_gamma=False``."""

    def __init__(self, fusion: FusionChoice, layers: Sequence[int], cardinality: int = 32, bottleneck_width: int = 4,
                 start_layer: int = 3, classes: int = 1000, last_gamma: bool = False, deep_stem: bool = True,
                 stem_width: int = 64, avg_down: bool = True, fusion_r: int = 16, original_last_gamma: bool = True,
                 in_channels: int = 3):
        plan: NetworkPlan = network_plan("AFFResNeXt", locals())
        super().__init__()
        self._build(plan)


class CIFARAFFResNet(nn.Module):
    """CIFAR pre-activation AFF-ResNet (input BN without scale and centre); arguments as
    :func:`afflib.core.plan.cifar_resnet_plan`."""

    def __init__(self, fusion: FusionChoice, layers: Sequence[int], channels: Union[int, Sequence[int]],
                 start_layer: int = 1, classes: int = 10, deep_stem: bool = False, fusion_r: int = 4,
                 in_channels: int = 3):
        plan: NetworkPlan = network_plan("CIFARAFFResNet", locals())
        super().__init__()
        features: List[nn.Module] = [BatchNorm2d(plan.stem.in_channels, scale=False, center=False)]
        features += _stem(plan.stem) + _stages(plan)
        features += [BatchNorm2d(plan.features), nn.ReLU(inplace=True), GlobalMean(), nn.Flatten()]
        self.features = nn.Sequential(*features)
        self.output = nn.Linear(plan.features, plan.classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.output(self.features(x))


class CIFARAFFResNeXt(_ResNeXtNetwork):
    """CIFAR AFF-ResNeXt: 3x3 stem, ResNeXt stages; arguments as :func:`afflib.core.plan.cifar_resnext_plan`."""

    def __init__(self, fusion: FusionChoice, layers: Sequence[int], channels: Union[int, Sequence[int]] = 64,
                 cardinality: int = 32, bottleneck_width: int = 4, start_layer: int = 1, classes: int = 10,
                 deep_stem: bool = False, fusion_r: int = 16, last_gamma: bool = False,
                 original_last_gamma: bool = True, in_channels: int = 3):
        plan: NetworkPlan = network_plan("CIFARAFFResNeXt", locals())
        super().__init__()
        self._build(plan)
