"""The paper's same-layer ablation host in Gluon: Inception-ResNet-20-b
(:func:`afflib.core.ablation.inception_resnet_plan`).

Every 3x3 convolution of the CIFAR pre-activation ResNet becomes :class:`MixedConv`: a 3x3 branch (``conv3``) and a
3x3 dilation-2 branch (``conv5``, a 5x5 receptive field), each with BatchNorm, joined by the chosen fusion form as
``attention(conv5(x), conv3(x))`` (afflib's ``x`` = the paper's Y = the larger receptive field). The residual
addition stays plain. Names match ``afflib_torch.inception``, so ``afflib_torch.convert`` maps the parameters.
"""
from __future__ import annotations

from typing import Sequence, Union

from mxnet.gluon import HybridBlock, nn

from afflib.core.ablation import inception_resnet_plan
from afflib.core.fusion import FusionChoice
from afflib.core.plan import BlockPlan, NetworkPlan
from ..nn import GlobalMean, build_fusion
from .blocks import projection_shortcut
from .networks import _stem

__all__ = ["MixedConv", "InceptionPreActBlock", "CIFARInceptionResNet"]


def _branch(in_channels: int, channels: int, stride: int, dilation: int) -> nn.HybridSequential:
    """conv3x3 (``dilation``, padding keeping the size) then BatchNorm."""
    branch = nn.HybridSequential(prefix="")
    with branch.name_scope():
        branch.add(nn.Conv2D(channels, kernel_size=3, strides=stride, padding=dilation, dilation=dilation,
                             use_bias=False, in_channels=in_channels))
        branch.add(nn.BatchNorm(in_channels=channels))
    return branch


class MixedConv(HybridBlock):
    """A 3x3 and a dilated 3x3 convolution side by side, each with BN, joined by ``fusion`` (form or factory)."""

    def __init__(self, in_channels: int, channels: int, stride: int, fusion, fusion_r: int, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.conv3 = _branch(in_channels, channels, stride, 1)
            self.conv5 = _branch(in_channels, channels, stride, 2)
            self.attention = build_fusion(fusion, channels, fusion_r)

    def hybrid_forward(self, F, x):
        return self.attention(self.conv5(x), self.conv3(x))


class InceptionPreActBlock(HybridBlock):
    """Pre-activation block ``resfwd(x) + shortcut(x)`` with both convolutions replaced by :class:`MixedConv`."""

    def __init__(self, plan: BlockPlan, **kwargs):
        super().__init__(**kwargs)
        in_channels, channels = plan.in_channels, plan.width
        with self.name_scope():
            self.resfwd = nn.HybridSequential(prefix="")
            with self.resfwd.name_scope():
                self.resfwd.add(nn.BatchNorm(in_channels=in_channels))
                self.resfwd.add(nn.Activation("relu"))
                self.resfwd.add(MixedConv(in_channels, channels, plan.stride, plan.fusion, plan.fusion_r))
                self.resfwd.add(nn.Activation("relu"))
                self.resfwd.add(MixedConv(channels, channels, 1, plan.fusion, plan.fusion_r))
            self.downsample = projection_shortcut(*plan.shortcut) if plan.downsample else None

    def hybrid_forward(self, F, x):
        shortcut = self.downsample(x) if self.downsample is not None else x
        return self.resfwd(x) + shortcut


class CIFARInceptionResNet(HybridBlock):
    """Inception-ResNet-20-b, the paper's same-layer host (depth 6b + 2 with ``layers=[b] * 3``).

    Arguments as :func:`afflib.core.ablation.inception_resnet_plan` (those of the CIFAR AFF-ResNet); ``fusion``
    joins the two branches of every layer.
    """

    def __init__(self, fusion: FusionChoice, layers: Sequence[int], channels: Union[int, Sequence[int]],
                 start_layer: int = 1, classes: int = 10, deep_stem: bool = False, fusion_r: int = 4,
                 in_channels: int = 3, **kwargs):
        plan: NetworkPlan = inception_resnet_plan(fusion, layers, channels, start_layer, classes, deep_stem,
                                                  fusion_r, in_channels)
        super().__init__(**kwargs)
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            with self.features.name_scope():
                self.features.add(nn.BatchNorm(scale=False, center=False, in_channels=plan.stem.in_channels))
                _stem(self.features, plan.stem)
                for blocks in plan.stages:
                    stage = nn.HybridSequential(prefix="")
                    with stage.name_scope():
                        for block in blocks:
                            stage.add(InceptionPreActBlock(block))
                    self.features.add(stage)
                self.features.add(nn.BatchNorm(in_channels=plan.features))
                self.features.add(nn.Activation("relu"))
                self.features.add(GlobalMean())
                self.features.add(nn.Flatten())
            self.output = nn.Dense(plan.classes, in_units=plan.features)

    def hybrid_forward(self, F, x):
        return self.output(self.features(x))
