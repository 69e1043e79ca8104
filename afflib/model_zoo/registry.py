"""GluonCV-style model registry: ``get_model(name, **kwargs)`` and ``get_model_list()``.

Every entry is a network class and a short dict of constructor arguments; keyword arguments given to
``get_model`` override them (``classes``, ``start_layer``, ``fusion_r``...).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple, Type

from mxnet.gluon import HybridBlock

from afflib.core.modelspec import entry, merge_args, parse_spec
from afflib.core.specs import MODEL_SPECS
from .networks import AFFResNet, AFFResNeXt, CIFARAFFResNet, CIFARAFFResNeXt

__all__ = ["MODELS", "get_model", "get_model_list", "model_spec", "register_model"]

MODELS: Dict[str, Tuple[Type[HybridBlock], Dict[str, Any]]] = {}
_FAMILIES = {cls.__name__: cls for cls in (AFFResNet, AFFResNeXt, CIFARAFFResNet, CIFARAFFResNeXt)}


def register_model(name: str, cls: Type[HybridBlock], **defaults: Any) -> None:
    """Add ``name`` -> ``cls(**defaults)`` to the registry."""
    if name in MODELS:
        raise ValueError(f"model {name!r} is already registered")
    MODELS[name] = (cls, defaults)


for _name, (_family, _defaults) in MODEL_SPECS.items():
    register_model(_name, _FAMILIES[_family], **_defaults)


def get_model_list() -> List[str]:
    """Names of all registered models."""
    return sorted(MODELS)


def model_spec(name: str) -> Tuple[Type[HybridBlock], Dict[str, Any]]:
    """The class and arguments of ``name`` (a registry name, a CIFAR depth or a spec text such as
    ``cifar_aff_resnet8(channels=[16,16,32,64], in_channels=1, classes=10)``); a ValueError lists close matches."""
    spec = parse_spec(name)
    cls, defaults = entry(spec.name, MODELS, "afflib")
    return cls, merge_args(defaults, spec, {})


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
    spec = parse_spec(name)
    cls, defaults = entry(spec.name, MODELS, "afflib")
    args = merge_args(defaults, spec, kwargs)
    net = cls(**args)
    if pretrained:
        from .model_store import load_pretrained
        load_pretrained(net, spec.name, pretrained, root=root, ctx=ctx, classes=args.get("classes"))
    return net
