"""Training images/s of the PyTorch twins: AFF vs its plain-addition twin, eager vs compiled, fp32 vs bf16.

Example (the small CIFAR AFF-ResNet of the performance issue):
    .venv-torch/bin/python scripts/benchmark_torch.py --model cifar_aff_resnet20 --layers 1 1 1 \
        --channels 16 16 32 64 --classes 10 --batch-size 128 --input-size 32 --configs eager,compiled
"""
from __future__ import annotations

import argparse
import json
import os

import torch

from afflib.core.cliargs import exit_on_bad_input, int_range, make_parser, nonneg_int, positive_int
from afflib.core.outputs import add_force_flag, exit_if_existing
from afflib.core.registry import plain_twin

from afflib.core.benchproc import serve

from ..benchmark import format_table, time_interleaved
from ..engine import AMP_DTYPES, RunConfig, bf16_supported, prepare, select_device, train_step_fn
from ..fusion import set_fused_blend
from ..registry import get_model

# Configuration name -> (RunConfig options, fused blend).
VARIANTS = {
    "eager": (dict(), True),
    "eager-unfused": (dict(), False),
    "eager-cl": (dict(channels_last=True), True),
    "eager-bf16": (dict(amp="bfloat16"), True),
    "eager-cl-bf16": (dict(channels_last=True, amp="bfloat16"), True),
    "eager-kernel": (dict(), "kernel"),
    "compiled": (dict(compile=True), True),
    "compiled-unfused": (dict(compile=True), False),
    "compiled-cl": (dict(compile=True, channels_last=True), True),
    "compiled-bf16": (dict(compile=True, amp="bfloat16"), True),
    "compiled-cl-bf16": (dict(compile=True, channels_last=True, amp="bfloat16"), True),
}


def variant_list(text: str) -> str:
    """argparse ``type=`` of --configs: comma-separated names of VARIANTS (returned as text)."""
    unknown = [c.strip() for c in text.split(",") if c.strip() and c.strip() not in VARIANTS]
    if unknown or not text.strip(", "):
        raise argparse.ArgumentTypeError(f"expected names from {', '.join(VARIANTS)}, got {text!r}")
    return text


def parse_args(argv=None) -> argparse.Namespace:
    p = make_parser(__doc__.split("\n")[0])
    p.add_argument("--model", default="cifar_aff_resnet20", help="registry name")
    p.add_argument("--baseline", nargs="*", default=None,
                   help="more models to time; default: the plain-addition twin of --model")
    p.add_argument("--layers", type=positive_int, nargs="+",
                   help="override the blocks per stage (default: the registry's)")
    p.add_argument("--channels", type=positive_int, nargs="+",
                   help="override the widths (CIFAR families; default: the registry's)")
    p.add_argument("--classes", type=positive_int, default=None, help="classifier outputs (default: the registry's)")
    p.add_argument("--batch-size", type=positive_int, default=128, help="images per step")
    p.add_argument("--input-size", type=int_range(16), default=32, help="input height and width in pixels")
    p.add_argument("--configs", default="eager,compiled",
                   type=variant_list, help=f"comma-separated, from {', '.join(VARIANTS)}")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--warmup", type=nonneg_int, default=3, help="untimed steps before timing")
    p.add_argument("--iterations", type=positive_int, default=10, help="timed steps per configuration per round")
    p.add_argument("--rounds", type=positive_int, default=3, help="round-robin rounds over the configurations")
    p.add_argument("--clock", choices=("wall", "process"), default="wall",
                   help="wall time, or this process's CPU time (robust on a shared machine with --threads 1)")
    p.add_argument("--threads", type=positive_int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--json", default=None, help="also write the results to this JSON file (default: none)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # JSON spec: serve one configuration
    add_force_flag(p, "--json file")
    return p.parse_args(argv)


def serve_worker(spec: dict) -> None:
    """One configuration as a worker of :mod:`afflib.core.benchproc` (``scripts/benchmark.py --engines``).

    ``spec``: model, overrides, batch_size, input_size, in_channels, variant (a VARIANTS name), device,
    threads. bfloat16 runs where it is only emulated too (the benchmark measures what is asked; the ready
    message says whether it is native)."""
    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    options, fused = VARIANTS[spec["variant"]]
    device = select_device(spec.get("device", "cpu"))
    run = RunConfig(device, options.get("channels_last", False), AMP_DTYPES[options.get("amp", "float32")],
                    options.get("compile", False))
    torch.manual_seed(0)
    net = get_model(spec["model"], **spec.get("overrides", {}))
    set_fused_blend(net, fused)
    classes = net.fc.out_features if hasattr(net, "fc") else net.output.out_features
    batch = torch.randn(spec["batch_size"], spec.get("in_channels", 3), spec["input_size"], spec["input_size"])
    labels = torch.randint(0, classes, (spec["batch_size"],))
    step = train_step_fn(prepare(net, run), run, batch, labels)
    step()  # the first step (compilation for compiled variants) before "ready"
    serve(step, spec["batch_size"], {"torch": torch.__version__, "threads": torch.get_num_threads(),
                                     "bf16_native": bf16_supported(device) if run.amp_dtype else None})


def twin_name(name: str) -> str:
    """The default baseline: the plain-addition twin of ``name``."""
    try:
        return plain_twin(name)
    except ValueError as err:
        raise ValueError(f"{err}: give --baseline explicitly") from None


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        serve_worker(json.loads(args.worker))
        return 0
    exit_if_existing([args.json] if args.json else [], args.force)
    if args.threads:
        torch.set_num_threads(args.threads)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in configs if c not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown --configs {unknown}; valid: {', '.join(VARIANTS)}")
    models = [args.model] + (args.baseline if args.baseline is not None else [twin_name(args.model)])
    overrides = {k: v for k, v in (("layers", args.layers), ("channels", args.channels),
                                   ("classes", args.classes)) if v is not None}
    torch.manual_seed(0)
    in_channels = 3
    batch = torch.randn(args.batch_size, in_channels, args.input_size, args.input_size)
    steps = {}
    for config_name in configs:
        options, fused = VARIANTS[config_name]
        for model_name in models:
            run = RunConfig.create(device=args.device, **options)
            net = get_model(model_name, **overrides)
            set_fused_blend(net, fused)
            classes = net.fc.out_features if hasattr(net, "fc") else net.output.out_features
            labels = torch.randint(0, classes, (args.batch_size,))
            steps[f"{model_name} {config_name}"] = train_step_fn(prepare(net, run), run, batch, labels)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, batch "
          f"{args.batch_size}, {args.clock} clock, {args.input_size}x{args.input_size}, load average "
          f"{os.getloadavg()}", flush=True)
    results = time_interleaved(steps, args.batch_size, args.warmup, args.iterations, args.rounds, args.clock)
    print(format_table(results))
    print(f"load average after: {os.getloadavg()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r.__dict__ for r in results], f, indent=1)
    return 0


def run() -> None:
    """Console-script entry point ``afflib-benchmark-torch``."""
    exit_on_bad_input(main)


if __name__ == "__main__":
    run()
