"""Fusion modules: MS-CAM, AFF, iAFF and plain addition, usable in any Gluon network."""
from .fusion import (AFF, IAFF, MSCAM, DirectAdd, FUSION_ALIASES, GlobalMean, build_fusion, canonical_fusion,
                     get_fusion)

__all__ = ["MSCAM", "AFF", "IAFF", "DirectAdd", "GlobalMean", "FUSION_ALIASES", "canonical_fusion", "get_fusion",
           "build_fusion"]
