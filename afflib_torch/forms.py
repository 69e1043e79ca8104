"""PyTorch twins of the paper's ablation fusion forms (``afflib.nn.forms``): concat, MS-GAU, MS-SE, MS-SA, SK and
the AFF variants of Tables 3 and 6, one small class per catalogue row (:mod:`afflib.core.fusion`).

Importing this module registers them with :func:`afflib_torch.fusion.get_fusion`; its :func:`get_fusion` and
:func:`build_fusion` are those functions, so networks that build their fusion through this module accept every
catalogue form by name. Child names and indices equal the MXNet blocks', so ``afflib_torch.convert`` maps the
parameters both ways. ``fuse(x, y)``: ``x`` the residual branch (the paper's Y), ``y`` the shortcut (X).
"""
from __future__ import annotations

from typing import Callable, Dict

import torch
from torch import Tensor, nn

from afflib.core.fusion import FORMS, FusionForm, attention_channels
from .fusion import _context_branch, _Fusion, build_fusion, get_fusion, register_fusion

__all__ = ["CatalogueForm", "Concat", "MSGAU", "MSSE", "MSSA", "SK", "AFFGlobalGlobal", "AFFLocalLocal", "HalfAFF",
           "ConcatAFF", "RecursiveAFF", "BLENDS", "get_fusion", "build_fusion"]

# How each blend joins x (residual, the paper's Y) and y (shortcut, the paper's X) with the map M.
BLENDS: Dict[str, Callable[[Tensor, Tensor, Tensor], Tensor]] = {
    "soft": lambda x, y, m: y + m * (x - y),
    "select": lambda x, y, m: x + m * (y - x),
    "gate-shortcut": lambda x, y, m: x + m * y,
    "gate-residual": lambda x, y, m: y + m * x,
}


class CatalogueForm(_Fusion):
    """A fusion form built from its catalogue row ``FORM`` (as :class:`afflib.nn.forms.CatalogueForm`)."""

    FORM = ""

    def __init__(self, channels: int, r: int = 4):
        super().__init__()
        row = FORMS[self.FORM]
        self.channels, self.r = channels, r
        if row.attended:
            inter = attention_channels(channels, r)
            for branch in row.branches:
                setattr(self, branch.name, _context_branch(channels, inter, branch.pooled))
        for conv in row.extra:
            setattr(self, conv.name, nn.Conv2d(conv.in_factor * channels, conv.out_factor * channels, 1,
                                               bias=conv.bias))

    def _logits(self, row: FusionForm, z: Tensor) -> Tensor:
        """The attention map's logits from ``z`` as the row aggregates its context branches."""
        if row.aggregate == "recursive":
            local, glob = self.local_att(z), self.global_att(z)
            joined = local + glob
            inner = torch.sigmoid(self.local_att2(joined) + self.global_att2(joined))
            return glob + inner * (local - glob)
        outputs = [getattr(self, branch.name)(z) for branch in row.branches]
        if row.aggregate == "concat":
            local, glob = outputs
            return self.post(torch.cat([local, glob.expand_as(local)], dim=1))
        logits = outputs[0]
        for other in outputs[1:]:
            logits = logits + other
        return 0.5 * logits if row.aggregate == "half" else logits

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        self._check(x, y)
        row = FORMS[self.FORM]
        if row.blend == "linear":
            return self.fuse(torch.cat([x, y], dim=1))
        weights = torch.sigmoid(self._logits(row, x if row.attention_input == "x" else x + y))
        out = BLENDS[row.blend](x, y, weights)
        return row.scale * out if row.scale != 1 else out


class Concat(CatalogueForm):
    """``W_A X + W_B Y``: one 1x1 convolution (no bias) over ``[x, y]`` (paper Table 4)."""

    FORM = "concat"


class MSGAU(CatalogueForm):
    """MS-GAU ``G(Y) X + Y``: the shortcut gated by the MS-CAM map of the residual branch (Table 4)."""

    FORM = "ms-gau"


class MSSE(CatalogueForm):
    """MS-SENet ``X + G(Y) Y``: the residual branch refined by its own MS-CAM map (Table 4)."""

    FORM = "ms-se"


class MSSA(CatalogueForm):
    """MS-SA ``G(X + Y) X + Y``: the shortcut gated by the MS-CAM map of the sum (Table 4)."""

    FORM = "ms-sa"


class SK(CatalogueForm):
    """SKNet-style ``G X + (1 - G) Y`` with a global-context map of ``X + Y`` (Tables 1, 4)."""

    FORM = "sk"


class AFFGlobalGlobal(CatalogueForm):
    """AFF whose map sums two global context branches (Table 3, Global + Global)."""

    FORM = "aff-global-global"


class AFFLocalLocal(CatalogueForm):
    """AFF whose map sums two local (point-wise) context branches (Table 3, Local + Local)."""

    FORM = "aff-local-local"


class HalfAFF(CatalogueForm):
    """AFF whose map joins local and global context with fixed 0.5 weights (Table 6)."""

    FORM = "half-aff"


class ConcatAFF(CatalogueForm):
    """AFF whose map is a pointwise convolution over the concatenated local and global contexts (Table 6)."""

    FORM = "concat-aff"


class RecursiveAFF(CatalogueForm):
    """AFF whose map weighs local against global context by a nested second MS-CAM (Table 6)."""

    FORM = "recursive-aff"


for _cls in (Concat, MSGAU, MSSE, MSSA, SK, AFFGlobalGlobal, AFFLocalLocal, HalfAFF, ConcatAFF, RecursiveAFF):
    assert FORMS[_cls.FORM].class_name == _cls.__name__, _cls
    register_fusion(_cls)
