"""Test accuracy of a checkpoint on CIFAR-10, CIFAR-100 (fine or coarse labels) or Fashion-MNIST with PyTorch.

The MXNet engine's ``eval_cifar`` flags and lines (``test accuracy: ...``); ``--params`` of a training run of
either engine is enough (its ``run_config.json`` gives network and dataset)::

    .venv-torch/bin/python -m afflib_torch.cli.eval_cifar --params runs/fm/fashion-mnist-cifar_aff_resnet8-c1-last.params
    .venv-torch/bin/python -m afflib_torch.cli.eval_cifar --dataset cifar100 --coarse-labels \\
        --model-name cifar_aff_resnet32 --pretrained
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import List, Tuple

from torch import nn

from afflib.core.datasets import SMALL_IMAGE_DATASETS, label_set
from afflib.core.logformat import cifar_test_lines
from afflib.core.modelspec import ModelSpec, cifar_spec
from afflib.core.progress import want_progress
from afflib.core.released import resolve_released
from afflib.core.runrecord import flag_given, read_run_record, refuse_conflicts
from afflib.core.trainflags import parse_eval

from ..convert import load_checkpoint
from ..engine import prepare
from ..registry import get_model
from ..train.loop import evaluate
from ..train.runner import exit_on_error, make_run_config
from ..train.smalldata import small_image_data


class FirstOutputs(nn.Module):
    """``net`` scored on its first ``count`` outputs (a released coarse-label file: superclasses 0-19 of 100)."""

    def __init__(self, net: nn.Module, count: int) -> None:
        super().__init__()
        self.net, self.count = net, count

    def forward(self, x):
        return self.net(x)[:, :self.count]


def classes_of(args: argparse.Namespace) -> Tuple[int, int]:
    """(classes, input channels) of ``--dataset`` (20 classes with ``--coarse-labels``)."""
    if args.coarse_labels and args.dataset != "cifar100":
        raise ValueError(f"--coarse-labels only applies to cifar100 (20 superclasses), not {args.dataset}")
    classes, channels = SMALL_IMAGE_DATASETS[args.dataset]
    return (20 if args.coarse_labels else classes), channels


def network(args: argparse.Namespace, argv: List[str]) -> Tuple[nn.Module, str]:
    """(network with its weights, its printed spec) of ``--params`` (the run's record, else the model flags) or
    of ``--pretrained``."""
    if args.pretrained:
        if not args.model_name:
            raise ValueError("--pretrained needs --model-name (e.g. cifar_aff_resnet32)")
        classes, _ = classes_of(args)
        labels = label_set(args.dataset, args.coarse_labels)
        entry = resolve_released(args.model_name, {"cifar100": "fine", "cifar100-coarse": "coarse"}.get(labels, labels))
        net = get_model(args.model_name, pretrained=entry.tag, classes=entry.classes)
        return (FirstOutputs(net, classes) if classes < entry.classes else net), args.model_name
    record = read_run_record(args.params)
    if record is not None:
        pairs = [("--dataset", args.dataset, record.dataset), ("--coarse-labels", args.coarse_labels,
                                                               record.coarse_labels)]
        refuse_conflicts(record, args.params, [p for p in pairs if flag_given(argv, p[0])])
        if flag_given(argv, "--model-name", "--model", "--blocks", "--channel-times", "--askc-type", "--start-layer",
                      "--deep-stem"):
            raise ValueError(f"{args.params} has a run record ({record.path}): it gives the network "
                             f"({record.spec.text()}); drop the model flags")
        args.dataset, args.coarse_labels = record.dataset, record.coarse_labels
        spec = record.spec
    else:
        classes, channels = classes_of(args)
        spec = (ModelSpec.create(args.model_name, classes=classes, in_channels=channels) if args.model_name else
                cifar_spec(args.model, args.askc_type, args.blocks, args.channel_times, args.start_layer, classes,
                           channels, args.deep_stem))
    return load_checkpoint(get_model(spec.text()), args.params), spec.text()


def run() -> None:
    """Console entry (``afflib-eval-cifar --engine torch``): clear errors and exit codes."""
    exit_on_error(main)


def main(argv=None) -> None:
    args = parse_eval("eval_cifar", argv, "torch")
    if bool(args.params) == bool(args.pretrained):
        raise ValueError("give exactly one of --params FILE or --pretrained")
    net, name = network(args, sys.argv[1:] if argv is None else list(argv))
    classes_of(args)
    config = make_run_config(args)
    data = small_image_data(args.dataset, False, args.batch_size, args.data_dir, args.coarse_labels)
    tic = time.time()
    result = evaluate(prepare(net, config), data, config, want_progress(args.no_progress))
    wall = time.time() - tic
    print("\n".join(cifar_test_lines(name, args.dataset, args.coarse_labels, result.top1_error, result.top5_error,
                                      result.samples, wall)))


if __name__ == "__main__":
    run()
