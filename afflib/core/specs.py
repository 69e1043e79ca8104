"""Framework-free model tables shared by the MXNet networks and their PyTorch twins: the registry entries.

Importing this module needs neither MXNet nor torch, so ``afflib_torch`` can use it in its own environment.
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

from .fusion import FUSION_ALIASES, RELEASE_NAMES, canonical_fusion, default_r

__all__ = ["FUSION_ALIASES", "RELEASE_NAMES", "canonical_fusion", "MODEL_SPECS"]  # fusion names: .fusion

# The forms that have registry names (the release's); the catalogue (.fusion) may hold more.
FUSIONS = ("aff", "iaff", "add")
RESNET_DEPTHS = {50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}
# ResNet-18/34 of basic blocks (not in the release: no released weights), with the release's ResNet-D stem,
# shortcut and fusion placement. Their entries name the catalogue's r of a basic block (4: the attention width of
# the bottleneck's r = 16, see docs/models.md), which the classes' fusion_r=16 (the bottleneck's) would override.
BASIC_RESNET_DEPTHS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3]}
RESNEXT_VARIANTS = {"50_32x4d": ([3, 4, 6, 3], 32, 4), "101_32x4d": ([3, 4, 23, 3], 32, 4),
                    "101_64x4d": ([3, 4, 23, 3], 64, 4), "152_32x4d": ([3, 8, 36, 3], 32, 4)}
CIFAR_RESNET_DEPTHS = {20: 3, 32: 5, 56: 9, 110: 18}       # depth = 6 * blocks + 2
CIFAR_RESNEXT_DEPTHS = {29: 3, 38: 4, 47: 5}               # depth = 9 * blocks + 2
CIFAR_WIDTHS = [64, 64, 128, 256]                          # the release's channel_times 4
# The paper's same-layer ablation host, Inception-ResNet-20-b (afflib.core.ablation.inception_resnet_plan): b = 1..4
# blocks per stage, depth 6b + 2. No released weights; any fusion form through fusion= (the names hold the release's).
CIFAR_INCEPTION_DEPTHS = {8: 1, 14: 2, 20: 3, 26: 4}
# The paper's long-skip host, ResNet-20-b + FPN (afflib.core.fpn.cifar_fpn_plan): b = 1..4, depth 6b + 2, defaults for
# the generated Fashion-MNIST scenes (1 channel, 10 garments + background); the ImageNet-backbone variant's backbone
# is the release's ResNet-50 (its checkpoints load into it), 21 classes (Pascal VOC) by default.
CIFAR_FPN_DEPTHS = {8: 1, 14: 2, 20: 3, 26: 4}
FPN_WIDTHS = [16, 16, 32, 64]


def _model_specs() -> Dict[str, Tuple[str, Dict[str, Any]]]:
    specs: Dict[str, Tuple[str, Dict[str, Any]]] = {}
    for fusion in FUSIONS:
        for depth, layers in RESNET_DEPTHS.items():
            specs[f"{fusion}_resnet{depth}"] = ("AFFResNet", dict(
                fusion=fusion, layers=layers, start_layer=3, classes=1000))
        for depth, layers in BASIC_RESNET_DEPTHS.items():
            specs[f"{fusion}_resnet{depth}"] = ("AFFResNet", dict(
                fusion=fusion, layers=layers, block="basic", fusion_r=default_r("aff", "basic"), start_layer=3,
                classes=1000))
        for variant, (layers, cardinality, width) in RESNEXT_VARIANTS.items():
            specs[f"{fusion}_resnext{variant}"] = ("AFFResNeXt", dict(
                fusion=fusion, layers=layers, cardinality=cardinality, bottleneck_width=width, start_layer=3,
                classes=1000))
        for depth, blocks in CIFAR_RESNET_DEPTHS.items():
            specs[f"cifar_{fusion}_resnet{depth}"] = ("CIFARAFFResNet", dict(
                fusion=fusion, layers=[blocks] * 3, channels=CIFAR_WIDTHS, start_layer=1, classes=100))
        for depth, blocks in CIFAR_RESNEXT_DEPTHS.items():
            specs[f"cifar_{fusion}_resnext{depth}_32x4d"] = ("CIFARAFFResNeXt", dict(
                fusion=fusion, layers=[blocks] * 3, channels=CIFAR_WIDTHS, cardinality=32, bottleneck_width=4,
                start_layer=1, classes=100))
        for depth, blocks in CIFAR_INCEPTION_DEPTHS.items():
            specs[f"cifar_{fusion}_inception_resnet{depth}"] = ("CIFARInceptionResNet", dict(
                fusion=fusion, layers=[blocks] * 3, channels=CIFAR_WIDTHS, start_layer=1, classes=100))
        for depth, blocks in CIFAR_FPN_DEPTHS.items():
            specs[f"cifar_{fusion}_fpn{depth}"] = ("CIFARFPN", dict(
                fusion=fusion, layers=[blocks] * 3, channels=FPN_WIDTHS, in_channels=1, classes=11))
        specs[f"{fusion}_resnet50_fpn"] = ("AFFResNetFPN", dict(
            fusion=fusion, backbone_fusion=fusion, layers=RESNET_DEPTHS[50], classes=21))
    return specs


# Registry name -> (network class name, constructor arguments). CIFAR entries default to the 100 outputs of the
# released CIFAR-100 checkpoints, ImageNet entries to 1000.
MODEL_SPECS: Dict[str, Tuple[str, Dict[str, Any]]] = _model_specs()
