"""Per-layer summary of a network: output shapes, parameters and multiply-accumulates (MACs).

MACs count convolutions and dense layers (the convention behind "4.1 GFLOPs" for ResNet-50); element-wise work
(BatchNorm, activations, the fusion blend) is not counted.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Dict, Iterator, List, Sequence, Tuple

import mxnet as mx
import numpy as np
from mxnet.gluon import Block, HybridBlock, nn

__all__ = ["LayerRow", "Summary", "summarize", "format_summary", "count_parameters"]


@dataclass
class LayerRow:
    name: str
    kind: str
    output_shape: Tuple[int, ...]
    params: int
    macs: int


@dataclass
class Summary:
    rows: List[LayerRow]              # leaf layers in execution order
    groups: Dict[str, LayerRow]       # container blocks by path (their output shapes)
    trainable_params: int
    all_params: int
    macs: int


def count_parameters(net: Block) -> Tuple[int, int]:
    """(trainable, all) parameter counts; BatchNorm running statistics are not trainable."""
    trainable = total = 0
    for name, param in net._collect_params_with_prefix().items():
        size = int(np.prod(param.shape))
        total += size
        if not name.endswith(("running_mean", "running_var")):
            trainable += size
    return trainable, total


def _block_paths(block: Block, prefix: str = "") -> Dict[int, Tuple[str, Block]]:
    """Every block below ``block`` (itself excluded) by id -> (structural path, block)."""
    found = {}
    for key, child in block._children.items():
        path = f"{prefix}.{key}" if prefix else key
        found[id(child)] = (path, child)
        found.update(_block_paths(child, path))
    return found


def _macs(block: Block, inputs, output) -> int:
    per_sample_out = int(np.prod(output.shape[1:]))
    if isinstance(block, nn.Conv2D):
        weight = block.weight.shape  # (out, in/groups, kh, kw)
        return per_sample_out * int(np.prod(weight[1:]))
    if isinstance(block, nn.Dense):
        return int(np.prod(block.weight.shape))
    return 0


@contextmanager
def _imperative(net: Block) -> Iterator[None]:
    """Run ``net`` imperatively inside the block, hybridized or not, so that every child's forward hook fires
    on NDArrays (a hybridized block calls its children with Symbols, or not at all once its graph is cached).
    Each block's hybridization flag is restored afterwards; a cached graph stays valid and is kept."""
    blocks = [net] + [block for _, block in _block_paths(net).values()]
    saved = [(block, block._active) for block in blocks if isinstance(block, HybridBlock)]
    for block, _ in saved:
        block._active = False
    try:
        yield
    finally:
        for block, active in saved:
            block._active = active


def summarize(net: Block, input_shape: Sequence[int]) -> Summary:
    """Run one imperative forward pass of a zero batch of ``input_shape`` and collect per-leaf statistics.

    A hybridized network is summarised as its imperative twin (same table) and stays hybridized."""
    blocks = _block_paths(net)
    records: Dict[int, LayerRow] = {}
    order: List[int] = []
    handles = []

    def hook(block, inputs, output):
        key = id(block)
        name, _ = blocks[key]
        out = output[0] if isinstance(output, (list, tuple)) else output
        params = sum(int(np.prod(p.shape)) for p in block.collect_params().values())
        if key not in records:
            order.append(key)
        records[key] = LayerRow(name, type(block).__name__, tuple(out.shape), params, _macs(block, inputs, out))

    for _, block in blocks.values():
        handles.append(block.register_forward_hook(hook))
    try:
        if any(p._data is None and p._deferred_init for p in net.collect_params().values()):
            raise RuntimeError("initialise the network before summarising it")
        with _imperative(net):
            net(mx.nd.zeros(tuple(input_shape)))
    finally:
        for handle in handles:
            handle.detach()
    leaves = [records[k] for k in order if not blocks[k][1]._children]
    groups = {records[k].name: records[k] for k in order if blocks[k][1]._children}
    trainable, total = count_parameters(net)
    return Summary(leaves, groups, trainable, total, sum(r.macs for r in leaves))


def format_summary(summary: Summary, depth: int = 0) -> str:
    """A text table; ``depth > 0`` aggregates rows by the first ``depth`` components of their names."""
    rows = summary.rows
    if depth > 0:
        merged: Dict[str, LayerRow] = {}
        for row in rows:
            key = ".".join(row.name.split(".")[:depth])
            if key in merged:
                m = merged[key]
                merged[key] = LayerRow(key, m.kind, m.output_shape, m.params + row.params, m.macs + row.macs)
            else:
                group = summary.groups.get(key)
                merged[key] = LayerRow(key, group.kind if group else row.kind,
                                       group.output_shape if group else row.output_shape, row.params, row.macs)
        rows = list(merged.values())
    width = max([len(r.name) for r in rows] + [5])
    lines = [f"{'layer':<{width}}  {'type':<16} {'output shape':<22} {'params':>12} {'MACs':>15}",
             "-" * (width + 70)]
    for r in rows:
        lines.append(f"{r.name:<{width}}  {r.kind:<16} {str(r.output_shape):<22} {r.params:>12,} {r.macs:>15,}")
    lines.append("-" * (width + 70))
    lines.append(f"trainable parameters: {summary.trainable_params:,} ({summary.trainable_params / 1e6:.2f} M)")
    lines.append(f"all parameters:       {summary.all_params:,} ({summary.all_params / 1e6:.2f} M)")
    lines.append(f"multiply-accumulates: {summary.macs:,} ({summary.macs / 1e9:.3f} G per image)")
    return "\n".join(lines)
