"""Residual blocks of the AFF networks in PyTorch, twins of ``afflib.model_zoo.blocks``.

Attribute names and Sequential indices follow the MXNet blocks exactly (``conv1``/``bn1``..., ``body``,
``resfwd``, ``downsample``, ``attention``), so state_dict keys are the MXNet structural names.
"""
from __future__ import annotations

import math

from torch import Tensor, nn

from .fusion import BatchNorm2d, get_fusion

__all__ = ["projection_shortcut", "zero_last_gamma", "Bottleneck", "ResNeXtBlock", "PreActBasicBlock"]


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


def zero_last_gamma(last_gamma: bool, original_last_gamma: bool) -> bool:
    """Whether a ResNeXt block zero-initialises its last BN gamma (the release inverts ``last_gamma``)."""
    return (not last_gamma) if original_last_gamma else last_gamma


def _bn(channels: int, zero_gamma: bool = False) -> BatchNorm2d:
    bn = BatchNorm2d(channels)
    if zero_gamma:
        nn.init.zeros_(bn.weight)
    return bn


class Bottleneck(nn.Module):
    """ResNet-V1b bottleneck (stride in the 3x3 conv); ``relu(fuse(bn3(...), shortcut))``."""

    expansion = 4

    def __init__(self, fusion: str, in_channels: int, planes: int, stride: int = 1, downsample: bool = False,
                 avg_down: bool = True, last_gamma: bool = False, fusion_r: int = 16):
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = _bn(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = _bn(planes)
        self.conv3 = nn.Conv2d(planes, out_channels, 1, bias=False)
        self.bn3 = _bn(out_channels, zero_gamma=last_gamma)
        self.downsample = projection_shortcut(in_channels, out_channels, stride, avg_down) if downsample else None
        self.attention = get_fusion(fusion, out_channels, r=fusion_r)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = self.downsample(x) if self.downsample is not None else x
        return self.relu(self.attention(out, shortcut))


class ResNeXtBlock(nn.Module):
    """ResNeXt bottleneck (grouped 3x3, stride in it); ``relu(fuse(body(x), shortcut))``."""

    def __init__(self, fusion: str, in_channels: int, channels: int, cardinality: int, bottleneck_width: int,
                 stride: int = 1, downsample: bool = False, avg_down: bool = True, zero_gamma: bool = True,
                 fusion_r: int = 16):
        super().__init__()
        group_width = cardinality * int(math.floor(channels * (bottleneck_width / 64)))
        out_channels = channels * 4
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, group_width, 1, bias=False), _bn(group_width), nn.ReLU(inplace=True),
            nn.Conv2d(group_width, group_width, 3, stride, 1, groups=cardinality, bias=False), _bn(group_width),
            nn.ReLU(inplace=True),
            nn.Conv2d(group_width, out_channels, 1, bias=False), _bn(out_channels, zero_gamma=zero_gamma))
        self.downsample = projection_shortcut(in_channels, out_channels, stride, avg_down) if downsample else None
        self.attention = get_fusion(fusion, out_channels, r=fusion_r)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = self.downsample(x) if self.downsample is not None else x
        return self.relu(self.attention(self.body(x), shortcut))


class PreActBasicBlock(nn.Module):
    """Pre-activation basic block of the CIFAR AFF-ResNet: ``fuse(resfwd(x), shortcut(x))``, no ReLU after.

    The projection shortcut (avg-pool + 1x1 conv, no BN) takes the block input before the pre-activation.
    """

    def __init__(self, fusion: str, in_channels: int, channels: int, stride: int = 1, fusion_r: int = 4):
        super().__init__()
        self.resfwd = nn.Sequential(
            BatchNorm2d(in_channels), nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False),
            BatchNorm2d(channels), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False))
        needs_projection = channels != in_channels or stride != 1
        self.downsample = (projection_shortcut(in_channels, channels, stride, avg_down=True, norm=False)
                           if needs_projection else None)
        self.attention = get_fusion(fusion, channels, r=fusion_r)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = self.downsample(x) if self.downsample is not None else x
        return self.attention(self.resfwd(x), shortcut)
