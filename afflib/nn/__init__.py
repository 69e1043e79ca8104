"""Fusion modules: MS-CAM, AFF, iAFF and plain addition, usable in any Gluon network, and the paper's ablation
forms (:mod:`afflib.nn.forms`, registered with :func:`get_fusion` on import)."""
from .fusion import (AFF, IAFF, MSCAM, DirectAdd, FUSION_ALIASES, GlobalMean, build_fusion, canonical_fusion,
                     get_fusion)
from . import forms  # noqa: F401  (registers the ablation forms: get_fusion("ms-gau", ...))

__all__ = ["MSCAM", "AFF", "IAFF", "DirectAdd", "GlobalMean", "FUSION_ALIASES", "canonical_fusion", "get_fusion",
           "build_fusion"]
