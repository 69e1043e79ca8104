"""PyTorch twin of the paper's same-layer ablation host, Inception-ResNet-20-b (``afflib.model_zoo.inception``).

Every 3x3 convolution of the CIFAR pre-activation ResNet becomes :class:`MixedConv`: ``conv3`` (3x3) and ``conv5``
(3x3, dilation 2), each with BatchNorm, joined as ``attention(conv5(x), conv3(x))``; the residual addition stays
plain. Attribute names and indices equal the MXNet engine's, so ``afflib_torch.convert`` maps the parameters.
"""
from __future__ import annotations

from typing import List, Sequence, Union

from torch import Tensor, nn

from afflib.core.ablation import inception_resnet_plan
from afflib.core.fusion import FusionChoice
from afflib.core.plan import BlockPlan, NetworkPlan
from .blocks import projection_shortcut
from .forms import build_fusion
from .fusion import BatchNorm2d, GlobalMean
from .networks import _stem

__all__ = ["MixedConv", "InceptionPreActBlock", "CIFARInceptionResNet"]


def _branch(in_channels: int, channels: int, stride: int, dilation: int) -> nn.Sequential:
    """conv3x3 (``dilation``, padding keeping the size) then BatchNorm."""
    return nn.Sequential(nn.Conv2d(in_channels, channels, 3, stride, padding=dilation, dilation=dilation, bias=False),
                         BatchNorm2d(channels))


class MixedConv(nn.Module):
    """A 3x3 and a dilated 3x3 convolution side by side, each with BN, joined by ``fusion`` (form or factory)."""

    def __init__(self, in_channels: int, channels: int, stride: int, fusion, fusion_r: int):
        super().__init__()
        self.conv3 = _branch(in_channels, channels, stride, 1)
        self.conv5 = _branch(in_channels, channels, stride, 2)
        self.attention = build_fusion(fusion, channels, fusion_r)

    def forward(self, x: Tensor) -> Tensor:
        return self.attention(self.conv5(x), self.conv3(x))


class InceptionPreActBlock(nn.Module):
    """Pre-activation block ``resfwd(x) + shortcut(x)`` with both convolutions replaced by :class:`MixedConv`."""

    def __init__(self, plan: BlockPlan):
        super().__init__()
        in_channels, channels = plan.in_channels, plan.width
        self.resfwd = nn.Sequential(BatchNorm2d(in_channels), nn.ReLU(),
                                    MixedConv(in_channels, channels, plan.stride, plan.fusion, plan.fusion_r),
                                    nn.ReLU(), MixedConv(channels, channels, 1, plan.fusion, plan.fusion_r))
        self.downsample = projection_shortcut(*plan.shortcut) if plan.downsample else None

    def forward(self, x: Tensor) -> Tensor:
        shortcut = self.downsample(x) if self.downsample is not None else x
        return self.resfwd(x) + shortcut


class CIFARInceptionResNet(nn.Module):
    """Inception-ResNet-20-b, the paper's same-layer host; arguments as
    :func:`afflib.core.ablation.inception_resnet_plan`."""

    def __init__(self, fusion: FusionChoice, layers: Sequence[int], channels: Union[int, Sequence[int]],
                 start_layer: int = 1, classes: int = 10, deep_stem: bool = False, fusion_r: int = 4,
                 in_channels: int = 3):
        super().__init__()
        plan: NetworkPlan = inception_resnet_plan(fusion, layers, channels, start_layer, classes, deep_stem,
                                                  fusion_r, in_channels)
        features: List[nn.Module] = [BatchNorm2d(plan.stem.in_channels, scale=False, center=False)]
        features += _stem(plan.stem)
        features += [nn.Sequential(*[InceptionPreActBlock(block) for block in blocks]) for blocks in plan.stages]
        features += [BatchNorm2d(plan.features), nn.ReLU(inplace=True), GlobalMean(), nn.Flatten()]
        self.features = nn.Sequential(*features)
        self.output = nn.Linear(plan.features, plan.classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.output(self.features(x))
