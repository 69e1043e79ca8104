"""Top-1/top-5 error and throughput of a checkpoint (released, or of a run of either engine) on ImageNet validation
data with PyTorch: the MXNet engine's ``eval_imagenet`` flags and lines (``scripts/eval_imagenet.py --engine
torch``). Example::

    .venv-torch/bin/python scripts/eval_imagenet.py --engine torch --params runs/r50/imagenet-aff_resnet50-last.params \\
        --use-rec --rec-val rec/val.rec --rec-val-idx rec/val.idx --dtype bfloat16 --channels-last
"""
from __future__ import annotations

import sys
import time

import torch

from afflib.core.progress import want_progress
from afflib.core.runrecord import use_imagenet_record
from afflib.core.trainflags import parse_eval

from ..convert import load_checkpoint
from ..engine import prepare
from ..registry import get_model
from ..train.loop import evaluate
from ..train.runner import exit_on_error, init_weights, make_run_config
from .imagenet_source import SyntheticBatches, val_data


def main(argv=None) -> None:
    args = parse_eval("eval_imagenet", argv, "torch")
    if args.params and args.pretrained or not (args.params or args.pretrained or args.synthetic):
        raise ValueError("give one of --params FILE or --pretrained (--synthetic alone: random weights, speed only)")
    use_imagenet_record(args, sys.argv[1:] if argv is None else list(argv))
    config = make_run_config(args)
    if args.pretrained:
        net = get_model(args.model, pretrained=True, classes=args.classes)
    else:
        net = get_model(args.model, classes=args.classes) if "(" not in args.model else get_model(args.model)
        net = load_checkpoint(net, args.params) if args.params else init_weights(net, "msra")
    model = prepare(net, config)
    source_name = "released weights" if args.pretrained else args.params or "random weights"
    if args.synthetic:
        data = SyntheticBatches(args.synthetic, args.batch_size, args.input_size, args.classes)
        evaluate(model, SyntheticBatches(1, args.batch_size, args.input_size, args.classes), config)  # warm-up
    else:
        data = val_data(args, args.batch_size, config.device)
    tic = time.time()
    result = evaluate(model, data, config, want_progress(args.no_progress))
    if config.device.type == "cuda":
        torch.cuda.synchronize()
    wall = time.time() - tic
    if args.synthetic:
        print("model=%s dtype=%s batch=%d synthetic batches=%d speed: %.1f images/sec"
              % (args.model, args.dtype, args.batch_size, args.synthetic, result.samples / wall))
        return
    print("model=%s params=%s images=%d" % (args.model, source_name, result.samples))
    print("validation: err-top1=%f err-top5=%f" % (result.top1_error, result.top5_error))
    print("speed: %.1f images/sec (batch %d, %s, %s)" % (result.samples / wall, args.batch_size, args.dtype,
                                                          config.device))


def run() -> None:
    """Console entry (``afflib-eval-imagenet --engine torch``): clear errors and exit codes."""
    exit_on_error(main)


if __name__ == "__main__":
    run()
