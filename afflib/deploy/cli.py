"""Command-line flags shared by the inference scripts (predict, gradcam, export): which model, which weights,
which dataset's preprocessing and class names."""
from __future__ import annotations

import argparse
from typing import List, Optional, Tuple

from mxnet.gluon import HybridBlock

from afflib.core.cliargs import float_range, int_range
from afflib.core.datasets import EVAL_CROP_RATIO
from .models import load_from_run, load_model
from .presets import DATASETS, DatasetPreset, dataset_preset, read_class_names

__all__ = ["add_model_flags", "model_from_flags"]


def add_model_flags(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """``--model``, ``--pretrained``, ``--params``, ``--dataset``, ``--classes``, ``--input-size``,
    ``--crop-ratio`` (with ``prefix``, e.g. ``compare-``, for a second model)."""
    p = f"--{prefix}"
    group = parser.add_argument_group(f"{prefix.rstrip('-') or 'the'} model")
    aliases = [f"--{prefix.rstrip('-')}"] if prefix else []      # --compare MODEL2 = --compare-model MODEL2
    group.add_argument(*aliases, f"{p}model", dest=f"{prefix.replace('-', '_')}model", default=None,
                       help="afflib registry name (afflib.get_model_list()) or GluonCV model name (default: the model "
                            "that the run_config.json beside --params names)")
    group.add_argument(f"{p}pretrained", action="store_true", help="released weights (downloaded once)")
    group.add_argument(f"{p}params", default=None, help=".params file to load (default: none; or --pretrained)")
    group.add_argument(f"{p}dataset", default=None, choices=sorted(DATASETS),
                       help="preprocessing and class names (default: the run's dataset, else cifar100 for cifar_* "
                            "models and imagenet otherwise)")
    group.add_argument(f"{p}classes", default=None,
                       help="class names file (one per line) or a class count (default: the dataset's names)")
    group.add_argument(f"{p}input-size", type=int_range(16), default=None, help="input size (default: the dataset's)")
    group.add_argument(f"{p}crop-ratio", type=float_range(0, 1, lo_open=True), default=EVAL_CROP_RATIO,
                       help="ImageNet center-crop ratio")


def _flag(args: argparse.Namespace, prefix: str, name: str):
    return getattr(args, prefix.replace("-", "_") + name)


def model_from_flags(args: argparse.Namespace, prefix: str = "", allow_random: bool = False,
                     hybridize: bool = False) -> Tuple[HybridBlock, str, DatasetPreset, List[str]]:
    """(network, model name, dataset preset, class names) from the flags of :func:`add_model_flags`;
    ``allow_random`` accepts neither pretrained nor params (random weights); ``hybridize``: for any batch size."""
    model, pretrained, params = (_flag(args, prefix, n) for n in ("model", "pretrained", "params"))
    dataset, classes = _flag(args, prefix, "dataset"), _flag(args, prefix, "classes")
    input_size, crop_ratio = _flag(args, prefix, "input_size"), _flag(args, prefix, "crop_ratio")
    flag = f"--{prefix}"
    if pretrained and params:
        raise ValueError(f"give either {flag}pretrained or {flag}params FILE, not both")
    if not (pretrained or params or allow_random):
        raise ValueError(f"give {flag}pretrained or {flag}params FILE for the weights")
    if model is None:
        if not params:
            raise ValueError(f"give {flag}model NAME (or {flag}params from a training run with its run_config.json)")
        run = load_from_run(params, hybridize=hybridize)
        if dataset and dataset != run.dataset:
            raise ValueError(f"{flag}dataset {dataset}, but {params} was trained on {run.dataset}")
        preset = dataset_preset(run.dataset, input_size or run.input_size, run.crop_ratio)
        names = _names(preset, classes)
        if len(names) != len(preset.class_names):
            raise ValueError(f"{flag}classes gives {len(names)} classes; the run's network has "
                             f"{len(preset.class_names)}")
        return run.net, run.name, preset, names
    dataset = dataset or ("cifar100" if model.lower().startswith("cifar_") else "imagenet")
    preset = dataset_preset(dataset, input_size, crop_ratio)
    names = _names(preset, classes)
    net = load_model(model, pretrained=pretrained, params=params, classes=len(names), in_channels=preset.channels,
                     hybridize=hybridize)
    return net, model, preset, names


def _names(preset: DatasetPreset, classes: Optional[str]) -> List[str]:
    if classes is None:
        return list(preset.class_names)
    if classes.isdigit():
        return [str(i) for i in range(int(classes))]
    return read_class_names(classes)
