"""PyTorch twin of the paper's long-skip host (``afflib.model_zoo.fpn``): ResNet + FPN whose top-down "+" is any
fusion form (:mod:`afflib.core.fpn`).

Where AFF's two inputs come from: each top-down level calls ``attention(Y, X)``, afflib's ``fuse(x, y)`` with
``x`` = the paper's Y = the high-level map P_{i+1} after conv1x1-BN-ReLU and bilinear upsampling, and ``y`` = the
paper's X = the low-level backbone map C_i (the long skip). Upsampling is ``interpolate(mode='bilinear',
align_corners=False)``, equal to MXNet's ``BilinearResize2D(mode='like', align_corners=False)``. Attribute names
and indices equal the MXNet engine's, so ``afflib_torch.convert`` maps the parameters.
"""
from __future__ import annotations

import os
from typing import Any, List, Optional, Sequence, Tuple, Union

import torch.nn.functional as F
from torch import Tensor, nn

from afflib.core.fpn import FPNLevel, FPNPlan, backbone_checkpoint, cifar_fpn_plan, resnet_fpn_plan, stage_outputs
from afflib.core.params_io import load_params
from afflib.core.plan import NetworkPlan
from .convert import state_dict_from_mxnet
from .forms import build_fusion
from .fusion import BatchNorm2d
from .networks import _resnet_trunk, _stages, _stem

__all__ = ["TopDownLevel", "ResNetBackbone", "CIFARFPN", "AFFResNetFPN"]


def _conv_bn_relu(in_channels: int, channels: int, kernel: int) -> nn.Sequential:
    """conv (kernel, same size, no bias), BatchNorm, ReLU."""
    return nn.Sequential(nn.Conv2d(in_channels, channels, kernel, 1, kernel // 2, bias=False), BatchNorm2d(channels),
                         nn.ReLU())


def _resize_like(x: Tensor, like: Tensor) -> Tensor:
    return F.interpolate(x, size=tuple(like.shape[-2:]), mode="bilinear", align_corners=False)


class TopDownLevel(nn.Module):
    """One FPN level: ``smooth(attention(upsample(reduce(high)), low))``; ``high`` = P_{i+1}, ``low`` = C_i."""

    def __init__(self, level: FPNLevel):
        super().__init__()
        self.reduce = _conv_bn_relu(level.high_channels, level.channels, 1)
        self.attention = build_fusion(level.fusion, level.channels, level.fusion_r)
        self.smooth = _conv_bn_relu(level.channels, level.channels, 3)

    def forward(self, high: Tensor, low: Tensor) -> Tensor:
        return self.smooth(self.attention(_resize_like(self.reduce(high), low), low))


class _FPN(nn.Module):
    """The top-down path and the FCN head shared by both families; subclasses give ``_stages(x)``."""

    def _build_decoder(self, plan: FPNPlan) -> None:
        self._output_stride = plan.output_stride
        self.top_down = nn.Sequential(*[TopDownLevel(level) for level in plan.levels])
        self.head = nn.Sequential(nn.Conv2d(plan.stage_channels[0], plan.head_channels, 3, 1, 1, bias=False),
                                  BatchNorm2d(plan.head_channels), nn.ReLU(),
                                  nn.Conv2d(plan.head_channels, plan.classes, 1))

    def _stages(self, x: Tensor) -> List[Tensor]:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        stages = self._stages(x)
        p = stages[-1]
        for level, low in zip(self.top_down, reversed(stages[:-1])):
            p = level(p, low)
        out = self.head(p)
        return out if self._output_stride == 1 else _resize_like(out, x)


class CIFARFPN(_FPN):
    """ResNet-20-b + FPN, the paper's long-skip host; arguments as :func:`afflib.core.fpn.cifar_fpn_plan`
    (``fusion`` in the long skips, ``backbone_fusion`` in the backbone's residual additions). Logits
    (N, classes, H, W) for H, W divisible by 4."""

    def __init__(self, fusion: Any = "aff", layers: Sequence[int] = (1, 1, 1),
                 channels: Union[int, Sequence[int]] = (16, 16, 32, 64), classes: int = 11,
                 fusion_r: Optional[int] = None, in_channels: int = 1, backbone_fusion: Any = "add",
                 backbone_r: Optional[int] = None, deep_stem: bool = False):
        super().__init__()
        plan = cifar_fpn_plan(fusion, layers, channels, classes, fusion_r, in_channels, backbone_fusion, backbone_r,
                              deep_stem)
        self._stage_count = len(plan.backbone.stages)
        backbone: List[nn.Module] = [BatchNorm2d(plan.backbone.stem.in_channels, scale=False, center=False)]
        self.backbone = nn.Sequential(*backbone, *_stem(plan.backbone.stem), *_stages(plan.backbone))
        self._build_decoder(plan)

    def _stages(self, x: Tensor) -> List[Tensor]:
        return stage_outputs(list(self.backbone), self._stage_count, x)


class ResNetBackbone(nn.Module):
    """The ImageNet AFF-ResNet without its classifier (``conv1``, ``bn1``, ``layer1``..``layer4`` as
    ``afflib_torch.AFFResNet``, the released checkpoints' names); returns the four stage outputs."""

    def __init__(self, plan: NetworkPlan):
        super().__init__()
        self._layers = len(plan.stages)
        _resnet_trunk(self, plan)

    def _stem(self, x: Tensor) -> Tensor:
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        layers = [self._stem] + [getattr(self, "layer%d" % i) for i in range(1, self._layers + 1)]
        return tuple(stage_outputs(layers, self._layers, x))


class AFFResNetFPN(_FPN):
    """AFF-ResNet-50 + FPN for real images (H, W divisible by 32); arguments as
    :func:`afflib.core.fpn.resnet_fpn_plan`. ``pretrained_base``: True or a label tag loads the released ImageNet
    checkpoint of the backbone's registry name (``aff_resnet50``) from the shared store under ``root``, converted;
    a path loads that MXNet ``.params`` file (see :meth:`load_backbone`)."""

    def __init__(self, fusion: Any = "aff", layers: Sequence[int] = (3, 4, 6, 3), classes: int = 21,
                 fusion_r: Optional[int] = None, fpn_channels: int = 256, backbone_fusion: Any = "aff",
                 backbone_r: Optional[int] = None, start_layer: int = 3, in_channels: int = 3,
                 pretrained_base: Union[bool, str, os.PathLike] = False,
                 root: Optional[Union[str, os.PathLike]] = None):
        super().__init__()
        plan = resnet_fpn_plan(fusion, layers, classes, fusion_r, fpn_channels, backbone_fusion, backbone_r,
                               start_layer, in_channels)
        self.backbone = ResNetBackbone(plan.backbone)
        self.lateral = nn.Sequential(*[_conv_bn_relu(width, fpn_channels, 1) for width in plan.laterals])
        self._build_decoder(plan)
        path = backbone_checkpoint(pretrained_base, backbone_fusion, layers, root)
        if path is not None:
            self.load_backbone(path)

    def load_backbone(self, path: Union[str, os.PathLike]) -> None:
        """Load a classification checkpoint in MXNet ``.params`` form (the released AFF-ResNet layout:
        ``conv1.*``, ``bn1.*``, ``layerN.*``, ``fc.*``) into the backbone; ``fc.*`` is left out, a missing
        or unexpected array is a ``CheckpointMismatch`` (a ValueError) naming it."""
        arrays = load_params(path)
        if isinstance(arrays, dict):
            arrays = {k: v for k, v in arrays.items() if not k.startswith("fc.")}
        self.backbone.load_state_dict(state_dict_from_mxnet(self.backbone, arrays, str(path)), strict=True)

    def _stages(self, x: Tensor) -> List[Tensor]:
        return [lateral(c) for lateral, c in zip(self.lateral, self.backbone(x))]
