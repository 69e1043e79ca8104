"""Residual blocks of the AFF networks in PyTorch, each built from a block plan (:mod:`afflib.core.plan`).

Attribute names and Sequential indices follow the MXNet blocks exactly (``conv1``/``bn1``..., ``body``,
``resfwd``, ``downsample``, ``attention``), so state_dict keys are the MXNet structural names.
"""
from __future__ import annotations

from typing import Dict, Type

from torch import Tensor, nn

from afflib.core.plan import EXPANSION, BlockPlan, zero_last_gamma
from .forms import build_fusion  # every catalogue form by name (the ablation forms registered)
from .fusion import BatchNorm2d

__all__ = ["projection_shortcut", "zero_last_gamma", "Bottleneck", "BasicBlock", "ResNeXtBlock", "PreActBasicBlock",
           "BLOCKS"]


def projection_shortcut(in_channels: int, out_channels: int, stride: int, avg_down: bool,
                        norm: bool = True) -> nn.Sequential:
    """1x1 projection of the shortcut: ``[avgpool(stride)], conv1x1, [BN]`` (ResNet-D) or ``conv1x1(stride), [BN]``.

    The average pool is MXNet's ``ceil_mode=True, count_include_pad=False``; at stride 1 an Identity keeps
    the conv at index 1 as in the release.
    """
    layers = []
    if avg_down:
        layers.append(nn.Identity() if stride == 1 else
                      nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False))
        layers.append(nn.Conv2d(in_channels, out_channels, 1, 1, bias=False))
    else:
        layers.append(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False))
    if norm:
        layers.append(BatchNorm2d(out_channels))
    return nn.Sequential(*layers)


def _bn(channels: int, zero_gamma: bool = False) -> BatchNorm2d:
    bn = BatchNorm2d(channels)
    if zero_gamma:
        nn.init.zeros_(bn.weight)
    return bn


class Bottleneck(nn.Module):
    """ResNet-V1b bottleneck (stride in the 3x3 conv); ``relu(fuse(bn3(...), shortcut))``, from a block plan."""

    expansion = EXPANSION

    def __init__(self, plan: BlockPlan):
        super().__init__()
        self.conv1 = nn.Conv2d(plan.in_channels, plan.width, 1, bias=False)
        self.bn1 = _bn(plan.width)
        self.conv2 = nn.Conv2d(plan.width, plan.width, 3, plan.stride, 1, bias=False)
        self.bn2 = _bn(plan.width)
        self.conv3 = nn.Conv2d(plan.width, plan.out_channels, 1, bias=False)
        self.bn3 = _bn(plan.out_channels, zero_gamma=plan.zero_gamma)
        self.downsample = projection_shortcut(*plan.shortcut) if plan.downsample else None
        self.attention = build_fusion(plan.fusion, plan.out_channels, plan.fusion_r)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = self.downsample(x) if self.downsample is not None else x
        return self.relu(self.attention(out, shortcut))


class BasicBlock(nn.Module):
    """ResNet-V1b basic block of AFF-ResNet-18/34 (two 3x3 convs, stride in the first);
    ``relu(fuse(bn2(...), shortcut))``, named as :class:`Bottleneck`, from a block plan of kind ``'basic'``."""

    expansion = 1

    def __init__(self, plan: BlockPlan):
        super().__init__()
        self.conv1 = nn.Conv2d(plan.in_channels, plan.width, 3, plan.stride, 1, bias=False)
        self.bn1 = _bn(plan.width)
        self.conv2 = nn.Conv2d(plan.width, plan.out_channels, 3, 1, 1, bias=False)
        self.bn2 = _bn(plan.out_channels, zero_gamma=plan.zero_gamma)
        self.downsample = projection_shortcut(*plan.shortcut) if plan.downsample else None
        self.attention = build_fusion(plan.fusion, plan.out_channels, plan.fusion_r)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        shortcut = self.downsample(x) if self.downsample is not None else x
        return self.relu(self.attention(out, shortcut))


class ResNeXtBlock(nn.Module):
    """ResNeXt bottleneck (grouped 3x3, stride in it); ``relu(fuse(body(x), shortcut))``, from a block plan."""

    def __init__(self, plan: BlockPlan):
        super().__init__()
        inner, out_channels = plan.width, plan.out_channels
        self.body = nn.Sequential(
            nn.Conv2d(plan.in_channels, inner, 1, bias=False), _bn(inner), nn.ReLU(inplace=True),
            nn.Conv2d(inner, inner, 3, plan.stride, 1, groups=plan.groups, bias=False), _bn(inner),
            nn.ReLU(inplace=True),
            nn.Conv2d(inner, out_channels, 1, bias=False), _bn(out_channels, zero_gamma=plan.zero_gamma))
        self.downsample = projection_shortcut(*plan.shortcut) if plan.downsample else None
        self.attention = build_fusion(plan.fusion, out_channels, plan.fusion_r)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = self.downsample(x) if self.downsample is not None else x
        return self.relu(self.attention(self.body(x), shortcut))


class PreActBasicBlock(nn.Module):
    """Pre-activation basic block of the CIFAR AFF-ResNet: ``fuse(resfwd(x), shortcut(x))``, no ReLU after.

    The projection shortcut (avg-pool + 1x1 conv, no BN) takes the block input before the pre-activation.
    """

    def __init__(self, plan: BlockPlan):
        super().__init__()
        in_channels, channels = plan.in_channels, plan.width
        self.resfwd = nn.Sequential(
            BatchNorm2d(in_channels), nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, channels, 3, plan.stride, 1, bias=False),
            BatchNorm2d(channels), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False))
        self.downsample = projection_shortcut(*plan.shortcut) if plan.downsample else None
        self.attention = build_fusion(plan.fusion, channels, plan.fusion_r)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = self.downsample(x) if self.downsample is not None else x
        return self.attention(self.resfwd(x), shortcut)


# Block plan kind -> the block that instantiates it.
BLOCKS: Dict[str, Type[nn.Module]] = {"bottleneck": Bottleneck, "basic": BasicBlock, "resnext": ResNeXtBlock,
                                      "preact": PreActBasicBlock}
