"""Model registry of the PyTorch twins: the same names and defaults as ``afflib.model_zoo.registry``.

``get_model(name, **kwargs)`` builds a network; ``pretrained=True`` (or a label tag) loads the released weights
through the shared store, ``pretrained=PATH`` an MXNet ``.params`` file (converted on the fly) or a PyTorch
state_dict file (``.pt`` / ``.pth``).
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


def get_model(name: str, pretrained: Optional[Union[bool, str, os.PathLike]] = None,
              root: Optional[Union[str, os.PathLike]] = None, **kwargs: Any) -> nn.Module:
    """Build a registered network.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``'aff_resnet50'`` or ``'cifar_iaff_resnet32'``.
    pretrained : bool, str or path, optional
        True or a label tag (``'fine'``, ``'coarse'``, ``'imagenet'``, a SHA-1 prefix): the released weights,
        fetched and hash-checked by ``afflib.core.store`` (the MXNet engine's cache) and converted. A path: an
        MXNet ``.params`` file or a PyTorch state_dict (``.pt``/``.pth``/``.safetensors``). Loaded strictly: a
        file that does not fit raises listing the differences.
    root : path, optional
        Cache folder of released weights (default ``$MXNET_HOME/models``, i.e. ``~/.mxnet/models``).
    **kwargs
        Override the entry's constructor arguments (``classes``, ``start_layer``, ``fusion_r``...).
    """
    spec = parse_spec(name)
    cls, defaults = entry(spec.name, MODELS, "afflib_torch")
    check_keys("get_model", kwargs, model_arguments(spec.name), spec.name)
    args = merge_args(defaults, spec, kwargs)
    net = cls(**args)
    if pretrained is not None and pretrained is not False:
        from .convert import is_released_choice, load_checkpoint, load_released
        if is_released_choice(pretrained):  # True, 'fine'/'coarse'/'imagenet' or a SHA-1 prefix
            load_released(net, spec.name, pretrained, args.get("classes"), root)
        else:
            load_checkpoint(net, pretrained)
    return net
