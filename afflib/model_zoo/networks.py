"""The four AFF network families of the paper: ImageNet ResNet-D / ResNeXt and CIFAR ResNet / ResNeXt.

Stages numbered below ``start_layer`` (1-based) fuse by plain addition; the others use ``fusion``
(``'aff'``, ``'iaff'``, ``'add'`` or a release name). With ``fusion='add'`` each class is the plain
baseline of identical topology.
"""
from __future__ import annotations

from typing import List, Sequence, Union

from mxnet.gluon import HybridBlock, nn

from ..nn import GlobalMean, canonical_fusion
from .blocks import Bottleneck, PreActBasicBlock, ResNeXtBlock, relu, zero_last_gamma

__all__ = ["AFFResNet", "AFFResNeXt", "CIFARAFFResNet", "CIFARAFFResNeXt"]


def _stage_fusion(fusion: str, stage_index: int, start_layer: int) -> str:
    return fusion if stage_index >= start_layer else "add"


def _check_layers(layers: Sequence[int], stages: int, cls: str, start_layer: int) -> List[int]:
    """The block counts as ints; a wrong count, or a ``start_layer`` past the last stage (a network without
    any fusion that would still carry the fusion's name), is a ValueError."""
    layers = [int(n) for n in layers]
    if len(layers) != stages or min(layers) < 1:
        raise ValueError(f"{cls}: layers must be {stages} positive block counts, got {layers}")
    if not 1 <= start_layer <= len(layers):
        raise ValueError(f"{cls}: start_layer must be a stage from 1 to {len(layers)}, got {start_layer}")
    return layers


def _deep_stem(seq: nn.HybridSequential, in_channels: int, width: int, out_channels: int, stride: int) -> None:
    """conv3x3(stride) BN ReLU conv3x3 BN ReLU conv3x3 -> out_channels (no trailing BN)."""
    seq.add(nn.Conv2D(width, 3, stride, 1, use_bias=False, in_channels=in_channels))
    seq.add(nn.BatchNorm(in_channels=width))
    seq.add(nn.Activation("relu"))
    seq.add(nn.Conv2D(width, 3, 1, 1, use_bias=False, in_channels=width))
    seq.add(nn.BatchNorm(in_channels=width))
    seq.add(nn.Activation("relu"))
    seq.add(nn.Conv2D(out_channels, 3, 1, 1, use_bias=False, in_channels=width))


class AFFResNet(HybridBlock):
    """ImageNet AFF-ResNet, ResNet-50-D style (deep stem, average-pool projection shortcut).

    Parameters
    ----------
    fusion : str
        Fusion of residual and shortcut in stages >= ``start_layer``: ``'aff'``, ``'iaff'`` or ``'add'``.
    layers : sequence of 4 int
        Bottleneck blocks per stage ([3, 4, 6, 3] for 50 layers).
    start_layer : int
        First stage (1-4) that uses ``fusion``; earlier stages add plainly. The release used 3.
    classes : int
        Outputs of the classifier.
    last_gamma : bool
        Zero-initialise the last BN gamma of every bottleneck.
    deep_stem, stem_width, avg_down : ResNet-D options (the release: True, 32, True).
    final_drop : float
        Dropout before the classifier.
    fusion_r : int
        Channel reduction of the attention branches (the release: 16).
    """

    def __init__(self, fusion: str, layers: Sequence[int], start_layer: int = 3, classes: int = 1000,
                 last_gamma: bool = False, deep_stem: bool = True, stem_width: int = 32, avg_down: bool = True,
                 final_drop: float = 0.0, fusion_r: int = 16, in_channels: int = 3, **kwargs):
        super().__init__(**kwargs)
        fusion = canonical_fusion(fusion)
        layers = _check_layers(layers, 4, type(self).__name__, start_layer)
        inplanes = stem_width * 2 if deep_stem else 64
        with self.name_scope():
            if deep_stem:
                self.conv1 = nn.HybridSequential(prefix="")
                with self.conv1.name_scope():
                    _deep_stem(self.conv1, in_channels, stem_width, inplanes, stride=2)
            else:
                self.conv1 = nn.Conv2D(64, 7, 2, 3, use_bias=False, in_channels=in_channels)
            self.bn1 = nn.BatchNorm(in_channels=inplanes)
            self.maxpool = nn.MaxPool2D(pool_size=3, strides=2, padding=1)
            for index, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers), start=1):
                stage = nn.HybridSequential(prefix="")
                stage_fusion = _stage_fusion(fusion, index, start_layer)
                with stage.name_scope():
                    for b in range(blocks):
                        stride = 2 if (index > 1 and b == 0) else 1
                        downsample = b == 0 and (stride != 1 or inplanes != planes * Bottleneck.expansion)
                        stage.add(Bottleneck(stage_fusion, inplanes, planes, stride, downsample, avg_down,
                                             last_gamma, fusion_r))
                        inplanes = planes * Bottleneck.expansion
                setattr(self, "layer%d" % index, stage)
            self.avgpool = GlobalMean()
            self.drop = nn.Dropout(final_drop) if final_drop > 0 else None
            self.fc = nn.Dense(classes, in_units=inplanes)

    def hybrid_forward(self, F, x):
        x = self.maxpool(relu(F, self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = F.flatten(self.avgpool(x))
        if self.drop is not None:
            x = self.drop(x)
        return self.fc(x)


class AFFResNeXt(HybridBlock):
    """ImageNet AFF-ResNeXt (deep stem 64-64-128, average-pool projection shortcut in stages 2-4).

    ``last_gamma`` keeps the release's inverted meaning unless ``original_last_gamma=False``: the release's
    ResNeXt block zero-initialises the last BN gamma when ``last_gamma`` is False. Only the initialisation
    differs; parameter names are the same either way.
    """

    def __init__(self, fusion: str, layers: Sequence[int], cardinality: int = 32, bottleneck_width: int = 4,
                 start_layer: int = 3, classes: int = 1000, last_gamma: bool = False, deep_stem: bool = True,
                 stem_width: int = 64, avg_down: bool = True, fusion_r: int = 16, original_last_gamma: bool = True,
                 in_channels: int = 3, **kwargs):
        super().__init__(**kwargs)
        fusion = canonical_fusion(fusion)
        layers = _check_layers(layers, 4, type(self).__name__, start_layer)
        zero_gamma = zero_last_gamma(last_gamma, original_last_gamma)
        width = stem_width * 2 if deep_stem else 64
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            with self.features.name_scope():
                if deep_stem:
                    _deep_stem(self.features, in_channels, stem_width, width, stride=2)
                else:
                    self.features.add(nn.Conv2D(64, 7, 2, 3, use_bias=False, in_channels=in_channels))
                self.features.add(nn.BatchNorm(in_channels=width))
                self.features.add(nn.Activation("relu"))
                self.features.add(nn.MaxPool2D(3, 2, 1))
                channels = 64
                for index, blocks in enumerate(layers, start=1):
                    self.features.add(_resnext_stage(
                        _stage_fusion(fusion, index, start_layer), width, channels, blocks, cardinality,
                        bottleneck_width, stride=1 if index == 1 else 2, avg_down=avg_down and index > 1,
                        zero_gamma=zero_gamma, fusion_r=fusion_r))
                    width = channels * 4
                    channels *= 2
                self.features.add(GlobalMean())
            self.output = nn.Dense(classes, in_units=width)

    def hybrid_forward(self, F, x):
        return self.output(self.features(x))


def _resnext_stage(fusion: str, in_channels: int, channels: int, blocks: int, cardinality: int,
                   bottleneck_width: int, stride: int, avg_down: bool, zero_gamma: bool,
                   fusion_r: int) -> nn.HybridSequential:
    stage = nn.HybridSequential(prefix="")
    with stage.name_scope():
        for b in range(blocks):
            stage.add(ResNeXtBlock(fusion, in_channels if b == 0 else channels * 4, channels, cardinality,
                                   bottleneck_width, stride=stride if b == 0 else 1, downsample=b == 0,
                                   avg_down=avg_down, zero_gamma=zero_gamma, fusion_r=fusion_r))
    return stage


def _cifar_widths(channels: Union[int, Sequence[int]], stages: int) -> List[int]:
    """[stem, stage1, ..., stageN]; an int c means [c, c, 2c, 4c, ...]."""
    if isinstance(channels, int):
        return [channels] + [channels * 2 ** i for i in range(stages)]
    widths = [int(c) for c in channels]
    if len(widths) != stages + 1:
        raise ValueError(f"channels must list the stem width and {stages} stage widths, got {widths}")
    return widths


class CIFARAFFResNet(HybridBlock):
    """CIFAR pre-activation AFF-ResNet (input BN without scale and centre, avg-pool + 1x1 conv shortcut).

    ``channels`` = [stem, stage1, stage2, stage3] (the release's ResNet-32: blocks 5, [64, 64, 128, 256]).
    """

    def __init__(self, fusion: str, layers: Sequence[int], channels: Union[int, Sequence[int]],
                 start_layer: int = 1, classes: int = 10, deep_stem: bool = False, fusion_r: int = 4,
                 in_channels: int = 3, **kwargs):
        super().__init__(**kwargs)
        fusion = canonical_fusion(fusion)
        layers = _check_layers(layers, len(layers) or 1, type(self).__name__, start_layer)
        widths = _cifar_widths(channels, len(layers))
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            with self.features.name_scope():
                self.features.add(nn.BatchNorm(scale=False, center=False, in_channels=in_channels))
                if deep_stem:
                    _deep_stem(self.features, in_channels, widths[0] // 2, widths[0], stride=1)
                else:
                    self.features.add(nn.Conv2D(widths[0], 3, 1, 1, use_bias=False, in_channels=in_channels))
                inplanes = widths[0]
                for index, (width, blocks) in enumerate(zip(widths[1:], layers), start=1):
                    stage = nn.HybridSequential(prefix="")
                    stage_fusion = _stage_fusion(fusion, index, start_layer)
                    with stage.name_scope():
                        for b in range(blocks):
                            stride = 2 if (index > 1 and b == 0) else 1
                            stage.add(PreActBasicBlock(stage_fusion, inplanes, width, stride, fusion_r))
                            inplanes = width
                    self.features.add(stage)
                self.features.add(nn.BatchNorm(in_channels=inplanes))
                self.features.add(nn.Activation("relu"))
                self.features.add(GlobalMean())
                self.features.add(nn.Flatten())
            self.output = nn.Dense(classes, in_units=inplanes)

    def hybrid_forward(self, F, x):
        return self.output(self.features(x))


class CIFARAFFResNeXt(HybridBlock):
    """CIFAR AFF-ResNeXt: 3x3 stem, bottleneck ResNeXt stages with average-pool projection shortcuts.

    ``channels`` is the stem width (int: stage widths c, 2c, 4c) or [stem, stage1, stage2, stage3]; stage
    outputs are 4x the stage width. See :class:`AFFResNeXt` for ``last_gamma``.
    """

    def __init__(self, fusion: str, layers: Sequence[int], channels: Union[int, Sequence[int]] = 64,
                 cardinality: int = 32, bottleneck_width: int = 4, start_layer: int = 1, classes: int = 10,
                 deep_stem: bool = False, fusion_r: int = 16, last_gamma: bool = False,
                 original_last_gamma: bool = True, in_channels: int = 3, **kwargs):
        super().__init__(**kwargs)
        fusion = canonical_fusion(fusion)
        layers = _check_layers(layers, len(layers) or 1, type(self).__name__, start_layer)
        widths = _cifar_widths(channels, len(layers))
        zero_gamma = zero_last_gamma(last_gamma, original_last_gamma)
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            with self.features.name_scope():
                if deep_stem:
                    _deep_stem(self.features, in_channels, widths[0] // 2, widths[0], stride=1)
                else:
                    self.features.add(nn.Conv2D(widths[0], 3, 1, 1, use_bias=False, in_channels=in_channels))
                self.features.add(nn.BatchNorm(in_channels=widths[0]))
                self.features.add(nn.Activation("relu"))
                inplanes = widths[0]
                for index, (width, blocks) in enumerate(zip(widths[1:], layers), start=1):
                    self.features.add(_resnext_stage(
                        _stage_fusion(fusion, index, start_layer), inplanes, width, blocks, cardinality,
                        bottleneck_width, stride=1 if index == 1 else 2, avg_down=True, zero_gamma=zero_gamma,
                        fusion_r=fusion_r))
                    inplanes = width * 4
                self.features.add(GlobalMean())
            self.output = nn.Dense(classes, in_units=inplanes)

    def hybrid_forward(self, F, x):
        return self.output(self.features(x))
