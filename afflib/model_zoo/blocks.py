"""Residual blocks of the AFF networks, each built from a block plan (:mod:`afflib.core.plan`).

Child names and creation order follow the original release so that ``save_parameters`` names match the
released checkpoints (``conv1``/``bn1``... for ImageNet ResNet, ``body`` for ResNeXt, ``resfwd`` for the CIFAR
pre-activation block; ``downsample`` and ``attention`` everywhere). The ImageNet basic block (ResNet-18/34, not in
the release) is named in the bottleneck's style: ``conv1``/``bn1``/``conv2``/``bn2``.
"""
from __future__ import annotations

from typing import Dict, Type

from mxnet.gluon import HybridBlock, nn

from afflib.core.plan import EXPANSION, BlockPlan, zero_last_gamma
from ..nn import build_fusion

__all__ = ["relu", "Identity", "projection_shortcut", "zero_last_gamma", "Bottleneck", "BasicBlock", "ResNeXtBlock",
           "PreActBasicBlock", "BLOCKS"]


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


class Bottleneck(HybridBlock):
    """ResNet-V1b bottleneck (stride in the 3x3 conv); ``relu(fuse(bn3(...), shortcut))``. Built from a
    :class:`afflib.core.plan.BlockPlan` of kind ``'bottleneck'``."""

    expansion = EXPANSION

    def __init__(self, plan: BlockPlan, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.conv1 = nn.Conv2D(plan.width, kernel_size=1, use_bias=False, in_channels=plan.in_channels)
            self.bn1 = nn.BatchNorm(in_channels=plan.width)
            self.conv2 = nn.Conv2D(plan.width, kernel_size=3, strides=plan.stride, padding=1, use_bias=False,
                                   in_channels=plan.width)
            self.bn2 = nn.BatchNorm(in_channels=plan.width)
            self.conv3 = nn.Conv2D(plan.out_channels, kernel_size=1, use_bias=False, in_channels=plan.width)
            self.bn3 = nn.BatchNorm(in_channels=plan.out_channels,
                                    gamma_initializer="zeros" if plan.zero_gamma else "ones")
            self.downsample = projection_shortcut(*plan.shortcut) if plan.downsample else None
            self.attention = build_fusion(plan.fusion, plan.out_channels, plan.fusion_r)

    def hybrid_forward(self, F, x):
        out = relu(F, self.bn1(self.conv1(x)))
        out = relu(F, self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = self.downsample(x) if self.downsample is not None else x
        return relu(F, self.attention(out, shortcut))


class BasicBlock(HybridBlock):
    """ResNet-V1b basic block of AFF-ResNet-18/34 (two 3x3 convs, stride in the first);
    ``relu(fuse(bn2(...), shortcut))``, named as :class:`Bottleneck`. Built from a plan of kind ``'basic'``."""

    expansion = 1

    def __init__(self, plan: BlockPlan, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.conv1 = nn.Conv2D(plan.width, kernel_size=3, strides=plan.stride, padding=1, use_bias=False,
                                   in_channels=plan.in_channels)
            self.bn1 = nn.BatchNorm(in_channels=plan.width)
            self.conv2 = nn.Conv2D(plan.out_channels, kernel_size=3, padding=1, use_bias=False,
                                   in_channels=plan.width)
            self.bn2 = nn.BatchNorm(in_channels=plan.out_channels,
                                    gamma_initializer="zeros" if plan.zero_gamma else "ones")
            self.downsample = projection_shortcut(*plan.shortcut) if plan.downsample else None
            self.attention = build_fusion(plan.fusion, plan.out_channels, plan.fusion_r)

    def hybrid_forward(self, F, x):
        out = self.bn2(self.conv2(relu(F, self.bn1(self.conv1(x)))))
        shortcut = self.downsample(x) if self.downsample is not None else x
        return relu(F, self.attention(out, shortcut))


class ResNeXtBlock(HybridBlock):
    """ResNeXt bottleneck (grouped 3x3, stride in it); ``relu(fuse(body(x), shortcut))``. Built from a
    :class:`afflib.core.plan.BlockPlan` of kind ``'resnext'``."""

    def __init__(self, plan: BlockPlan, **kwargs):
        super().__init__(**kwargs)
        inner, out_channels = plan.width, plan.out_channels
        with self.name_scope():
            self.body = nn.HybridSequential(prefix="")
            with self.body.name_scope():
                self.body.add(nn.Conv2D(inner, kernel_size=1, use_bias=False, in_channels=plan.in_channels))
                self.body.add(nn.BatchNorm(in_channels=inner))
                self.body.add(nn.Activation("relu"))
                self.body.add(nn.Conv2D(inner, kernel_size=3, strides=plan.stride, padding=1, groups=plan.groups,
                                        use_bias=False, in_channels=inner))
                self.body.add(nn.BatchNorm(in_channels=inner))
                self.body.add(nn.Activation("relu"))
                self.body.add(nn.Conv2D(out_channels, kernel_size=1, use_bias=False, in_channels=inner))
                self.body.add(nn.BatchNorm(in_channels=out_channels,
                                           gamma_initializer="zeros" if plan.zero_gamma else "ones"))
            self.downsample = projection_shortcut(*plan.shortcut) if plan.downsample else None
            self.attention = build_fusion(plan.fusion, out_channels, plan.fusion_r)

    def hybrid_forward(self, F, x):
        shortcut = self.downsample(x) if self.downsample is not None else x
        return relu(F, self.attention(self.body(x), shortcut))


class PreActBasicBlock(HybridBlock):
    """Pre-activation basic block of the CIFAR AFF-ResNet: ``fuse(resfwd(x), shortcut(x))``, no ReLU after.

    The projection shortcut (avg-pool + 1x1 conv, no BN) takes the block input before the pre-activation.
    Built from a :class:`afflib.core.plan.BlockPlan` of kind ``'preact'``.
    """

    def __init__(self, plan: BlockPlan, **kwargs):
        super().__init__(**kwargs)
        in_channels, channels = plan.in_channels, plan.width
        with self.name_scope():
            self.resfwd = nn.HybridSequential(prefix="")
            with self.resfwd.name_scope():
                self.resfwd.add(nn.BatchNorm(in_channels=in_channels))
                self.resfwd.add(nn.Activation("relu"))
                self.resfwd.add(nn.Conv2D(channels, kernel_size=3, strides=plan.stride, padding=1, use_bias=False,
                                          in_channels=in_channels))
                self.resfwd.add(nn.BatchNorm(in_channels=channels))
                self.resfwd.add(nn.Activation("relu"))
                self.resfwd.add(nn.Conv2D(channels, kernel_size=3, strides=1, padding=1, use_bias=False,
                                          in_channels=channels))
            self.downsample = projection_shortcut(*plan.shortcut) if plan.downsample else None
            self.attention = build_fusion(plan.fusion, channels, plan.fusion_r)

    def hybrid_forward(self, F, x):
        shortcut = self.downsample(x) if self.downsample is not None else x
        return self.attention(self.resfwd(x), shortcut)


# Block plan kind -> the block that instantiates it.
BLOCKS: Dict[str, Type[HybridBlock]] = {"bottleneck": Bottleneck, "basic": BasicBlock, "resnext": ResNeXtBlock,
                                         "preact": PreActBasicBlock}
