"""The paper's long-skip host in Gluon: ResNet + FPN whose top-down "+" is any fusion form (:mod:`afflib.core.fpn`).

Where AFF's two inputs come from: each top-down level calls ``attention(Y, X)``, afflib's ``fuse(x, y)`` with
``x`` = the paper's Y = the high-level map P_{i+1} after conv1x1-BN-ReLU and bilinear upsampling, and ``y`` = the
paper's X = the low-level backbone map C_i arriving through the long skip. Upsampling is
``BilinearResize2D(mode='like', align_corners=False)`` (MXNet's default is True), which equals PyTorch's
``interpolate(mode='bilinear', align_corners=False)``. Names match ``afflib_torch.fpn`` for ``afflib_torch.convert``.
"""
from __future__ import annotations

import os
from functools import partial
from typing import Any, List, Optional, Sequence, Union

from mxnet import initializer
from mxnet.gluon import HybridBlock, nn

from afflib.core.fpn import FPNLevel, FPNPlan, backbone_checkpoint, cifar_fpn_plan, resnet_fpn_plan, stage_outputs
from ..nn import build_fusion
from .networks import _resnet_trunk, _stage, _stem

__all__ = ["TopDownLevel", "ResNetBackbone", "CIFARFPN", "AFFResNetFPN"]


def _conv_bn_relu(in_channels: int, channels: int, kernel: int) -> nn.HybridSequential:
    """conv (kernel, same size, no bias), BatchNorm, ReLU."""
    seq = nn.HybridSequential(prefix="")
    with seq.name_scope():
        seq.add(nn.Conv2D(channels, kernel, 1, kernel // 2, use_bias=False, in_channels=in_channels))
        seq.add(nn.BatchNorm(in_channels=channels))
        seq.add(nn.Activation("relu"))
    return seq


def _resize_like(F, x, like):
    return F.contrib.BilinearResize2D(x, like=like, mode="like", align_corners=False)


class TopDownLevel(HybridBlock):
    """One FPN level: ``smooth(attention(upsample(reduce(high)), low))``; ``high`` = P_{i+1}, ``low`` = C_i."""

    def __init__(self, level: FPNLevel, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.reduce = _conv_bn_relu(level.high_channels, level.channels, 1)
            self.attention = build_fusion(level.fusion, level.channels, level.fusion_r)
            self.smooth = _conv_bn_relu(level.channels, level.channels, 3)

    def hybrid_forward(self, F, high, low):
        return self.smooth(self.attention(_resize_like(F, self.reduce(high), low), low))


class _FPN(HybridBlock):
    """The top-down path and the FCN head shared by both families; subclasses give ``_stages(F, x)``."""

    def _build_decoder(self, plan: FPNPlan) -> None:
        self._output_stride = plan.output_stride
        self.top_down = nn.HybridSequential(prefix="")
        with self.top_down.name_scope():
            for level in plan.levels:
                self.top_down.add(TopDownLevel(level))
        self.head = nn.HybridSequential(prefix="")
        with self.head.name_scope():
            self.head.add(nn.Conv2D(plan.head_channels, 3, 1, 1, use_bias=False, in_channels=plan.stage_channels[0]))
            self.head.add(nn.BatchNorm(in_channels=plan.head_channels))
            self.head.add(nn.Activation("relu"))
            self.head.add(nn.Conv2D(plan.classes, 1, in_channels=plan.head_channels))

    def _stages(self, F, x) -> List[Any]:
        raise NotImplementedError

    def hybrid_forward(self, F, x):
        stages = self._stages(F, x)
        p = stages[-1]
        for level, low in zip(self.top_down, reversed(stages[:-1])):
            p = level(p, low)
        out = self.head(p)
        return out if self._output_stride == 1 else _resize_like(F, out, x)


class CIFARFPN(_FPN):
    """ResNet-20-b + FPN, the paper's long-skip host (``layers=[b] * 3``, depth 6b + 2); logits (N, classes, H, W)
    for inputs with H, W divisible by 4.

    Arguments as :func:`afflib.core.fpn.cifar_fpn_plan`: ``fusion`` (any catalogue form, alias or factory) in the
    long skips with ``fusion_r`` (None: the paper preset), ``channels`` [stem, stage1, stage2, stage3],
    ``backbone_fusion`` for the backbone's residual additions (plain ``'add'``). ``backbone`` holds the input BN,
    stem and stages with the indices of :class:`CIFARAFFResNet`'s ``features``.
    """

    def __init__(self, fusion: Any = "aff", layers: Sequence[int] = (1, 1, 1),
                 channels: Union[int, Sequence[int]] = (16, 16, 32, 64), classes: int = 11,
                 fusion_r: Optional[int] = None, in_channels: int = 1, backbone_fusion: Any = "add",
                 backbone_r: Optional[int] = None, deep_stem: bool = False, **kwargs):
        plan = cifar_fpn_plan(fusion, layers, channels, classes, fusion_r, in_channels, backbone_fusion, backbone_r,
                              deep_stem)
        super().__init__(**kwargs)
        self._stage_count = len(plan.backbone.stages)
        with self.name_scope():
            self.backbone = nn.HybridSequential(prefix="")
            with self.backbone.name_scope():
                self.backbone.add(nn.BatchNorm(scale=False, center=False, in_channels=plan.backbone.stem.in_channels))
                _stem(self.backbone, plan.backbone.stem)
                for blocks in plan.backbone.stages:
                    self.backbone.add(_stage(blocks))
            self._build_decoder(plan)

    def _stages(self, F, x):
        return stage_outputs(list(self.backbone._children.values()), self._stage_count, x)


class ResNetBackbone(HybridBlock):
    """The ImageNet AFF-ResNet without its classifier: ``conv1``, ``bn1``, ``maxpool``, ``layer1``..``layer4`` as
    :class:`afflib.model_zoo.AFFResNet` (the released checkpoints' names); returns the four stage outputs."""

    def __init__(self, plan, **kwargs):
        super().__init__(**kwargs)
        self._layers = len(plan.stages)
        with self.name_scope():
            _resnet_trunk(self, plan)

    def _stem(self, F, x):
        return self.maxpool(F.Activation(self.bn1(self.conv1(x)), act_type="relu"))

    def hybrid_forward(self, F, x):
        layers = [partial(self._stem, F)] + [getattr(self, "layer%d" % i) for i in range(1, self._layers + 1)]
        return tuple(stage_outputs(layers, self._layers, x))


class AFFResNetFPN(_FPN):
    """AFF-ResNet-50 + FPN for real images (H, W divisible by 32); logits (N, classes, H, W).

    Arguments as :func:`afflib.core.fpn.resnet_fpn_plan` (``fusion`` in the long skips, ``backbone_fusion`` in
    the backbone's blocks from ``start_layer`` on, ``fpn_channels`` of the laterals and the top-down path).
    ``pretrained_base``: True or a label tag loads the released ImageNet checkpoint of the backbone's registry name
    (``aff_resnet50`` for ``backbone_fusion='aff'``) from the store under ``root``; a path loads that ``.params``
    file (see :meth:`load_backbone`). Then :meth:`initialize_decoder` initialises the rest (``initialize()``
    would too, warning once per loaded parameter).
    """

    def __init__(self, fusion: Any = "aff", layers: Sequence[int] = (3, 4, 6, 3), classes: int = 21,
                 fusion_r: Optional[int] = None, fpn_channels: int = 256, backbone_fusion: Any = "aff",
                 backbone_r: Optional[int] = None, start_layer: int = 3, in_channels: int = 3,
                 pretrained_base: Union[bool, str, os.PathLike] = False,
                 root: Optional[Union[str, os.PathLike]] = None, **kwargs):
        plan = resnet_fpn_plan(fusion, layers, classes, fusion_r, fpn_channels, backbone_fusion, backbone_r,
                               start_layer, in_channels)
        super().__init__(**kwargs)
        with self.name_scope():
            self.backbone = ResNetBackbone(plan.backbone)
            self.lateral = nn.HybridSequential(prefix="")
            with self.lateral.name_scope():
                for width in plan.laterals:
                    self.lateral.add(_conv_bn_relu(width, fpn_channels, 1))
            self._build_decoder(plan)
        path = backbone_checkpoint(pretrained_base, backbone_fusion, layers, root)
        if path is not None:
            self.load_backbone(path)

    def initialize_decoder(self, init: Any = initializer.Uniform(), ctx: Any = None) -> None:
        """Initialise everything but the backbone (laterals, top-down path, head), e.g. after a backbone load."""
        for part in (self.lateral, self.top_down, self.head):
            part.initialize(init, ctx=ctx)

    def load_backbone(self, path: Union[str, os.PathLike], ctx: Any = None) -> None:
        """Load a classification checkpoint (the released AFF-ResNet layout: ``conv1.*``, ``bn1.*``,
        ``layerN.*``, ``fc.*``) into the backbone: every backbone array must be in the file, the classifier
        ``fc.*`` is left out, anything else is a ValueError naming it."""
        import mxnet as mx

        names = set(mx.nd.load(str(path)))
        expected = set(self.backbone._collect_params_with_prefix())
        missing = sorted(expected - names)
        extra = sorted(n for n in names - expected if not n.startswith("fc."))
        if missing or extra:
            raise ValueError(f"{path} is not a classification checkpoint of this backbone: "
                             f"{len(missing)} backbone arrays missing ({', '.join(missing[:5])}), "
                             f"{len(extra)} unexpected ({', '.join(extra[:5])})")
        try:
            self.backbone.load_parameters(str(path), ctx=ctx, ignore_extra=True, cast_dtype=True,
                                          dtype_source="current")
        except AssertionError as err:
            raise ValueError(f"{path} does not fit the backbone: {err}") from err

    def _stages(self, F, x):
        return [lateral(c) for lateral, c in zip(self.lateral, self.backbone(x))]
