"""Training / inference throughput of an AFF network against its baselines, timed interleaved in one run.

Examples::

    # the small CIFAR AFF-ResNet vs the textbook AFF and the plain-addition twin
    .venv/bin/python scripts/benchmark.py --model cifar_aff_resnet20 --layers 1 1 1 --channels 16 16 32 64 --classes 10 \
        --batch-size 128 --input-size 32 --baseline textbook add gluoncv
    # optimised CPU inference
    .venv/bin/python scripts/benchmark.py --model aff_resnet50 --mode infer --batch-size 32 --optimize fuse int8

    # both engines side by side, each configuration in its own process (default: the small CIFAR AFF-ResNet)
    .venv/bin/python scripts/benchmark.py --engines all

Baselines: ``add`` (the plain-addition twin), ``textbook`` (the same network with fusion modules written
the straightforward way, see afflib/model_zoo/textbook.py), ``gluoncv`` (GluonCV's closest model) or any model
name, ``gluoncv:NAME`` or ``textbook:NAME``. Ratios are relative to the first row (the --model).
``--engines`` times the engines' configurations instead (see afflib/cli/benchmark_engines.py).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import mxnet as mx

from afflib import benchmark as bench
from afflib.core.cliargs import int_range, make_parser, nonneg_int, positive_int
from afflib.core.outputs import add_force_flag, exit_if_existing
from afflib.core.registry import plain_twin
from afflib.model_zoo.textbook import build_textbook_model
from afflib.train.runner import exit_on_error

from . import benchmark_engines as engines

bench.register_model_source("textbook", build_textbook_model)

GLUONCV_TWINS = [  # (pattern on the afflib name, GluonCV model); the first match wins
    (r"(?:aff|iaff|add)_resnet(\d+)$", "resnet{0}_v1d"),
    (r"(?:aff|iaff|add)_resnext(\d+_\d+x\d+d)$", "resnext{0}"),
    (r"cifar_(?:aff|iaff|add)_resnet(\d+)$", "cifar_resnet{0}_v2"),
]


def add_twin(model: str) -> str:
    """The plain-addition twin of ``model`` (``--baseline add``)."""
    try:
        return plain_twin(model)
    except ValueError as err:
        raise ValueError(f"--baseline add: {err}") from None


def gluoncv_twin(model: str, layers) -> str:
    for pattern, template in GLUONCV_TWINS:
        match = re.match(pattern, model)
        if match:
            key = match.group(1)
            if template.startswith("cifar") and layers:
                key = str(6 * int(layers[0]) + 2)  # GluonCV's CIFAR ResNet: 6n+2 layers, n blocks per stage
            return "gluoncv:" + template.format(key)
    raise ValueError(f"--baseline gluoncv: no GluonCV counterpart known for {model!r}; name one as gluoncv:NAME")


def resolve_baseline(token: str, model: str, layers) -> str:
    if token == "add":
        return add_twin(model)
    if token == "textbook":
        return "textbook:" + model
    if token == "gluoncv":
        return gluoncv_twin(model, layers)
    return token


def parse_args(argv=None) -> argparse.Namespace:
    parser = make_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="registry name, e.g. aff_resnet50, cifar_aff_resnet20 (required, except "
                                        "with --engines: default the small CIFAR AFF-ResNet)")
    parser.add_argument("--baseline", nargs="*", default=[],
                        help="add, textbook, gluoncv, or model names (gluoncv:NAME, textbook:NAME); default: none")
    parser.add_argument("--mode", choices=bench.MODES, default="train", help="time training steps or inference")
    parser.add_argument("--optimize", nargs="*", default=[], choices=["fuse", "int8"],
                        help="(--mode infer) also time these optimised copies of --model; default: none")
    parser.add_argument("--batch-size", type=positive_int, help="images per step (default 32; --engines: 128)")
    parser.add_argument("--input-size", type=int_range(16),
                        help="input height and width in pixels (default 224; --engines: 32)")
    parser.add_argument("--in-channels", type=positive_int, default=3, help="input channels (1 for Fashion-MNIST)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16"], help="float16 needs --ctx gpu")
    parser.add_argument("--ctx", default="cpu", choices=["cpu", "gpu"], help="gpu: the first GPU (needs a GPU build)")
    parser.add_argument("--layers", type=positive_int, nargs="+",
                        help="override the blocks per stage (afflib models; default: the registry's)")
    parser.add_argument("--channels", type=positive_int, nargs="+",
                        help="override the widths (CIFAR afflib models; default: the registry's)")
    parser.add_argument("--classes", type=positive_int, help="classifier outputs (all models; default: the registry's)")
    parser.add_argument("--iterations", type=positive_int, default=5,
                        help="timed iterations per configuration per round")
    parser.add_argument("--rounds", type=positive_int, default=3, help="round-robin rounds over the configurations")
    parser.add_argument("--warmup", type=nonneg_int, default=2, help="untimed iterations before timing")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory child processes")
    parser.add_argument("--data-rec", help="ImageNet-style .rec (with .idx beside it): also time the record "
                                           "pipeline with and without AutoAugment (default: none)")
    parser.add_argument("--data-fashion-mnist", metavar="REC_DIR",
                        help="Fashion-MNIST records (scripts/pack_fashion_mnist.py): also time that pipeline with and "
                             "without augmentation (default: none)")
    parser.add_argument("--data-batches", type=positive_int, default=20, help="batches drawn per pipeline measurement")
    parser.add_argument("--json", help="also write the results to this JSON file (default: none)")
    parser.add_argument("--profile", type=nonneg_int, metavar="STEPS", default=0,
                        help="instead of timing, print MXNet's per-operator profile of STEPS steps per "
                             "configuration (0: off)")
    engines.add_engine_flags(parser)
    add_force_flag(parser, "--json file")
    args = parser.parse_args(argv)
    if args.worker:
        return args
    if args.engines:
        engines.check_engine_args(parser, args)
        return args
    if args.model is None:
        parser.error("the following arguments are required: --model (or use --engines)")
    args.batch_size = args.batch_size or 32
    args.input_size = args.input_size or 224
    if args.optimize and args.mode != "infer":
        parser.error("--optimize applies to --mode infer only")
    if args.ctx == "gpu" and mx.context.num_gpus() == 0:
        parser.error("argument --ctx: gpu, but this MXNet sees no GPU (CPU build of mxnet, or no CUDA device); "
                     "use --ctx cpu")
    if args.dtype != "float32" and args.ctx == "cpu":
        parser.error(f"argument --dtype: {args.dtype} needs --ctx gpu (MXNet has no float16 GEMM on CPU)")
    return args


def build_configs(args: argparse.Namespace):
    kwargs = {k: v for k, v in (("layers", args.layers), ("channels", args.channels), ("classes", args.classes))
              if v is not None}
    if args.in_channels != 3:
        kwargs["in_channels"] = args.in_channels
    common = dict(mode=args.mode, batch_size=args.batch_size, input_size=args.input_size,
                  in_channels=args.in_channels, dtype=args.dtype, ctx=args.ctx, model_kwargs=kwargs)
    models = [args.model] + [resolve_baseline(t, args.model, args.layers) for t in args.baseline]
    configs = [bench.BenchConfig(model=m, **common) for m in dict.fromkeys(models)]
    configs += [bench.BenchConfig(model=args.model, optimize=o, **common) for o in dict.fromkeys(args.optimize)]
    return configs


def data_pipeline_rows(args: argparse.Namespace):
    """Images/s of the record pipelines (needs afflib.data): ImageNet-style with and without AutoAugment,
    Fashion-MNIST with and without its pad-crop-flip augmentation."""
    workers = max(1, (os.cpu_count() or 2) - 1)
    sources = []
    try:
        if args.data_rec:
            from afflib.data.imagenet import record_source
            rec = Path(args.data_rec)
            for auto_augment in (False, True):
                name = "record + AutoAugment" if auto_augment else "record"
                sources.append((name, lambda a=auto_augment: record_source(
                    rec, rec.with_suffix(".idx"), args.batch_size, train=True, input_size=args.input_size,
                    num_workers=workers, auto_augment=a)))
        if args.data_fashion_mnist:
            from afflib.data import fashion_mnist
            for augment in (False, True):
                sources.append(("Fashion-MNIST record" + (" + pad-crop-flip" if augment else ""),
                                lambda a=augment: fashion_mnist.record_source(
                                    args.data_fashion_mnist, train=True, batch_size=args.batch_size,
                                    num_workers=workers, augment=a)))
    except ImportError as error:
        raise SystemExit(f"the data pipeline options need afflib.data, which this checkout lacks ({error})")
    from afflib.data import measure_throughput
    return [{"pipeline": name,
             "images_per_second": measure_throughput(make(), max_batches=args.data_batches)["images_per_s"]}
            for name, make in sources]


def print_profiles(configs, steps: int) -> None:
    os.environ["MXNET_EXEC_BULK_EXEC_TRAIN"] = "0"  # one row per operator, not per bulked segment
    os.environ["MXNET_EXEC_BULK_EXEC_INFERENCE"] = "0"
    for config in configs:
        print(f"## {config.label} ({config.mode}, batch {config.batch_size}): {bench.machine_note()}")
        print(bench.profile_operators(bench.make_step(config), steps))


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        engines.serve_mxnet_worker(json.loads(args.worker))
        return 0
    exit_if_existing([args.json] if args.json else [], args.force)
    if args.engines:
        return engines.run_engines(args)
    configs = build_configs(args)
    if args.profile:
        print_profiles(configs, args.profile)
        return 0
    progress = (lambda message: print(f"  {message}", file=sys.stderr, flush=True)) if sys.stderr.isatty() else None
    before = bench.machine_note()
    rows = bench.run_benchmark(configs, iterations=args.iterations, rounds=args.rounds, warmup=args.warmup,
                               memory=not args.no_memory, progress=progress)
    note = f"machine before: {before}; after: {bench.machine_note()}"
    print(f"{args.mode}, batch {args.batch_size}, {args.input_size}x{args.input_size}, {args.dtype} on {args.ctx}; "
          f"{args.rounds} interleaved rounds x {args.iterations} iterations after {args.warmup} warm-up")
    print(bench.format_table(rows))
    if not args.no_memory:
        print("peak RSS: VmHWM during 2 steps minus VmRSS after import, in a fresh process per configuration")
    print(note)
    pipeline = data_pipeline_rows(args) if (args.data_rec or args.data_fashion_mnist) else []
    for row in pipeline:
        print(f"data pipeline {row['pipeline']}: {row['images_per_second']:.1f} images/s "
              f"(training above: {rows[0]['images_per_second']:.1f} images/s)")
    if args.json:
        payload = {"arguments": vars(args), "machine": note, "results": rows, "data_pipeline": pipeline}
        tmp = args.json + ".tmp"
        with open(tmp, "w") as handle:
            json.dump(payload, handle, indent=2)
        os.replace(tmp, args.json)
    return 0


def run() -> None:
    """Console-script entry point ``afflib-benchmark``."""
    exit_on_error(lambda: sys.exit(main()))


if __name__ == "__main__":
    run()
