"""Model registry of the PyTorch twins: the same names and defaults as ``afflib.model_zoo.registry``.

``get_model(name, **kwargs)`` builds a network; ``pretrained=PATH`` loads an MXNet ``.params`` file (converted
on the fly) or a PyTorch state_dict file (``.pt`` / ``.pth``).
"""
from __future__ import annotations

import os
from typing import Any, Dict, Optional, Tuple, Type, Union

from torch import nn

from afflib.core.cliargs import check_keys
from afflib.core.modelspec import parse_spec
from afflib.core.registry import Registry

from .networks import AFFResNet, AFFResNeXt, CIFARAFFResNet, CIFARAFFResNeXt

__all__ = ["MODELS", "REGISTRY", "get_model", "get_model_list", "model_arguments", "model_spec", "register_model"]

REGISTRY = Registry("afflib_torch", (AFFResNet, AFFResNeXt, CIFARAFFResNet, CIFARAFFResNeXt))
MODELS: Dict[str, Tuple[Type[nn.Module], Dict[str, Any]]] = REGISTRY.models
register_model = REGISTRY.register
get_model_list = REGISTRY.names
model_spec = REGISTRY.spec
model_arguments = REGISTRY.arguments


def get_model(name: str, pretrained: Optional[Union[str, os.PathLike]] = None, **kwargs: Any) -> nn.Module:
    """Build a registered network.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``'aff_resnet50'`` or ``'cifar_iaff_resnet32'``.
    pretrained : path, optional
        A released or afflib-trained MXNet ``.params`` file, or a PyTorch state_dict (``.pt``/``.pth``/
        ``.safetensors``), loaded strictly: a file that does not fit raises listing the differences.
        (Downloading released weights is the MXNet side's job: ``afflib.get_model(name, pretrained=True)``
        caches them under ``~/.mxnet/models``; pass that file here.)
    **kwargs
        Override the entry's constructor arguments (``classes``, ``start_layer``, ``fusion_r``...).
    """
    spec = parse_spec(name)
    check_keys("get_model", kwargs, model_arguments(spec.name), spec.name)
    _, cls, args = REGISTRY.resolve(name, kwargs)
    net = cls(**args)
    if pretrained is not None and pretrained is not False:
        if pretrained is True:
            raise ValueError("afflib_torch.get_model: pretrained=True is not supported (no download in the torch "
                             "package); pass the path of a .params file, e.g. one that afflib.get_model("
                             f"{name!r}, pretrained=True) cached under ~/.mxnet/models")
        from .convert import load_checkpoint
        load_checkpoint(net, pretrained)
    return net
