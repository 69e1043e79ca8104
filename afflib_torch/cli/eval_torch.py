"""Top-1/top-5 error and images/s of an AFF checkpoint (MXNet .params or converted PyTorch) in PyTorch.

Datasets: an ImageNet-style val/ folder, Fashion-MNIST IDX files, the CIFAR-10/100 binary test split.
Examples:
    .venv-torch/bin/python scripts/eval_torch.py --params runs/fmnist/fashion-mnist-cifar_aff_resnet8-c1-last.params
    .venv-torch/bin/python scripts/eval_torch.py --dataset cifar100 --model cifar_aff_resnet32 \
        --params aff32.pt --data-dir ~/data/cifar-100-binary
    .venv-torch/bin/python scripts/eval_torch.py --dataset imagenet --model aff_resnet50 \
        --params AFF-ResNet-50.params --data-dir ~/.mxnet/datasets/imagenet --amp bfloat16
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List

import torch

from afflib.core.cliargs import (exit_on_bad_input, fail, float_range, int_range, json_object,
                                 make_parser, nonneg_int, positive_int, refuse_unknown_keys)
from afflib.core.datasets import EVAL_CROP_RATIO, label_set_classes
from afflib.core.modelspec import ModelSpec
from afflib.core.outputs import add_force_flag, exit_if_existing
from afflib.core.runrecord import RUN_CONFIG, checked_run_record, flag_given, refuse_conflicts

from ..convert import CheckpointMismatch, load_checkpoint
from ..data import (DATASETS, DataFormatError, array_batches, imagenet_batches, imagenet_folder, load_cifar_test,
                    load_fashion_mnist_test)
from ..engine import RunConfig, evaluate, prepare
from ..registry import get_model, model_arguments


# Flags that override what the run record (or the registry entry) says about the network: flag, type, help.
MODEL_OVERRIDES = (
    ("--classes", positive_int,
     "classifier outputs (default: the dataset's, 20 with --coarse-labels; every released CIFAR file has 100)"),
    ("--in-channels", positive_int, "input channels (default: the dataset's, 1 for fashion-mnist)"),
    ("--model-kwargs", json_object,
     'more constructor arguments as JSON, e.g. \'{"layers": [1, 1, 1]}\' (default: the registry entry\'s)'),
)


def parse_args(argv=None) -> argparse.Namespace:
    p = make_parser(__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=sorted(DATASETS), default=None,
                   help="test split to score (local files only: nothing is downloaded); default: the run's "
                        "(run_config.json)")
    p.add_argument("--model", default=None, help="registry name or printed spec, e.g. aff_resnet50, "
                   "cifar_aff_resnet8(channels=[16,16,32,64], in_channels=1, classes=10); default: the run's")
    p.add_argument("--params", required=True, help="checkpoint: .params (MXNet), .pt/.pth or .safetensors; of a "
                   "training run, it alone is enough (its run_config.json gives model and dataset)")
    for flag, kind, text in MODEL_OVERRIDES:
        p.add_argument(flag, type=kind, default=None, help=text)
    p.add_argument("--data-dir", default=None, help="imagenet: folder with val/ (default ~/.mxnet/datasets/imagenet); "
                   "fashion-mnist: IDX folder (default /usr/share/datasets/fashion-mnist); cifar: binary folder")
    p.add_argument("--coarse-labels", action="store_true",
                   help="CIFAR-100: score against the 20 superclass labels (released CIFAR files have 100 outputs: "
                        "add --classes 100)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="images per batch")
    p.add_argument("--input-size", type=int_range(16), default=224, help="imagenet crop in pixels")
    p.add_argument("--crop-ratio", type=float_range(0, 1, lo_open=True), default=EVAL_CROP_RATIO,
                   help="imagenet: crop / resized shorter side")
    p.add_argument("-j", "--num-data-workers", dest="workers", type=positive_int, default=4,
                   help="imagenet decode threads")
    p.add_argument("--limit", type=nonneg_int, default=0, help="evaluate only the first N images (0: all)")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:N")
    p.add_argument("--amp", default="float32", choices=("float32", "bfloat16", "float16"), help="autocast dtype")
    p.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (slow start, faster steady state)")
    p.add_argument("--threads", type=positive_int, default=None, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it only shows on a terminal)")
    p.add_argument("--json", default=None, help="also write the result to this JSON file (default: none)")
    add_force_flag(p, "--json file")
    args = p.parse_args(argv)
    if args.model_kwargs and args.model:
        refuse_unknown_keys(p, "--model-kwargs", args.model_kwargs, model_arguments(args.model), args.model)
    return args


def load_batches(args):
    """(batch iterator, number of images, description)."""
    if args.dataset == "imagenet":
        items, classes = imagenet_folder(args.data_dir or "~/.mxnet/datasets/imagenet")
        items = items[:args.limit] if args.limit else items
        return (imagenet_batches(items, args.batch_size, args.input_size, args.crop_ratio, args.workers),
                len(items), f"{len(classes)} classes")
    if args.dataset == "fashion-mnist":
        images, labels = load_fashion_mnist_test(args.data_dir)
    else:
        if not args.data_dir:
            raise DataFormatError(f"--data-dir is required for {args.dataset} (the folder of the binary version)")
        images, labels = load_cifar_test(args.data_dir, args.dataset, args.coarse_labels)
    if args.limit:
        images, labels = images[:args.limit], labels[:args.limit]
    return array_batches(images, labels, args.dataset, args.batch_size), len(images), ""


def model_of(args: argparse.Namespace, kwargs: Dict[str, Any], argv: List[str]) -> str:
    """The model spec to build: the run's (``run_config.json`` beside ``--params``; sets ``args.dataset``, refuses
    contradicting flags), else that of ``--model``/``--model-kwargs``/``--dataset``/``--classes``/``--in-channels``."""
    record = checked_run_record(args.params, argv, args.model, kwargs, args.classes, args.in_channels)
    if record is not None:
        refuse_conflicts(record, args.params, [pair for pair in (
            ("--dataset", args.dataset, record.dataset), ("--coarse-labels", args.coarse_labels, record.coarse_labels))
            if flag_given(argv, pair[0])])
        args.dataset, args.coarse_labels = record.dataset, record.coarse_labels
        return record.spec.text()
    if not (args.model and args.dataset):
        raise ValueError(f"--model and --dataset are needed: {args.params} has no {RUN_CONFIG} beside it")
    channels = DATASETS[args.dataset].channels
    classes = label_set_classes("cifar100-coarse") if args.coarse_labels else DATASETS[args.dataset].classes
    kwargs.setdefault("classes", args.classes or classes)
    if args.in_channels or channels != 3:
        kwargs.setdefault("in_channels", args.in_channels or channels)
    return ModelSpec.create(args.model, **kwargs).text()


def main(argv=None) -> int:
    args = parse_args(argv)
    exit_if_existing([args.json] if args.json else [], args.force)
    if args.threads:
        torch.set_num_threads(args.threads)
    kwargs = json.loads(args.model_kwargs) if args.model_kwargs else {}
    try:
        args.model = model_of(args, kwargs, sys.argv[1:] if argv is None else list(argv))
        run = RunConfig.create(args.device, args.channels_last, args.amp, args.compile)
        net = load_checkpoint(get_model(args.model), args.params)
        batches, total, note = load_batches(args)
    except (CheckpointMismatch, DataFormatError, FileNotFoundError, ValueError, RuntimeError) as exc:
        fail(str(exc))
    progress = None
    if not args.no_progress and sys.stderr.isatty():
        try:
            from tqdm import tqdm
            bar = tqdm(total=total, unit="img", desc="eval")
            progress = bar.update
        except ImportError:
            pass
    result = evaluate(prepare(net, run), batches, run, progress)
    labels = " (coarse labels)" if args.coarse_labels else ""
    print("model=%s params=%s dataset=%s%s images=%d%s" % (args.model, args.params, args.dataset, labels,
                                                           result.samples, f" ({note})" if note else ""))
    if args.dataset == "imagenet":
        print("validation: err-top1=%f err-top5=%f" % (result.top1_error, result.top5_error))
    else:
        print("test accuracy: %.4f (error %.4f, top-5 error %.4f)" % (1 - result.top1_error, result.top1_error,
                                                                      result.top5_error))
    print("speed: %.1f images/sec (batch %d, %s, %s%s%s, torch %s)" % (
        result.images_per_s, args.batch_size, args.amp, run.device, ", channels_last" if run.channels_last else "",
        ", compiled" if run.compile else "", torch.__version__))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(model=args.model, params=args.params, dataset=args.dataset, samples=result.samples,
                           top1_error=result.top1_error, top5_error=result.top5_error,
                           images_per_s=result.images_per_s), f, indent=1)
    return 0


def run() -> None:
    """Console-script entry point ``afflib-eval-torch``."""
    exit_on_bad_input(main)


if __name__ == "__main__":
    run()
