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
from afflib.core.cliargs import float_range, int_range, make_parser, nonneg_int, positive_int
from afflib.train.runner import exit_on_error


def parse_args(argv=None) -> argparse.Namespace:
    p = make_parser("Evaluate an AFF ImageNet model: top-1/top-5 error and images/s.")
    p.add_argument("--model", type=str, default=None, help="registry model name or printed spec, e.g. aff_resnet50; "
                   "default: the run's (run_config.json beside --params)")
    p.add_argument("--params", type=str, default="", help=".params file to evaluate; of a training run, it alone "
                   "gives the model, classes and input size")
    p.add_argument("--pretrained", action="store_true", help="evaluate the released weights (model store)")
    p.add_argument("--classes", type=int_range(2), default=1000, help="classifier outputs")
    p.add_argument("--use-rec", action="store_true", help="read val RecordIO files instead of a val/ folder")
    p.add_argument("--rec-val", type=str, default="~/.mxnet/datasets/imagenet/rec/val.rec",
                   help="validation records (with --use-rec)")
    p.add_argument("--rec-val-idx", type=str, default="~/.mxnet/datasets/imagenet/rec/val.idx",
                   help="index of --rec-val")
    p.add_argument("--data-dir", type=str, default="~/.mxnet/datasets/imagenet", help="folder with val/")
    p.add_argument("--batch-size", type=positive_int, default=32, help="batch size PER DEVICE")
    p.add_argument("--dtype", type=str, default="float32", choices=("float32", "float16"), help="float16 needs GPUs")
    p.add_argument("--input-size", type=int_range(16), default=224, help="centre crop size in pixels")
    p.add_argument("--crop-ratio", type=float_range(0, 1, lo_open=True), default=0.875,
                   help="crop / resized shorter side")
    p.add_argument("-j", "--num-data-workers", dest="num_workers", default=4, type=nonneg_int,
                   help="data loading workers")
    p.add_argument("--gpus", type=str, default="", help="GPU ids, e.g. 0,1; empty: CPU")
    p.add_argument("--num-gpus", type=nonneg_int, default=0, help="use the first N GPUs (instead of --gpus)")
    p.add_argument("--cpus", type=nonneg_int, default=0, help="CPU contexts (0: one CPU unless GPUs are given)")
    p.add_argument("--mode", type=str, default="hybrid", choices=("hybrid", "imperative"),
                   help="hybrid (compiled graph) or imperative")
    p.add_argument("--synthetic", type=nonneg_int, default=0,
                   help="measure images/s on N batches of random data instead (no dataset needed; 0: off)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it only shows on a terminal)")
    return p.parse_args(argv)


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
