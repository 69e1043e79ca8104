"""Residual blocks of the AFF networks. The fusion of residual branch and shortcut is chosen by name.

Child names and creation order follow the original release so that ``save_parameters`` names match the
released checkpoints (``conv1``/``bn1``... for ImageNet ResNet, ``body`` for ResNeXt, ``resfwd`` for the CIFAR
pre-activation block; ``downsample`` and ``attention`` everywhere).
"""
from __future__ import annotations

import math

from mxnet.gluon import HybridBlock, nn

from ..nn import get_fusion

__all__ = ["relu", "Identity", "projection_shortcut", "Bottleneck", "ResNeXtBlock", "PreActBasicBlock"]


def relu(F, x):
    """ReLU as oneDNN's ``Activation``: faster than the plain ``relu`` kernel, and fusable into the convolution by
    ``optimize_for``/INT8 quantization."""
    return F.Activation(x, act_type="relu")


class Identity(HybridBlock):
    """Pass-through; keeps the index of a stride-1 average pool so parameter names stay as released."""

    def hybrid_forward(self, F, x):
        return x


def projection_shortcut(in_channels: int, out_channels: int, stride: int, avg_down: bool,
                        norm: bool = True) -> nn.HybridSequential:
    """1x1 projection of the shortcut: ``[avgpool(stride)], conv1x1, [BN]`` (ResNet-D) or ``conv1x1(stride), [BN]``."""
    seq = nn.HybridSequential(prefix="")
    with seq.name_scope():
        if avg_down:
            if stride == 1:
                seq.add(Identity())
            else:
                seq.add(nn.AvgPool2D(pool_size=stride, strides=stride, ceil_mode=True, count_include_pad=False))
            seq.add(nn.Conv2D(out_channels, kernel_size=1, strides=1, use_bias=False, in_channels=in_channels))
        else:
            seq.add(nn.Conv2D(out_channels, kernel_size=1, strides=stride, use_bias=False, in_channels=in_channels))
        if norm:
            seq.add(nn.BatchNorm(in_channels=out_channels))
    return seq


def zero_last_gamma(last_gamma: bool, original_last_gamma: bool) -> bool:
    """Whether a ResNeXt block zero-initialises its last BN gamma.

    The original ResNeXt block zero-initialises it when ``last_gamma`` is False (inverted with respect to
    GluonCV and to its own ResNet block); ``original_last_gamma=False`` gives the GluonCV meaning.
    """
    return (not last_gamma) if original_last_gamma else last_gamma


class Bottleneck(HybridBlock):
    """ResNet-V1b bottleneck (stride in the 3x3 conv); ``relu(fuse(bn3(...), shortcut))``."""

    expansion = 4

    def __init__(self, fusion: str, in_channels: int, planes: int, stride: int = 1, downsample: bool = False,
                 avg_down: bool = True, last_gamma: bool = False, fusion_r: int = 16, **kwargs):
        super().__init__(**kwargs)
        out_channels = planes * self.expansion
        with self.name_scope():
            self.conv1 = nn.Conv2D(planes, kernel_size=1, use_bias=False, in_channels=in_channels)
            self.bn1 = nn.BatchNorm(in_channels=planes)
            self.conv2 = nn.Conv2D(planes, kernel_size=3, strides=stride, padding=1, use_bias=False,
                                   in_channels=planes)
            self.bn2 = nn.BatchNorm(in_channels=planes)
            self.conv3 = nn.Conv2D(out_channels, kernel_size=1, use_bias=False, in_channels=planes)
            self.bn3 = nn.BatchNorm(in_channels=out_channels, gamma_initializer="zeros" if last_gamma else "ones")
            self.downsample = (projection_shortcut(in_channels, out_channels, stride, avg_down)
                               if downsample else None)
            self.attention = get_fusion(fusion, out_channels, r=fusion_r)

    def hybrid_forward(self, F, x):
        out = relu(F, self.bn1(self.conv1(x)))
        out = relu(F, self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = self.downsample(x) if self.downsample is not None else x
        return relu(F, self.attention(out, shortcut))


class ResNeXtBlock(HybridBlock):
    """ResNeXt bottleneck (grouped 3x3, stride in it); ``relu(fuse(body(x), shortcut))``."""

    def __init__(self, fusion: str, in_channels: int, channels: int, cardinality: int, bottleneck_width: int,
                 stride: int = 1, downsample: bool = False, avg_down: bool = True, zero_gamma: bool = True,
                 fusion_r: int = 16, **kwargs):
        super().__init__(**kwargs)
        group_width = cardinality * int(math.floor(channels * (bottleneck_width / 64)))
        out_channels = channels * 4
        with self.name_scope():
            self.body = nn.HybridSequential(prefix="")
            with self.body.name_scope():
                self.body.add(nn.Conv2D(group_width, kernel_size=1, use_bias=False, in_channels=in_channels))
                self.body.add(nn.BatchNorm(in_channels=group_width))
                self.body.add(nn.Activation("relu"))
                self.body.add(nn.Conv2D(group_width, kernel_size=3, strides=stride, padding=1, groups=cardinality,
                                        use_bias=False, in_channels=group_width))
                self.body.add(nn.BatchNorm(in_channels=group_width))
                self.body.add(nn.Activation("relu"))
                self.body.add(nn.Conv2D(out_channels, kernel_size=1, use_bias=False, in_channels=group_width))
                self.body.add(nn.BatchNorm(in_channels=out_channels,
                                           gamma_initializer="zeros" if zero_gamma else "ones"))
            self.downsample = (projection_shortcut(in_channels, out_channels, stride, avg_down)
                               if downsample else None)
            self.attention = get_fusion(fusion, out_channels, r=fusion_r)

    def hybrid_forward(self, F, x):
        shortcut = self.downsample(x) if self.downsample is not None else x
        return relu(F, self.attention(self.body(x), shortcut))


class PreActBasicBlock(HybridBlock):
    """Pre-activation basic block of the CIFAR AFF-ResNet: ``fuse(resfwd(x), shortcut(x))``, no ReLU after.

    The projection shortcut (avg-pool + 1x1 conv, no BN) takes the block input before the pre-activation.
    """

    def __init__(self, fusion: str, in_channels: int, channels: int, stride: int = 1, fusion_r: int = 4, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.resfwd = nn.HybridSequential(prefix="")
            with self.resfwd.name_scope():
                self.resfwd.add(nn.BatchNorm(in_channels=in_channels))
                self.resfwd.add(nn.Activation("relu"))
                self.resfwd.add(nn.Conv2D(channels, kernel_size=3, strides=stride, padding=1, use_bias=False,
                                          in_channels=in_channels))
                self.resfwd.add(nn.BatchNorm(in_channels=channels))
                self.resfwd.add(nn.Activation("relu"))
                self.resfwd.add(nn.Conv2D(channels, kernel_size=3, strides=1, padding=1, use_bias=False,
                                          in_channels=channels))
            needs_projection = channels != in_channels or stride != 1
            self.downsample = (projection_shortcut(in_channels, channels, stride, avg_down=True, norm=False)
                               if needs_projection else None)
            self.attention = get_fusion(fusion, channels, r=fusion_r)

    def hybrid_forward(self, F, x):
        shortcut = self.downsample(x) if self.downsample is not None else x
        return self.attention(self.resfwd(x), shortcut)
