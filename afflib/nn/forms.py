"""The paper's ablation fusion forms as Gluon blocks: concat, MS-GAU, MS-SE, MS-SA, SK and the AFF variants of
Tables 3 and 6, one small class per catalogue row (:mod:`afflib.core.fusion`), registered with
:func:`afflib.nn.fusion.get_fusion` so that ``get_fusion("ms-gau", channels, r)`` and any network's ``fusion=``
accept them by name.

Contract as every fusion block: ``fuse(x, y)`` with ``x`` the residual branch (the paper's Y) and ``y`` the
shortcut (the paper's X). Children are created in the row's layout order under its names (``local_att``,
``global_att``, ``local_att2``, ``global_att2``, ``fuse``, ``post``), so parameter names are deterministic and
``afflib_torch.convert`` maps them to the PyTorch twins (``afflib_torch.forms``).
"""
from __future__ import annotations

from typing import Callable, Dict

from mxnet.gluon import nn

from afflib.core.ablation import NEW_FORMS, form_class
from afflib.core.fusion import FORMS, FusionForm, attention_channels
from .fusion import _context_branch, _Fusion, register_fusion

__all__ = ["CatalogueForm", "Concat", "MSGAU", "MSSE", "MSSA", "SK", "AFFGlobalGlobal", "AFFLocalLocal", "HalfAFF",
           "ConcatAFF", "RecursiveAFF", "BLENDS"]

# How each blend joins x (residual, the paper's Y) and y (shortcut, the paper's X) with the map M.
BLENDS: Dict[str, Callable] = {
    "soft": lambda F, x, y, m: y + F.broadcast_mul(m, x - y),
    "select": lambda F, x, y, m: x + F.broadcast_mul(m, y - x),
    "gate-shortcut": lambda F, x, y, m: x + F.broadcast_mul(m, y),
    "gate-residual": lambda F, x, y, m: y + F.broadcast_mul(m, x),
}


def _plain(x):
    """``x`` as a new array in the default memory layout. In imperative mode MXNet 1.9's oneDNN build can crash
    (SIGFPE in the ``slice`` of :func:`afflib.nn.fusion.spatial_mean`) when a convolution's output reaches a
    global mean directly, as the residual branch does in MS-GAU/MS-SE and concat's output does in a network;
    an elementwise op in between avoids it (hybridized graphs are unaffected)."""
    return x * 1


class CatalogueForm(_Fusion):
    """A fusion form built from its catalogue row ``FORM``: context branches and pointwise convolutions in the
    row's layout, the attention map from the row's input and aggregate, then the row's blend.

    Parameters
    ----------
    channels : int
        Channels of both inputs.
    r : int
        Channel reduction of the context branches (ignored by forms without them).
    """

    FORM = ""

    def __init__(self, channels: int, r: int = 4, **kwargs):
        super().__init__(**kwargs)
        row = FORMS[self.FORM]
        self.channels, self.r = channels, r
        with self.name_scope():
            if row.attended:
                inter = attention_channels(channels, r)
                for branch in row.branches:
                    setattr(self, branch.name, _context_branch(channels, inter, branch.pooled))
            for conv in row.extra:
                setattr(self, conv.name, nn.Conv2D(conv.out_factor * channels, kernel_size=1,
                                                   in_channels=conv.in_factor * channels, use_bias=conv.bias))

    def _logits(self, F, row: FusionForm, z):
        """The attention map's logits from ``z`` as the row aggregates its context branches."""
        if row.aggregate == "recursive":
            local, glob = self.local_att(z), self.global_att(z)
            joined = F.broadcast_add(local, glob)
            inner = F.sigmoid(F.broadcast_add(self.local_att2(joined), self.global_att2(joined)))
            return F.broadcast_add(glob, F.broadcast_mul(inner, F.broadcast_sub(local, glob)))
        outputs = [getattr(self, branch.name)(z) for branch in row.branches]
        if row.aggregate == "concat":
            local, glob = outputs
            return self.post(F.concat(local, F.broadcast_like(glob, local), dim=1))
        logits = outputs[0]
        for other in outputs[1:]:
            logits = F.broadcast_add(logits, other)
        return 0.5 * logits if row.aggregate == "half" else logits

    def hybrid_forward(self, F, x, y):
        row = FORMS[self.FORM]
        if row.blend == "linear":
            return _plain(self.fuse(F.concat(x, y, dim=1)))
        weights = F.sigmoid(self._logits(F, row, _plain(x) if row.attention_input == "x" else x + y))
        out = BLENDS[row.blend](F, x, y, weights)
        return row.scale * out if row.scale != 1 else out


# One class per ablation form (the release's three stay in the fusion module), registered with get_fusion.
(Concat, MSGAU, MSSE, MSSA, SK, AFFGlobalGlobal, AFFLocalLocal, HalfAFF, ConcatAFF, RecursiveAFF) = (
    register_fusion(form_class(form, CatalogueForm, __name__)) for form in NEW_FORMS)
