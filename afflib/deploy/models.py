"""Build a classifier for inference: an afflib registry model or a GluonCV model, with released weights
(``pretrained``), a ``.params`` file, or a training run's ``.params`` + ``run_config.json``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional

import mxnet as mx
from mxnet.gluon import HybridBlock

import afflib
from afflib.core.modelspec import parse_spec
from afflib.core.runrecord import RUN_CONFIG, read_run_record

__all__ = ["RunModel", "load_model", "load_from_run", "RUN_CONFIG"]


@dataclass
class RunModel:
    """A network rebuilt from a training run, with the dataset and evaluation size it was trained for."""

    net: HybridBlock
    name: str
    dataset: str
    input_size: Optional[int] = None
    crop_ratio: float = 0.875


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
               in_channels: int = 3, ctx: Any = None) -> HybridBlock:
    """``name`` from the afflib registry (or else GluonCV's model zoo) with weights: released (``pretrained``),
    from ``params`` (checked against the network first, see :func:`afflib.train.load_checked`), or, with
    neither, randomly initialised (for export tests and shape checks)."""
    if pretrained and params:
        raise ValueError("give either pretrained or a params file, not both")
    ctx = ctx or mx.cpu()
    kwargs: Dict[str, Any] = {} if classes is None else {"classes": classes}
    if in_channels != 3:
        kwargs["in_channels"] = in_channels
    key = name.strip().lower()
    if _is_afflib_name(name):
        net = afflib.get_model(name.strip(), pretrained=pretrained, ctx=ctx, **kwargs)
    elif key in _gluoncv_names():
        from gluoncv.model_zoo import get_model as gluoncv_model
        if in_channels != 3:
            raise ValueError(f"GluonCV model {name!r} takes 3 input channels, not {in_channels}")
        net = gluoncv_model(key, pretrained=pretrained, ctx=ctx, **({} if pretrained else kwargs))
    else:
        afflib.model_zoo.model_spec(name)  # raises with close afflib names
    if params:
        from afflib.train import load_checked
        load_checked(net, str(params), ctx=ctx, model_name=name.strip())
    elif not pretrained:
        net.initialize(mx.init.Xavier(), ctx=ctx)
    return net


def load_from_run(params: str, ctx: Any = None) -> RunModel:
    """Rebuild the network of a ``scripts/train_cifar.py`` or ``scripts/train_imagenet.py`` run from the
    ``run_config.json`` beside ``params`` (see :mod:`afflib.core.runrecord`), and load ``params`` into it."""
    from afflib.train import load_checked
    record = read_run_record(params)
    if record is None:
        raise FileNotFoundError(f"no model given and no {RUN_CONFIG} beside {params}: pass --model NAME "
                                f"(afflib.get_model_list() or a GluonCV name) and --dataset")
    name = record.spec.text()
    run = RunModel(afflib.get_model(name), name, record.label_set, record.input_size, record.crop_ratio)
    load_checked(run.net, str(params), ctx=ctx or mx.cpu(), model_name=name)
    return run
