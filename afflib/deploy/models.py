"""Build a classifier for inference: an afflib registry model or a GluonCV model, with released weights
(``pretrained``), a ``.params`` file, or a training run's ``.params`` + ``run_config.json``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional

import mxnet as mx
from mxnet.gluon import HybridBlock

import afflib
from afflib.core.datasets import EVAL_CROP_RATIO
from afflib.core.modelspec import parse_spec
from afflib.core.runrecord import RUN_CONFIG, read_run_record
from afflib.train.nets import build_net, ready_net

__all__ = ["RunModel", "load_model", "load_from_run", "RUN_CONFIG"]


@dataclass
class RunModel:
    """A network rebuilt from a training run, with the dataset and evaluation size it was trained for."""

    net: HybridBlock
    name: str
    dataset: str
    input_size: Optional[int] = None
    crop_ratio: float = EVAL_CROP_RATIO


def _gluoncv_names():
    from gluoncv.model_zoo import get_model_list
    return set(get_model_list())


def _is_afflib_name(name: str) -> bool:
    try:
        afflib.model_zoo.model_spec(parse_spec(name).name)
    except ValueError:
        return False
    return True


def load_model(name: str, pretrained: bool = False, params: Optional[str] = None, classes: Optional[int] = None,
               in_channels: int = 3, ctx: Any = None, hybridize: bool = False) -> HybridBlock:
    """``name`` from the afflib registry (or else GluonCV's model zoo) with weights: released (``pretrained``),
    from ``params`` (checked against the network first, see :func:`afflib.train.load_checked`), or, with
    neither, randomly initialised (for export tests and shape checks). ``hybridize``: with static memory, for
    any batch size (:func:`afflib.train.ready_net`)."""
    if pretrained and params:
        raise ValueError("give either pretrained or a params file, not both")
    ctx = ctx or mx.cpu()
    kwargs: Dict[str, Any] = {} if classes is None else {"classes": classes}
    if in_channels != 3:
        kwargs["in_channels"] = in_channels
    init = None if pretrained or params else mx.init.Xavier()
    key = name.strip().lower()
    if _is_afflib_name(name):
        return build_net(name, ctx, params, pretrained, init, hybridize=hybridize, static_shape=False, **kwargs)
    if key not in _gluoncv_names():
        afflib.model_zoo.model_spec(name)  # raises with close afflib names
    from gluoncv.model_zoo import get_model as gluoncv_model
    if in_channels != 3:
        raise ValueError(f"GluonCV model {name!r} takes 3 input channels, not {in_channels}")
    net = gluoncv_model(key, pretrained=pretrained, ctx=ctx, **({} if pretrained else kwargs))
    return ready_net(net, ctx, params, pretrained, init, hybridize=hybridize, static_shape=False,
                     model_name=name.strip())


def load_from_run(params: str, ctx: Any = None, hybridize: bool = False) -> RunModel:
    """Rebuild the network of a ``scripts/train_cifar.py`` or ``scripts/train_imagenet.py`` run from the record in
    the ``run_config.json`` beside ``params`` (registry name + kwargs, dataset; see :mod:`afflib.core.runrecord`),
    and load ``params`` into it."""
    record = read_run_record(params)
    if record is None:
        raise FileNotFoundError(f"no model given and no {RUN_CONFIG} beside {params}: pass --model NAME "
                                f"(afflib.get_model_list() or a GluonCV name) and --dataset")
    net = build_net(record.spec, ctx or mx.cpu(), params, hybridize=hybridize, static_shape=False)
    return RunModel(net, record.spec.text(), record.label_set, record.input_size, record.crop_ratio)
