"""afflib: Attentional Feature Fusion (Dai et al., WACV 2021) for MXNet Gluon.

``afflib.get_model`` / ``afflib.get_model_list`` import MXNet on first use, so that the framework-free
``afflib.core.specs`` can be imported by the PyTorch twin (``afflib_torch``) in an environment without MXNet.
"""
from typing import Any

__version__ = "0.1.0"
__all__ = ["get_model", "get_model_list", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("get_model", "get_model_list"):
        from .model_zoo import registry
        return getattr(registry, name)
    raise AttributeError(f"module 'afflib' has no attribute {name!r}")
