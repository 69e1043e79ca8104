"""The README's model table: registry entries measured by the MXNet engine next to their published numbers."""
from __future__ import annotations

from typing import List, Optional

from afflib.core.published import TABLE_MODELS, published_results

from .registry import get_model, model_spec
from .summary import summarize

__all__ = ["model_table"]


def _fmt(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:.2f}"


def model_table(models: List[str] = TABLE_MODELS) -> str:
    """Markdown table: name, fusion, trainable parameters, GMACs and published numbers, built from the registry."""
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
