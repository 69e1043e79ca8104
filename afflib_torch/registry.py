"""Model registry of the PyTorch twins: the same names and defaults as ``afflib.model_zoo.registry``.

``get_model(name, **kwargs)`` builds a network; ``pretrained=True`` (or a label tag) loads the released weights
through the shared store, ``pretrained=PATH`` an MXNet ``.params`` file (converted on the fly) or a PyTorch
state_dict file (``.pt`` / ``.pth``).
"""
from __future__ import annotations

import os
from typing import Any, Dict, Optional, Tuple, Type, Union

from torch import nn

from afflib.core.cliargs import check_keys
from afflib.core.modelspec import parse_spec
from afflib.core.registry import Registry

from .fpn import AFFResNetFPN, CIFARFPN
from .inception import CIFARInceptionResNet
from .networks import AFFResNet, AFFResNeXt, CIFARAFFResNet, CIFARAFFResNeXt

__all__ = ["MODELS", "REGISTRY", "get_model", "get_model_list", "model_arguments", "model_spec", "register_model"]

REGISTRY = Registry("afflib_torch", (AFFResNet, AFFResNeXt, CIFARAFFResNet, CIFARAFFResNeXt,
                                     CIFARInceptionResNet, CIFARFPN, AFFResNetFPN))
MODELS: Dict[str, Tuple[Type[nn.Module], Dict[str, Any]]] = REGISTRY.models
register_model = REGISTRY.register
get_model_list = REGISTRY.names
model_spec = REGISTRY.spec
model_arguments = REGISTRY.arguments


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
    check_keys("get_model", kwargs, model_arguments(spec.name), spec.name)
    _, cls, args = REGISTRY.resolve(name, kwargs)
    net = cls(**args)
    if pretrained is not None and pretrained is not False:
        from .convert import is_released_choice, load_checkpoint, load_released
        if is_released_choice(pretrained):  # True, 'fine'/'coarse'/'imagenet' or a SHA-1 prefix
            load_released(net, spec.name, pretrained, args.get("classes"), root)
        else:
            load_checkpoint(net, pretrained)
    return net
