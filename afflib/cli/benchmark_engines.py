"""``scripts/benchmark.py --engines``: both engines side by side in one run, each configuration in its own process.

Configurations (``--engines`` picks them; ``all`` = every one, in this order):

- ``release``: the original release's AFF in MXNet, as this tool's ``textbook`` yardstick builds it (fusion
  modules written the straightforward way, see afflib/model_zoo/textbook.py), hybridized; the baseline of the
  ratios;
- ``mxnet``: afflib's MXNet AFF (hybridized, static);
- ``torch-eager``: the PyTorch engine, eager float32 (fused blend);
- ``torch-cl-bf16``: eager, channels_last with bfloat16 autocast (emulated where the CPU lacks native bf16);
- ``torch-compiled``: ``torch.compile``, float32.

Every configuration but ``release`` also times its plain-addition twin (``release``'s add twin is ``mxnet``'s:
DirectAdd has one form). MXNet workers run under this interpreter, torch workers under ``--torch-python``
(default: the checkout's ``.venv-torch/bin/python``). Workers are built, warmed up, then asked in turn for
``--iterations`` timed steps per round (:mod:`afflib.core.benchproc`); the table gives medians over the rounds.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Dict, List, Tuple

from afflib import benchmark as bench
from afflib.core import benchproc
from afflib.core.cliargs import positive_int
from afflib.core.registry import plain_twin

CHECKOUT = Path(__file__).resolve().parents[2]
# name -> (engine, MXNet model source prefix or torch variant)
ENGINE_CONFIGS: Dict[str, Tuple[str, str]] = {
    "release": ("mxnet", "textbook:"),
    "mxnet": ("mxnet", ""),
    "torch-eager": ("torch", "eager"),
    "torch-cl-bf16": ("torch", "eager-cl-bf16"),
    "torch-compiled": ("torch", "compiled"),
}
# The small CIFAR AFF-ResNet of the performance issue (1 block per stage, widths 16-64), batch 128, 32x32.
SMALL_CIFAR = dict(model="cifar_aff_resnet20", layers=[1, 1, 1], channels=[16, 16, 32, 64], classes=10,
                   batch_size=128, input_size=32)


def engine_list(text: str) -> List[str]:
    """argparse ``type=`` of --engines: comma-separated names of ENGINE_CONFIGS, or ``all``."""
    names = list(ENGINE_CONFIGS) if text.strip() == "all" else [t.strip() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in ENGINE_CONFIGS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"expected 'all' or names from {', '.join(ENGINE_CONFIGS)}, got {text!r}")
    return list(dict.fromkeys(names))


def add_engine_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of the side-by-side mode (added to scripts/benchmark.py's parser)."""
    group = parser.add_argument_group("both engines side by side (--engines)")
    group.add_argument("--engines", type=engine_list, default=None,
                       help=f"comma-separated from {', '.join(ENGINE_CONFIGS)}, or all: time these configurations "
                            "(and their add twins), each in its own process, alternated over --rounds; the first "
                            "is the baseline of the ratios (default: off)")
    group.add_argument("--torch-python", default=str(CHECKOUT / ".venv-torch" / "bin" / "python"),
                       help="interpreter of the torch workers (default: the checkout's .venv-torch/bin/python)")
    group.add_argument("--threads", type=positive_int, default=None,
                       help="OMP_NUM_THREADS of every worker (default: inherited)")
    group.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # JSON spec: serve one MXNet configuration


def check_engine_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Fill the small CIFAR defaults and refuse what the side-by-side mode cannot do (exit 2, flag named)."""
    if args.model is None:
        for key, value in SMALL_CIFAR.items():
            if getattr(args, key) is None:
                setattr(args, key, value)
    args.batch_size = args.batch_size or 32
    args.input_size = args.input_size or 224
    for flag, value in (("--mode", args.mode != "train"), ("--optimize", args.optimize),
                        ("--baseline", args.baseline), ("--profile", args.profile), ("--ctx", args.ctx != "cpu"),
                        ("--dtype", args.dtype != "float32"), ("--data-rec", args.data_rec),
                        ("--data-fashion-mnist", args.data_fashion_mnist)):
        if value:
            parser.error(f"argument {flag}: not available with --engines (training steps on the CPU, float32 "
                         "unless the configuration says otherwise)")
    if any(ENGINE_CONFIGS[n][0] == "torch" for n in args.engines) and not Path(args.torch_python).is_file():
        parser.error(f"argument --torch-python: {args.torch_python} does not exist (create the torch environment: "
                     "make .venv-torch, or name an interpreter with torch)")


def serve_mxnet_worker(spec: dict) -> None:
    """One MXNet configuration as a worker of :mod:`afflib.core.benchproc`."""
    import mxnet as mx
    step = bench.make_step(bench.BenchConfig(**spec))
    step()
    benchproc.serve(step, spec["batch_size"], {"mxnet": mx.__version__})


def _overrides(args: argparse.Namespace) -> dict:
    kwargs = {k: getattr(args, k) for k in ("layers", "channels", "classes") if getattr(args, k) is not None}
    if args.in_channels != 3:
        kwargs["in_channels"] = args.in_channels
    return kwargs


def worker_commands(args: argparse.Namespace) -> List[Tuple[str, List[str], str]]:
    """``(label, command, twin label or "")`` of every worker, in table order: each configuration, then its twin."""
    twin = plain_twin(args.model)
    common = dict(batch_size=args.batch_size, input_size=args.input_size, in_channels=args.in_channels)
    overrides = _overrides(args)
    plans = []
    for name in args.engines:
        engine, how = ENGINE_CONFIGS[name]
        for model in ([args.model] if name == "release" else [args.model, twin]):
            if engine == "mxnet":
                spec = dict(common, model=how + model, model_kwargs=overrides)
                command = [sys.executable, "-m", "afflib.cli.benchmark", "--worker", json.dumps(spec)]
            else:
                spec = dict(common, model=model, overrides=overrides, variant=how, device="cpu")
                command = [args.torch_python, "-m", "afflib_torch.cli.benchmark_torch", "--worker", json.dumps(spec)]
            label = f"{name} {model}"
            plans.append((label, command, f"{name} {twin}" if model == args.model and name != "release" else ""))
    return plans


def format_rows(rows: List[dict], baseline: str) -> str:
    """Markdown: median images/s, the rounds' range, speed vs the baseline, AFF time vs its add twin."""
    lines = [f"| configuration | median images/s | rounds min-max | images/CPU-s | x {baseline} (speed) | "
             "AFF time / add time |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        twin = "-" if r["time_vs_twin"] is None else f"{r['time_vs_twin']:.2f}"
        lines.append(f"| {r['label']} | {r['median_images_per_s']:.1f} | {r['round_min']:.1f}-{r['round_max']:.1f} | "
                     f"{r['median_images_per_cpu_s']:.1f} | {r['x_baseline']:.2f} | {twin} |")
    return "\n".join(lines)


def run_engines(args: argparse.Namespace) -> int:
    """Start every worker, time them alternately, print (and with --json write) the table."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), env.get("PYTHONPATH")]))
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    plans = worker_commands(args)
    progress = (lambda message: print(f"  {message}", file=sys.stderr, flush=True)) if sys.stderr.isatty() else None
    workers: Dict[str, benchproc.Worker] = {}
    before = bench.machine_note()
    try:
        for label, command, _ in plans:  # one at a time: building (compiling) does not overlap timing
            workers[label] = benchproc.Worker(label, command, env)
            workers[label].ready()
            if progress:
                progress(f"built {label}")
        timings = benchproc.alternate(workers, args.iterations, args.rounds, args.warmup, progress)
    except RuntimeError as error:
        raise SystemExit(f"error: {error}") from None
    finally:
        for worker in workers.values():
            worker.close()
    rows = benchproc.summary_rows(timings, plans[0][0], {label: twin for label, _, twin in plans if twin})
    note = f"machine before: {before}; after: {bench.machine_note()}"
    print(f"training, {args.model} {_overrides(args)}, batch {args.batch_size}, {args.input_size}x{args.input_size}, "
          f"CPU; one process per configuration, {args.rounds} alternated rounds x {args.iterations} steps after "
          f"{args.warmup} warm-up; medians over rounds")
    print(format_rows(rows, plans[0][0]))
    print(note)
    for label, worker in workers.items():
        if worker.info.get("bf16_native") is False:
            print(f"note: {label}: bfloat16 is emulated on this CPU (no native bf16 instructions)")
    if args.json:
        payload = {"arguments": {k: v for k, v in vars(args).items() if k != "worker"}, "machine": note,
                   "workers": {label: w.info for label, w in workers.items()}, "results": rows}
        tmp = args.json + ".tmp"
        with open(tmp, "w") as handle:
            json.dump(payload, handle, indent=2)
        os.replace(tmp, args.json)
    return 0
