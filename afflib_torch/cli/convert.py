"""Convert an AFF checkpoint between MXNet .params and PyTorch (state_dict .pt/.pth or .safetensors).

The direction follows the file extensions; conversion needs no MXNet (a NumPy reader/writer of the
.params format). A training run's checkpoint needs no --model (its run_config.json names the network). Examples:
    .venv-torch/bin/python scripts/convert.py runs/fmnist/fashion-mnist-cifar_aff_resnet8-c1-last.params fmnist.pt
    .venv-torch/bin/python scripts/convert.py --model cifar_aff_resnet32 CIFAR-AFF-ResNet-32.params aff32.pt
    .venv-torch/bin/python scripts/convert.py --model aff_resnet50 trained.pt aff_resnet50.params
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from afflib.core.outputs import add_force_flag, exit_if_existing
from typing import Any, Dict, List

from afflib.core.modelspec import ModelSpec
from afflib.core.runrecord import RUN_CONFIG, checked_run_record
from afflib.core.cliargs import (exit_on_bad_input, fail, json_object, make_parser,
                            positive_int, refuse_unknown_keys)
from ..convert import CheckpointMismatch, load_checkpoint, save_checkpoint
from ..registry import get_model, model_arguments

MXNET_SUFFIXES = (".params", ".nd")
TORCH_SUFFIXES = (".pt", ".pth", ".safetensors")


def parse_args(argv=None) -> argparse.Namespace:
    p = make_parser(__doc__.split("\n")[0])
    p.add_argument("--model", default=None, help="registry name or printed spec, e.g. cifar_aff_resnet32 or "
                   "iaff_resnext50_32x4d; default: the run's (run_config.json beside the source)")
    p.add_argument("--classes", type=positive_int, default=None, help="classifier outputs (default: the registry's)")
    p.add_argument("--in-channels", type=positive_int, default=None,
                   help="input channels (e.g. 1 for Fashion-MNIST; default: the registry's, 3)")
    p.add_argument("--model-kwargs", default=None, type=json_object,
                   help='more constructor arguments as JSON, e.g. '
                        '\'{"layers": [1, 1, 1], "channels": [16, 16, 32, 64]}\' '
                        '(default: the registry entry\'s)')
    p.add_argument("--dtype", choices=("float32", "float16", "float64"), default="float32",
                   help="element type of a written .params file (default: %(default)s)")
    add_force_flag(p, "output file")
    p.add_argument("source", help="checkpoint to read (.params, or .pt/.pth/.safetensors)")
    p.add_argument("target", help="file to write (.pt/.pth/.safetensors, or .params)")
    args = p.parse_args(argv)
    if args.model_kwargs and args.model:
        refuse_unknown_keys(p, "--model-kwargs", args.model_kwargs, model_arguments(args.model), args.model)
    return args


def model_of(args: argparse.Namespace, kwargs: Dict[str, Any], argv: List[str]) -> str:
    """The model spec to build: the run's (``run_config.json`` beside the source; contradicting flags are refused),
    else that of ``--model``/``--model-kwargs``/``--classes``/``--in-channels``."""
    record = checked_run_record(args.source, argv, args.model, kwargs, args.classes, args.in_channels)
    if record is not None:
        return record.spec.text()
    if not args.model:
        raise ValueError(f"--model is needed: {args.source} has no {RUN_CONFIG} beside it")
    for key in ("classes", "in_channels"):
        if getattr(args, key) is not None:
            kwargs[key] = getattr(args, key)
    return ModelSpec.create(args.model, **kwargs).text()


def main(argv=None) -> int:
    args = parse_args(argv)
    src_ext, dst_ext = (os.path.splitext(f)[1].lower() for f in (args.source, args.target))
    if src_ext not in MXNET_SUFFIXES + TORCH_SUFFIXES or dst_ext not in MXNET_SUFFIXES + TORCH_SUFFIXES:
        fail(f"files must end in {', '.join(MXNET_SUFFIXES + TORCH_SUFFIXES)}; got "
                         f"{args.source!r} -> {args.target!r}")
    exit_if_existing([args.target], args.force)
    kwargs = json.loads(args.model_kwargs) if args.model_kwargs else {}
    try:
        args.model = model_of(args, kwargs, sys.argv[1:] if argv is None else list(argv))
        net = get_model(args.model)
        load_checkpoint(net, args.source)
    except (CheckpointMismatch, FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    save_checkpoint(net, args.target, dtype=args.dtype)
    count = len(net.state_dict())
    print(f"{args.source} -> {args.target}: {args.model} ({count} tensors, "
          f"{sum(p.numel() for p in net.parameters()) / 1e6:.2f}M parameters)")
    return 0


def run() -> None:
    """Console-script entry point ``afflib-convert``."""
    exit_on_bad_input(main)


if __name__ == "__main__":
    run()
