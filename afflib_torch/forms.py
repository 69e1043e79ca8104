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

from afflib.core.ablation import NEW_FORMS, form_class
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


# One class per ablation form (the release's three stay in the fusion module), registered with get_fusion.
(Concat, MSGAU, MSSE, MSSA, SK, AFFGlobalGlobal, AFFLocalLocal, HalfAFF, ConcatAFF, RecursiveAFF) = (
    register_fusion(form_class(form, CatalogueForm, __name__)) for form in NEW_FORMS)
