"""The "textbook" AFF networks: afflib's topology with fusion modules written the straightforward way.

This is the benchmark's yardstick (``afflib-benchmark --baseline textbook``), not a model of the registry: MS-CAM
built from ``nn.GlobalAvgPool2D``, ``nn.Activation('sigmoid')`` and ``broadcast_*`` arithmetic, as most Gluon code
writes attention. It computes the same function with the same parameter names as afflib's fusion modules, so
``textbook:<model>`` in the benchmark shows what afflib's implementation gains.
"""
from __future__ import annotations

from typing import Any, Callable

from mxnet.gluon import HybridBlock, nn

from afflib.nn import DirectAdd, canonical_fusion

from .registry import get_model, model_spec

__all__ = ["TextbookAFF", "TextbookIAFF", "textbook_fusion", "textbook_factory", "build_textbook_model"]


def _branch(channels: int, inter_channels: int, pooled: bool) -> nn.HybridSequential:
    branch = nn.HybridSequential(prefix="")
    with branch.name_scope():
        if pooled:
            branch.add(nn.GlobalAvgPool2D())
        branch.add(nn.Conv2D(inter_channels, kernel_size=1, in_channels=channels))
        branch.add(nn.BatchNorm(in_channels=inter_channels))
        branch.add(nn.Activation("relu"))
        branch.add(nn.Conv2D(channels, kernel_size=1, in_channels=inter_channels))
        branch.add(nn.BatchNorm(in_channels=channels))
    return branch


class _TextbookAttention(HybridBlock):
    def __init__(self, channels: int, r: int, pairs: int, **kwargs: Any):
        super().__init__(**kwargs)
        inter = channels // r
        with self.name_scope():
            self.local_att = _branch(channels, inter, pooled=False)
            self.global_att = _branch(channels, inter, pooled=True)
            if pairs == 2:
                self.local_att2 = _branch(channels, inter, pooled=False)
                self.global_att2 = _branch(channels, inter, pooled=True)
            self.sig = nn.Activation("sigmoid")


class TextbookAFF(_TextbookAttention):
    """``2*x*M + 2*y*(1-M)`` with ``M = sigmoid(L(x+y) (+) G(x+y))``."""

    def __init__(self, channels: int, r: int = 4, **kwargs: Any):
        super().__init__(channels, r, pairs=1, **kwargs)

    def hybrid_forward(self, F, x, y):
        mixed = x + y
        weights = self.sig(F.broadcast_add(self.local_att(mixed), self.global_att(mixed)))
        return 2 * F.broadcast_mul(x, weights) + 2 * F.broadcast_mul(y, 1 - weights)


class TextbookIAFF(_TextbookAttention):
    """Two MS-CAM stages: the first fusion's result feeds the second attention."""

    def __init__(self, channels: int, r: int = 4, **kwargs: Any):
        super().__init__(channels, r, pairs=2, **kwargs)

    def hybrid_forward(self, F, x, y):
        mixed = x + y
        weights = self.sig(F.broadcast_add(self.local_att(mixed), self.global_att(mixed)))
        initial = F.broadcast_mul(x, weights) + F.broadcast_mul(y, 1 - weights)
        weights2 = self.sig(F.broadcast_add(self.local_att2(initial), self.global_att2(initial)))
        return F.broadcast_mul(x, weights2) + F.broadcast_mul(y, 1 - weights2)


def textbook_fusion(name: str, channels: int, r: int = 4, **kwargs: Any) -> HybridBlock:
    """Drop-in for :func:`afflib.nn.get_fusion` that builds the textbook modules."""
    kind = canonical_fusion(name)
    if kind == "add":
        return DirectAdd(channels=channels, r=r, **kwargs)
    return (TextbookAFF if kind == "aff" else TextbookIAFF)(channels, r=r, **kwargs)


def textbook_factory(name: str) -> Callable[[int, int], HybridBlock]:
    """The network ``fusion`` argument that builds fusion ``name`` in its textbook form: a factory
    ``(channels, r) -> block`` (networks take one in place of a name)."""
    kind = canonical_fusion(name)
    return lambda channels, r: textbook_fusion(kind, channels, r=r)


def build_textbook_model(name: str, **kwargs: Any) -> HybridBlock:
    """``afflib.get_model(name, **kwargs)`` with every fusion block replaced by its textbook form (stages below
    ``start_layer`` keep the plain addition, as in afflib's networks)."""
    _, args = model_spec(name)
    fusion = kwargs.pop("fusion", args.get("fusion", "aff"))
    return get_model(name, fusion=textbook_factory(fusion), **kwargs)
