"""afflib: Attentional Feature Fusion (Dai et al., WACV 2021): the MXNet Gluon engine and the framework-free core.

``afflib.get_model`` / ``afflib.get_model_list`` import MXNet on first use, so that the framework-free
``afflib.core`` (and ``afflib.cli``'s ``afflib-download-params``) can be used by the PyTorch engine
(``afflib_torch``) in an environment without MXNet: ``pip install afflib[torch]`` installs no MXNet.
"""
from typing import Any

__version__ = "0.1.0"
__all__ = ["get_model", "get_model_list", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("get_model", "get_model_list"):
        from .model_zoo import registry
        return getattr(registry, name)
    raise AttributeError(f"module 'afflib' has no attribute {name!r}")
