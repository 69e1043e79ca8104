"""Build a classifier for inference: an afflib registry model or a GluonCV model, with released weights
(``pretrained``), a ``.params`` file, or a training run's ``.params`` + ``run_config.json``."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

import mxnet as mx
from mxnet.gluon import HybridBlock

import afflib

__all__ = ["RunModel", "load_model", "load_from_run", "RUN_CONFIG"]

RUN_CONFIG = "run_config.json"


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
    if key in afflib.get_model_list():
        net = afflib.get_model(key, pretrained=pretrained, ctx=ctx, **kwargs)
    elif key in _gluoncv_names():
        from gluoncv.model_zoo import get_model as gluoncv_model
        if in_channels != 3:
            raise ValueError(f"GluonCV model {name!r} takes 3 input channels, not {in_channels}")
        net = gluoncv_model(key, pretrained=pretrained, ctx=ctx, **({} if pretrained else kwargs))
    else:
        afflib.model_zoo.model_spec(name)  # raises with close afflib names
    if params:
        from afflib.train import load_checked
        load_checked(net, str(params), ctx=ctx, model_name=key)
    elif not pretrained:
        net.initialize(mx.init.Xavier(), ctx=ctx)
    return net


def _run_config(params: Path) -> Dict[str, Any]:
    path = params.parent / RUN_CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"no model given and no {RUN_CONFIG} beside {params}: pass --model NAME "
                                f"(afflib.get_model_list() or a GluonCV name) and --dataset")
    with open(path, encoding="utf-8") as stream:
        config = json.load(stream)
    if not isinstance(config.get("args"), dict):
        raise ValueError(f"{path} has no 'args' record of the training command line")
    return config


def load_from_run(params: str, ctx: Any = None) -> RunModel:
    """Rebuild the network of a ``scripts/train_cifar.py`` or ``scripts/train_imagenet.py`` run from the
    ``run_config.json`` beside ``params``, and load ``params`` into it."""
    from afflib.train import load_checked
    params_path = Path(params)
    config = _run_config(params_path)
    args = config["args"]
    dataset = args.get("dataset")
    ctx = ctx or mx.cpu()
    if dataset in ("cifar10", "cifar100", "fashion-mnist"):
        from afflib.train.cifar import cifar_model, dataset_classes
        coarse = bool(args.get("coarse_labels"))
        classes, channels = dataset_classes(dataset, coarse)
        if args.get("model_name"):
            net, name = afflib.get_model(args["model_name"], classes=classes, in_channels=channels), args["model_name"]
        else:
            net, name = cifar_model(args["model"], args["askc_type"], args["blocks"], args["channel_times"],
                                    args["start_layer"], classes, channels, args.get("deep_stem", False))
        dataset = "cifar100-coarse" if coarse else dataset
        run = RunModel(net, name, dataset)
    else:
        name = config.get("model") or args.get("model_name")
        kwargs = {"classes": args.get("classes", 1000)}
        if not args.get("model_name"):
            kwargs.update(start_layer=args["start_layer"], fusion_r=args["r"])
        run = RunModel(afflib.get_model(name, **kwargs), name, "imagenet", args.get("input_size"),
                       args.get("crop_ratio", 0.875))
    load_checked(run.net, str(params_path), ctx=ctx, model_name=run.name)
    return run
