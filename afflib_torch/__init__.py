"""afflib's networks in PyTorch: exact twins of the MXNet AFF networks and conversion of MXNet checkpoints.

``afflib.core.params_io`` (the MXNet ``.params`` reader/writer) needs only NumPy; everything else needs
torch, imported on first use so that ``import afflib.core.params_io`` works in the MXNet environment.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["get_model", "get_model_list", "MSCAM", "AFF", "IAFF", "DirectAdd", "get_fusion", "build_fusion",
           "set_fused_blend", "AFFResNet", "AFFResNeXt", "CIFARAFFResNet", "CIFARAFFResNeXt", "load_checkpoint",
           "save_checkpoint", "load_params", "save_params", "CIFARFPN", "AFFResNetFPN"]

_LAZY = {
    "get_model": "registry", "get_model_list": "registry",
    "MSCAM": "fusion", "AFF": "fusion", "IAFF": "fusion", "DirectAdd": "fusion", "get_fusion": "forms",
    "build_fusion": "forms", "set_fused_blend": "fusion",
    "AFFResNet": "networks", "AFFResNeXt": "networks", "CIFARAFFResNet": "networks", "CIFARAFFResNeXt": "networks",
    "load_checkpoint": "convert", "save_checkpoint": "convert", "CIFARFPN": "fpn", "AFFResNetFPN": "fpn",
    "load_params": "afflib.core.params_io", "save_params": "afflib.core.params_io",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = _LAZY[name]
        return getattr(importlib.import_module(module if "." in module else f".{module}", __name__), name)
    raise AttributeError(f"module 'afflib_torch' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
