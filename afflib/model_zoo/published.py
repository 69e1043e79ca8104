"""Published results of the paper and of the original release, as data, and the README's model table.

ImageNet: top-1 error (%) on the 50k validation images, 224 centre crop. CIFAR-100: accuracy (%), on the 100
fine labels where the release's logs have it, and on the 20 coarse superclasses (every CIFAR number of the
paper, and the release README's withdrawn CIFAR table, is coarse-label accuracy).
"""
from __future__ import annotations

from typing import Dict, List, Optional

__all__ = ["PUBLISHED", "TABLE_MODELS", "model_table"]

PUBLISHED: Dict[str, Dict[str, float]] = {
    "aff_resnet50": {"paper_top1_err": 20.9, "release_top1_err": 20.28},
    "iaff_resnet50": {"paper_top1_err": 20.4, "release_top1_err": 20.22},
    "aff_resnext50_32x4d": {"paper_top1_err": 20.8, "release_top1_err": 20.28},
    "iaff_resnext50_32x4d": {"paper_top1_err": 20.2, "release_top1_err": 19.78},
    "cifar_aff_resnet32": {"fine_acc": 83.57, "coarse_acc": 90.78},
    "cifar_aff_resnext38_32x4d": {"coarse_acc": 91.23},
    "cifar_aff_resnext47_32x4d": {"fine_acc": 85.38, "coarse_acc": 91.84},
}

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
        pub = PUBLISHED.get(name, {})
        imagenet = (f"{_fmt(pub.get('paper_top1_err'))} / {_fmt(pub.get('release_top1_err'))}"
                    if not name.startswith("cifar_") else "")
        cifar = (f"{_fmt(pub.get('fine_acc'))} / {_fmt(pub.get('coarse_acc'))}" if name.startswith("cifar_") else "")
        lines.append(f"| `{name}` | {defaults['fusion']} | {summary.trainable_params / 1e6:.2f} | "
                     f"{summary.macs / 1e9:.2f} | {size} | {imagenet} | {cifar} |")
    return "\n".join(lines)
