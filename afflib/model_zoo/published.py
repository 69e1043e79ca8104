"""The paper's published results, as data, and the README's model table.

ImageNet: top-1 error (%) on the 50k validation images, 224 centre crop. The release's own numbers come from the
table of released checkpoints (``params/released.json``): CIFAR-100 accuracy on the 100 fine labels where the
release's logs have it, and on the 20 coarse superclasses (every CIFAR number of the paper, and the release
README's withdrawn CIFAR table, is coarse-label accuracy).
"""
from __future__ import annotations

from typing import Dict, List, Optional

__all__ = ["PAPER_TOP1_ERR", "TABLE_MODELS", "published_results", "model_table"]

PAPER_TOP1_ERR: Dict[str, float] = {"aff_resnet50": 20.9, "iaff_resnet50": 20.4, "aff_resnext50_32x4d": 20.8,
                                    "iaff_resnext50_32x4d": 20.2}


def published_results(name: str) -> Dict[str, float]:
    """Paper and release numbers of a registry model: keys paper_top1_err, imagenet, cifar100-fine, cifar100-coarse."""
    from .released import get_table

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


def _fmt(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:.2f}"


def model_table(models: List[str] = TABLE_MODELS) -> str:
    """Markdown table: name, fusion, trainable parameters, GMACs and published numbers, built from the registry."""
    from .registry import get_model, model_spec
    from .summary import summarize

    lines = ["| model | fusion | params (M) | GMACs | input | ImageNet top-1 err: paper / release | "
             "CIFAR-100 acc: fine / coarse |",
             "|---|---|---|---|---|---|---|"]
    for name in models:
        _, defaults = model_spec(name)
        size = 32 if name.startswith("cifar_") else 224
        net = get_model(name)
        net.initialize()
        summary = summarize(net, (1, 3, size, size))
        pub = published_results(name)
        imagenet = (f"{_fmt(pub.get('paper_top1_err'))} / {_fmt(pub.get('imagenet'))}"
                    if not name.startswith("cifar_") else "")
        cifar = (f"{_fmt(pub.get('cifar100-fine'))} / {_fmt(pub.get('cifar100-coarse'))}"
                 if name.startswith("cifar_") else "")
        lines.append(f"| `{name}` | {defaults['fusion']} | {summary.trainable_params / 1e6:.2f} | "
                     f"{summary.macs / 1e9:.2f} | {size} | {imagenet} | {cifar} |")
    return "\n".join(lines)
