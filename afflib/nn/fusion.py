"""Fusion modules of Attentional Feature Fusion: MS-CAM, AFF, iAFF and plain addition.

Every fusion block has the contract ``fuse(x, y) -> z`` with ``z`` of the same shape as ``x``. In a
residual block ``x`` is the residual-branch output and ``y`` the shortcut. Child names (``local_att``,
``global_att``, ``local_att2``, ``global_att2``) are those of the original release, so released
``.params`` files load without renaming.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple, Type, Union

import mxnet as mx
from mxnet.gluon import HybridBlock, nn

from afflib.core.fusion import (FORMS, FUSION_ALIASES, MS_CAM, Branch, attention_channels, attention_pairs,
                                canonical_fusion, check_inputs, fusion_form)

__all__ = ["MSCAM", "AFF", "IAFF", "DirectAdd", "FUSION_ALIASES", "canonical_fusion", "get_fusion", "build_fusion",
           "register_fusion"]


def spatial_ones(F, x):
    """A constant ``(1, H*W)`` row of ones for ``x`` of shape (N, C, H, W), built inside the graph."""
    corner = F.slice(x, begin=(0, 0, 0, 0), end=(1, 1, None, None))
    return F.BlockGrad(F.ones_like(corner).reshape((1, -1)))


def spatial_mean(F, x, ones=None):
    """Mean over H, W as a matrix-vector product (N*C rows of H*W) -> (N, C, 1, 1).

    On CPU this GEMV and its backward (an outer product) are several times faster than ``mean`` (a generic
    reduction) or global ``Pooling`` (whose oneDNN backward is pathologically slow in training).
    """
    ones = spatial_ones(F, x) if ones is None else ones
    weight = F.broadcast_div(ones, F.sum(ones))
    pooled = F.FullyConnected(x.reshape((0, 0, -1)), weight, no_bias=True, num_hidden=1, flatten=False)
    return pooled.reshape((0, 0, 1, 1))


def spatial_broadcast(F, g, ones, like):
    """``g`` of shape (N, C, 1, 1) repeated over the H, W of ``like``, as an outer product with ``ones``.

    The backward of ``broadcast_add`` reduces with a slow generic kernel; this one is a GEMV.
    """
    return F.dot(g.reshape((-1, 1)), ones).reshape_like(like)


class GlobalMean(HybridBlock):
    """Global average pooling that keeps dims, computed by :func:`spatial_mean` (fast forward and backward)."""

    def hybrid_forward(self, F, x):
        return spatial_mean(F, x)


def _context_branch(channels: int, inter_channels: int, pooled: bool) -> nn.HybridSequential:
    """conv1x1 C->C/r, BN, ReLU, conv1x1 C/r->C, BN; preceded by a global pool for the global context."""
    branch = nn.HybridSequential(prefix="")
    with branch.name_scope():
        if pooled:
            branch.add(GlobalMean())
        branch.add(nn.Conv2D(inter_channels, kernel_size=1, in_channels=channels))
        branch.add(nn.BatchNorm(in_channels=inter_channels))
        branch.add(nn.Activation("relu"))
        branch.add(nn.Conv2D(channels, kernel_size=1, in_channels=inter_channels))
        branch.add(nn.BatchNorm(in_channels=channels))
    return branch


class _Fusion(HybridBlock):
    """Shared checks (:func:`afflib.core.fusion.check_inputs`): equal shapes and the module's channel count."""

    channels: Optional[int] = None

    def forward(self, x, *args):  # noqa: D102 - checks happen only on concrete arrays, not symbols
        if isinstance(x, mx.nd.NDArray):
            check_inputs(type(self).__name__, self.channels, [x.shape] + [other.shape for other in args])
        return super().forward(x, *args)


class _ContextAttention(_Fusion):
    """Holds the context branches of a catalogue layout, created in its order under the release's names."""

    def __init__(self, channels: int, r: int, branches: Sequence[Branch], **kwargs):
        super().__init__(**kwargs)
        inter = attention_channels(channels, r)
        self.channels = channels
        self.r = r
        self._pair_names = attention_pairs(branches)
        with self.name_scope():
            for branch in branches:
                setattr(self, branch.name, _context_branch(channels, inter, branch.pooled))

    def _pairs(self) -> List[Tuple[HybridBlock, HybridBlock]]:
        """The (local, global) branch pairs, one per attention map."""
        return [(getattr(self, local), getattr(self, glob)) for local, glob in self._pair_names]

    @staticmethod
    def _weights(F, local_att, global_att, x):
        """M(x) = sigmoid(L(x) + g(x)), the MS-CAM attention map (g repeated over H, W)."""
        local = local_att(x)
        logits = local + spatial_broadcast(F, global_att(x), spatial_ones(F, x), local)
        return F.Activation(logits, act_type="sigmoid")


class MSCAM(_ContextAttention):
    """Multi-scale channel attention module: refines ``x`` into ``x * M(x)``.

    Parameters
    ----------
    channels : int
        Channels of the input.
    r : int
        Channel reduction ratio of the two context branches.
    return_weights : bool
        Return the attention map ``M(x)`` instead of the refined feature.
    """

    def __init__(self, channels: int, r: int = 4, return_weights: bool = False, **kwargs):
        super().__init__(channels, r, MS_CAM, **kwargs)
        self.return_weights = return_weights

    def hybrid_forward(self, F, x):
        weights = self._weights(F, self.local_att, self.global_att, x)
        return weights if self.return_weights else x * weights


class _SoftBlend(_ContextAttention):
    """A catalogue form with the soft blend: ``scale * (y + M * (x - y))``, the first map M read from ``x + y``,
    each further one from the previous blend (``FORM`` names the row: its branches, iterations and scale)."""

    FORM = ""

    def __init__(self, channels: int, r: int = 4, **kwargs):
        super().__init__(channels, r, FORMS[self.FORM].branches, **kwargs)

    def hybrid_forward(self, F, x, y):
        diff = x - y
        mixed = x + y
        for local_att, global_att in self._pairs():
            mixed = y + self._weights(F, local_att, global_att, mixed) * diff
        scale = FORMS[self.FORM].scale
        return scale * mixed if scale != 1 else mixed


class AFF(_SoftBlend):
    """Attentional feature fusion (release name ``ASKCFuse``): ``2 * (M*x + (1-M)*y)``, ``M = MS-CAM(x + y)``.

    The factor 2 is in the released code and checkpoints (not in the paper's equation): it keeps the total
    weight at 2, like ``x + y``.
    """

    FORM = "aff"


class IAFF(_SoftBlend):
    """Iterative AFF (release name ``ResGlobLocaforGlobLocaCha``): a second MS-CAM, with its own pair of
    context branches, on the first fusion's result; no factor 2."""

    FORM = "iaff"


class DirectAdd(_Fusion):
    """Plain addition ``x + y``: the baseline of identical topology (release name ``DirectAdd``)."""

    def __init__(self, channels: Optional[int] = None, r: Optional[int] = None, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels

    def hybrid_forward(self, F, x, y):
        return x + y


# Each catalogue form's implementation, found by the row's class_name.
_IMPLEMENTATIONS: Dict[str, Type[HybridBlock]] = {cls.__name__: cls for cls in (AFF, IAFF, DirectAdd)}


def register_fusion(cls: Type[HybridBlock]) -> Type[HybridBlock]:
    """Let :func:`get_fusion` build ``cls`` for the catalogue row whose class_name is its name (afflib.nn.forms)."""
    _IMPLEMENTATIONS[cls.__name__] = cls
    return cls


def get_fusion(name: str, channels: int, r: int = 4, **kwargs) -> HybridBlock:
    """Build the fusion block called ``name`` (paper or release name) for ``channels`` channels."""
    return _IMPLEMENTATIONS[fusion_form(name).class_name](channels=channels, r=r, **kwargs)


def build_fusion(fusion: Union[str, Callable[[int, int], HybridBlock]], channels: int, r: int) -> HybridBlock:
    """A block plan's fusion: a form name through :func:`get_fusion`, or a factory called as ``(channels, r)``."""
    return fusion(channels, r) if callable(fusion) else get_fusion(fusion, channels, r=r)
