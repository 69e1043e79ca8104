"""The paper's published results, as data (the README's model table is built from them by the engine).

ImageNet: top-1 error (%) on the 50k validation images, 224 centre crop. The release's own numbers come from the
table of released checkpoints (``afflib/core/released.json``): CIFAR-100 accuracy on the 100 fine labels where the
release's logs have it, and on the 20 coarse superclasses (every CIFAR number of the paper, and the release
README's withdrawn CIFAR table, is coarse-label accuracy).
"""
from __future__ import annotations

from typing import Dict, List

from .released import get_table

__all__ = ["PAPER_TOP1_ERR", "TABLE_MODELS", "published_results"]

PAPER_TOP1_ERR: Dict[str, float] = {"aff_resnet50": 20.9, "iaff_resnet50": 20.4, "aff_resnext50_32x4d": 20.8,
                                    "iaff_resnext50_32x4d": 20.2}


def published_results(name: str) -> Dict[str, float]:
    """Paper and release numbers of a registry model: keys paper_top1_err, imagenet, cifar100-fine, cifar100-coarse."""
    results = {"paper_top1_err": PAPER_TOP1_ERR[name]} if name in PAPER_TOP1_ERR else {}
    for entry in get_table().files:
        if entry.model == name:
            results[entry.labels] = entry.published
    return results

TABLE_MODELS: List[str] = [
    "add_resnet50", "aff_resnet50", "iaff_resnet50",
    "add_resnext50_32x4d", "aff_resnext50_32x4d", "iaff_resnext50_32x4d",
    "cifar_add_resnet32", "cifar_aff_resnet32", "cifar_iaff_resnet32",
    "cifar_aff_resnext38_32x4d", "cifar_aff_resnext47_32x4d",
]
