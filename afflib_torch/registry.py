"""Model registry of the PyTorch twins: the same names and defaults as ``afflib.model_zoo.registry``.

``get_model(name, **kwargs)`` builds a network; ``pretrained=PATH`` loads an MXNet ``.params`` file (converted
on the fly) or a PyTorch state_dict file (``.pt`` / ``.pth``).
"""
from __future__ import annotations

import inspect
import os
from typing import Any, Dict, List, Optional, Tuple, Type, Union

from torch import nn

from afflib.core.cliargs import check_keys
from afflib.core.modelspec import entry, merge_args, parse_spec
from afflib.core.specs import MODEL_SPECS

from .networks import AFFResNet, AFFResNeXt, CIFARAFFResNet, CIFARAFFResNeXt

__all__ = ["MODELS", "get_model", "get_model_list", "model_arguments", "model_spec", "register_model"]

MODELS: Dict[str, Tuple[Type[nn.Module], Dict[str, Any]]] = {}
_FAMILIES = {cls.__name__: cls for cls in (AFFResNet, AFFResNeXt, CIFARAFFResNet, CIFARAFFResNeXt)}


def register_model(name: str, cls: Type[nn.Module], **defaults: Any) -> None:
    """Add ``name`` -> ``cls(**defaults)`` to the registry."""
    if name in MODELS:
        raise ValueError(f"model {name!r} is already registered")
    MODELS[name] = (cls, defaults)


for _name, (_family, _defaults) in MODEL_SPECS.items():
    register_model(_name, _FAMILIES[_family], **_defaults)


def get_model_list() -> List[str]:
    """Names of all registered models."""
    return sorted(MODELS)


def model_spec(name: str) -> Tuple[Type[nn.Module], Dict[str, Any]]:
    """The class and arguments of ``name`` (a registry name, a CIFAR depth or a spec text such as
    ``cifar_aff_resnet8(channels=[16,16,32,64], in_channels=1, classes=10)``); a ValueError lists close matches."""
    spec = parse_spec(name)
    cls, defaults = entry(spec.name, MODELS, "afflib_torch")
    return cls, merge_args(defaults, spec, {})


def model_arguments(name: str) -> List[str]:
    """The constructor arguments that ``get_model(name, **kwargs)`` accepts (to name a misspelt one up front)."""
    cls, _ = model_spec(name)
    params = inspect.signature(cls.__init__).parameters.values()
    return sorted(p.name for p in params if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))


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
    cls, defaults = entry(spec.name, MODELS, "afflib_torch")
    check_keys("get_model", kwargs, model_arguments(spec.name), spec.name)
    args = merge_args(defaults, spec, kwargs)
    net = cls(**args)
    if pretrained is not None and pretrained is not False:
        if pretrained is True:
            raise ValueError("afflib_torch.get_model: pretrained=True is not supported (no download in the torch "
                             "package); pass the path of a .params file, e.g. one that afflib.get_model("
                             f"{name!r}, pretrained=True) cached under ~/.mxnet/models")
        from .convert import load_checkpoint
        load_checkpoint(net, pretrained)
    return net
