"""GluonCV-style model registry: ``get_model(name, **kwargs)`` and ``get_model_list()``.

Every entry is a network class and a short dict of constructor arguments; keyword arguments given to
``get_model`` override them (``classes``, ``start_layer``, ``fusion_r``...).
"""
from __future__ import annotations

import difflib
from typing import Any, Callable, Dict, List, Optional, Tuple, Type

from mxnet.gluon import HybridBlock

from .networks import AFFResNet, AFFResNeXt, CIFARAFFResNet, CIFARAFFResNeXt

__all__ = ["MODELS", "get_model", "get_model_list", "model_spec", "register_model"]

FUSIONS = ("aff", "iaff", "add")
RESNET_DEPTHS = {50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}
RESNEXT_VARIANTS = {"50_32x4d": ([3, 4, 6, 3], 32, 4), "101_32x4d": ([3, 4, 23, 3], 32, 4),
                    "101_64x4d": ([3, 4, 23, 3], 64, 4), "152_32x4d": ([3, 8, 36, 3], 32, 4)}
CIFAR_RESNET_DEPTHS = {20: 3, 32: 5, 56: 9, 110: 18}       # depth = 6 * blocks + 2
CIFAR_RESNEXT_DEPTHS = {29: 3, 38: 4, 47: 5}               # depth = 9 * blocks + 2
CIFAR_WIDTHS = [64, 64, 128, 256]                          # the release's channel_times 4

MODELS: Dict[str, Tuple[Type[HybridBlock], Dict[str, Any]]] = {}


def register_model(name: str, cls: Type[HybridBlock], **defaults: Any) -> None:
    """Add ``name`` -> ``cls(**defaults)`` to the registry."""
    if name in MODELS:
        raise ValueError(f"model {name!r} is already registered")
    MODELS[name] = (cls, defaults)


for _fusion in FUSIONS:
    for _depth, _layers in RESNET_DEPTHS.items():
        register_model(f"{_fusion}_resnet{_depth}", AFFResNet, fusion=_fusion, layers=_layers, start_layer=3,
                       classes=1000)
    for _variant, (_layers, _card, _width) in RESNEXT_VARIANTS.items():
        register_model(f"{_fusion}_resnext{_variant}", AFFResNeXt, fusion=_fusion, layers=_layers,
                       cardinality=_card, bottleneck_width=_width, start_layer=3, classes=1000)
    for _depth, _blocks in CIFAR_RESNET_DEPTHS.items():
        register_model(f"cifar_{_fusion}_resnet{_depth}", CIFARAFFResNet, fusion=_fusion, layers=[_blocks] * 3,
                       channels=CIFAR_WIDTHS, start_layer=1, classes=100)
    for _depth, _blocks in CIFAR_RESNEXT_DEPTHS.items():
        register_model(f"cifar_{_fusion}_resnext{_depth}_32x4d", CIFARAFFResNeXt, fusion=_fusion,
                       layers=[_blocks] * 3, channels=CIFAR_WIDTHS, cardinality=32, bottleneck_width=4,
                       start_layer=1, classes=100)


def get_model_list() -> List[str]:
    """Names of all registered models."""
    return sorted(MODELS)


def model_spec(name: str) -> Tuple[Type[HybridBlock], Dict[str, Any]]:
    """The class and default arguments of ``name``; a ValueError lists close matches if it is unknown."""
    key = name.strip().lower()
    if key not in MODELS:
        close = difflib.get_close_matches(key, MODELS, n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} All models: afflib.get_model_list().")
    return MODELS[key]


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
    cls, defaults = model_spec(name)
    args = dict(defaults)
    args.update(kwargs)
    net = cls(**args)
    if pretrained:
        from .model_store import load_pretrained
        load_pretrained(net, name.strip().lower(), pretrained, root=root, ctx=ctx, classes=args.get("classes"))
    return net
