"""GluonCV-style model registry: ``get_model(name, **kwargs)`` and ``get_model_list()``.

Every entry is a network class and a short dict of constructor arguments (:class:`afflib.core.registry.Registry`
over the tables of :mod:`afflib.core.specs`); keyword arguments given to ``get_model`` override them
(``classes``, ``start_layer``, ``fusion_r``...).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Type

from mxnet.gluon import HybridBlock

from afflib.core.registry import Registry
from .fpn import AFFResNetFPN, CIFARFPN
from .inception import CIFARInceptionResNet
from .networks import AFFResNet, AFFResNeXt, CIFARAFFResNet, CIFARAFFResNeXt

__all__ = ["MODELS", "REGISTRY", "get_model", "get_model_list", "model_spec", "register_model"]

REGISTRY = Registry("afflib", (AFFResNet, AFFResNeXt, CIFARAFFResNet, CIFARAFFResNeXt, CIFARInceptionResNet,
                               CIFARFPN, AFFResNetFPN))
MODELS: Dict[str, Tuple[Type[HybridBlock], Dict[str, Any]]] = REGISTRY.models
register_model = REGISTRY.register
get_model_list = REGISTRY.names
model_spec = REGISTRY.spec


def get_model(name: str, pretrained: Any = False, root: Optional[str] = None, ctx: Any = None,
              **kwargs: Any) -> HybridBlock:
    """Build a registered network, GluonCV style.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``'aff_resnet50'`` or ``'cifar_iaff_resnet32'``.
    pretrained : bool, str or path
        False: random initialisation is left to the caller. True or a label-set tag: the released weights
        from the local cache (downloaded if needed). A path to a ``.params`` file: load it.
    root : str
        Cache folder of released weights (default ``$MXNET_HOME/models``, i.e. ``~/.mxnet/models``).
    ctx : Context
        Where to load pretrained weights.
    **kwargs
        Override the entry's constructor arguments.
    """
    spec, cls, args = REGISTRY.resolve(name, kwargs)
    net = cls(**args)
    if pretrained:
        from .model_store import load_pretrained
        load_pretrained(net, spec.name, pretrained, root=root, ctx=ctx, classes=args.get("classes"))
    return net
