"""Top-1/top-5 error and throughput of a params file (released or any checkpoint) on ImageNet validation data.

Example::

    .venv/bin/python scripts/eval_imagenet.py --model aff_resnet50 --params params/0.2030-imagenet-aff_resnet50-230-best.params \
        --use-rec --rec-val rec/val.rec --rec-val-idx rec/val.idx --batch-size 64
"""
import argparse
import os
import sys
import time
from typing import List

import mxnet as mx

from afflib.core.runrecord import RUN_CONFIG, checked_run_record, flag_given
from afflib.data.batches import SyntheticSource
from afflib.train import build_net, evaluate, resolve_dtype, select_contexts
from afflib.train.logs import want_progress
from afflib.core.trainflags import parse_eval
from afflib.train.runner import exit_on_error


def parse_args(argv=None) -> argparse.Namespace:
    """The flags both engines read (:func:`afflib.core.trainflags.eval_imagenet_parser`); PyTorch-engine flags refused."""
    return parse_eval("eval_imagenet", argv, "mxnet")


def use_run_record(args: argparse.Namespace, argv: List[str]) -> None:
    """Model, classes, input size and crop ratio from the run of ``--params`` (``run_config.json`` beside it)
    where not given; a contradicting --model or --classes is refused. Without a record, --model is needed."""
    given = args.classes if flag_given(argv, "--classes") else None
    record = checked_run_record(args.params, argv, args.model, {}, given, None) if args.params else None
    if record is None:
        if not args.model:
            raise ValueError(f"--model is needed: {args.params or 'no --params'} has no {RUN_CONFIG} beside it")
        return
    if record.dataset != "imagenet":
        raise ValueError(f"{args.params} is from a {record.label_set} run ({record.path}); use eval_cifar.py")
    args.model, args.classes = record.spec.text(), record.classes
    for flag, key in (("--input-size", "input_size"), ("--crop-ratio", "crop_ratio")):
        if not flag_given(argv, flag) and getattr(record, key):
            setattr(args, key, getattr(record, key))


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.params and args.pretrained or not (args.params or args.pretrained or args.synthetic):
        raise ValueError("give one of --params FILE or --pretrained (--synthetic alone: random weights, speed only)")
    use_run_record(args, sys.argv[1:] if argv is None else list(argv))
    contexts = select_contexts(args.gpus, args.num_gpus, args.cpus)
    dtype = resolve_dtype(args.dtype, contexts)
    batch_size = args.batch_size * len(contexts)
    init = None if args.pretrained or args.params else mx.init.MSRAPrelu()
    net = build_net(args.model, contexts, args.params or None, bool(args.pretrained), init, dtype,
                    args.mode == "hybrid", classes=args.classes)
    source_name = "released weights" if args.pretrained else args.params or "random weights"
    if args.synthetic:
        source = SyntheticSource(args.synthetic, batch_size, args.input_size, args.classes)
        evaluate(net, SyntheticSource(1, batch_size, args.input_size, args.classes), contexts, dtype)  # warm-up
    else:
        from afflib.data import imagenet
        common = dict(batch_size=batch_size, input_size=args.input_size, crop_ratio=args.crop_ratio,
                      num_workers=args.num_workers)
        if args.use_rec:
            rec, idx = os.path.expanduser(args.rec_val), os.path.expanduser(args.rec_val_idx)
            for path in (rec, idx):
                if not os.path.isfile(path):
                    raise FileNotFoundError(f"record file not found: {path}")
            source = imagenet.record_source(rec, idx, train=False, **common)
        else:
            folder = os.path.join(os.path.expanduser(args.data_dir), "val")
            if not os.path.isdir(folder):
                raise FileNotFoundError(f"validation folder not found: {folder} (or use --use-rec)")
            source = imagenet.folder_source(folder, train=False, auto_augment=False, **common)
    tic = time.time()
    result = evaluate(net, source, contexts, dtype, want_progress(args.no_progress))
    wall = time.time() - tic
    if args.synthetic:
        print("model=%s dtype=%s batch=%d synthetic batches=%d speed: %.1f images/sec"
              % (args.model, dtype, batch_size, args.synthetic, result.samples / wall))
        return
    print("model=%s params=%s images=%d" % (args.model, source_name, result.samples))
    print("validation: err-top1=%f err-top5=%f" % (result.top1_error, result.top5_error))
    print("speed: %.1f images/sec (batch %d, %s, %s)" % (result.samples / wall, batch_size, dtype,
                                                          ",".join(str(c) for c in contexts)))


def run() -> None:
    """Console-script entry point ``afflib-eval-imagenet``."""
    exit_on_error(main)


if __name__ == "__main__":
    run()
