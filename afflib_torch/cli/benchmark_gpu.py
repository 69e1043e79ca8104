"""GPU training throughput of aff_resnet50 vs its plain-addition twin: bf16, channels_last, eager and compiled.

One prepared run for a lent GPU (no internet, no MXNet, no installed afflib: ``PYTHONPATH=.`` from a checkout)::

    PYTHONPATH=. python scripts/benchmark_gpu.py --out results/   # ~8 minutes on an H100, compile included

Each configuration runs in its own subprocess (a fresh CUDA context and allocator, no compile cache shared in
memory): build, one first step (timed apart: for compiled configurations that is the compilation), warm-up
steps, then timed windows of ``--steps`` steps each until the configuration's share of ``--budget-s`` is spent
(at most ``--windows``); the rate is the median over windows. Synthetic data (one fixed random batch on the
device) unless ``--data-loader`` names a batch factory for the end-to-end row. Writes ``benchmark_gpu.json``
and ``benchmark_gpu.md`` under ``--out``. On the CPU (``--device cpu``) it runs too, with tiny settings, so
a CPU test proves the whole path.
"""
from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional

from afflib.core.cliargs import exit_on_bad_input, int_range, make_parser, nonneg_int, positive_int
from afflib.core.registry import plain_twin

# The release's training speed per GPU: its aff_resnet50 log (4 GPUs, float16, batch 128 per GPU) reports
# ~2,160 samples/s in all, i.e. ~540 images/s per GPU.
RELEASE_IMAGES_PER_S_PER_GPU = 540.0
# Configuration name -> (torch.compile, fused blend mode); every one runs channels_last unless --no-channels-last.
CONFIGS = {"eager": (False, True), "eager-kernel": (False, "kernel"), "eager-unfused": (False, False),
           "compiled": (True, True), "compiled-unfused": (True, False)}
# Share of the budget a configuration gets, relative to an eager one (compilation takes minutes).
_WEIGHT = {"eager": 1.0, "eager-kernel": 1.2, "eager-unfused": 1.0, "compiled": 3.0, "compiled-unfused": 3.0}
_ROOT = Path(__file__).resolve().parents[2]


def config_list(text: str) -> List[str]:
    """argparse ``type=`` of --configs: comma-separated names of CONFIGS."""
    names = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in names if c not in CONFIGS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"expected names from {', '.join(CONFIGS)}, got {text!r}")
    return names


def parse_args(argv=None) -> argparse.Namespace:
    p = make_parser(__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="output folder for benchmark_gpu.json and benchmark_gpu.md")
    p.add_argument("--model", default="aff_resnet50", help="registry name (default aff_resnet50)")
    p.add_argument("--baseline", default=None,
                   help="comparison model (default: the plain-addition twin of --model; 'none': no baseline rows)")
    p.add_argument("--configs", type=config_list, default=["eager", "compiled", "compiled-unfused"],
                   help=f"comma-separated, from {', '.join(CONFIGS)} (default eager,compiled,compiled-unfused; "
                        "the add twin is timed once per eager/compiled, it has no blend)")
    p.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default cuda)")
    p.add_argument("--dtype", choices=("auto", "bfloat16", "float16", "float32"), default="auto",
                   help="autocast dtype; auto (default): bfloat16 on CUDA, float32 on the CPU (where bfloat16 is "
                        "emulated on most processors); float16 adds a gradient scaler")
    p.add_argument("--no-channels-last", action="store_true", help="keep NCHW (default: channels_last)")
    p.add_argument("--batch-size", type=positive_int, default=256, help="images per step (default 256)")
    p.add_argument("--input-size", type=int_range(32), default=224, help="height and width (default 224)")
    p.add_argument("--steps", type=positive_int, default=20, help="steps per timed window (default 20)")
    p.add_argument("--windows", type=positive_int, default=5, help="at most this many timed windows (default 5)")
    p.add_argument("--warmup", type=nonneg_int, default=5, help="untimed steps after the first (default 5)")
    p.add_argument("--budget-s", type=positive_int, default=450,
                   help="wall seconds for the whole run, compilation included (default 450)")
    p.add_argument("--data-loader", default=None, metavar="MODULE:FUNCTION",
                   help="end-to-end row: FUNCTION(path, batch_size, input_size) returns an iterable of "
                        "(images, labels) CPU batches, timed with the fastest configuration (default: none)")
    p.add_argument("--data-path", default="", help="passed to --data-loader's function (e.g. a .rec file)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.dtype == "auto":
        args.dtype = "float32" if args.device == "cpu" else "bfloat16"
    if args.data_loader and ":" not in args.data_loader:
        p.error(f"argument --data-loader: expected MODULE:FUNCTION, got {args.data_loader!r}")
    return args


# ---------------------------------------------------------------------------------------------- one configuration
def synthetic_batches(path: str, batch_size: int, input_size: int, batches: int = 8) -> Iterable:
    """The ``--data-loader`` protocol by example: CPU batches of (uint8 NCHW images, int64 labels), here random
    (``path`` unused), so the row measures the host-to-device copy and conversion a real loader adds. A real
    factory (e.g. JPEG records through a DataLoader with workers and pinned memory) yields the same pairs."""
    import torch
    generator = torch.Generator().manual_seed(0)
    for _ in range(batches):
        yield (torch.randint(0, 256, (batch_size, 3, input_size, input_size), dtype=torch.uint8,
                             generator=generator), torch.randint(0, 1000, (batch_size,), generator=generator))


def _load_factory(spec: str) -> Callable[..., Iterable]:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _endless(factory: Callable[[], Iterable]):
    while True:
        for batch in factory():
            yield batch


def measure(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Build and time one configuration in this process; returns its result row (see the module docstring)."""
    import torch
    import torch.nn.functional as F
    from afflib_torch.fusion import set_fused_blend
    from afflib_torch.registry import get_model

    started = time.perf_counter()
    deadline = started + spec["budget_s"]
    device = torch.device(spec["device"])
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    layout = torch.channels_last if spec["channels_last"] else torch.contiguous_format
    amp = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": None}[spec["dtype"]]
    compiled, blend = CONFIGS[spec["config"]]
    torch.manual_seed(0)
    net = get_model(spec["model"])
    set_fused_blend(net, blend)
    net = net.to(device, memory_format=layout).train()
    model = torch.compile(net) if compiled else net
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9, nesterov=True, weight_decay=1e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=amp is torch.float16)
    classes = (net.fc if hasattr(net, "fc") else net.output).out_features
    size, batch = spec["input_size"], spec["batch_size"]
    if spec.get("data_loader"):
        factory = _load_factory(spec["data_loader"])
        source = _endless(lambda: factory(spec["data_path"], batch, size))

        def next_batch():
            images, labels = next(source)
            scale = 1.0 / 255 if images.dtype == torch.uint8 else 1.0  # uint8 pixels: converted on the device
            images = images.to(device, non_blocking=True).to(memory_format=layout).float().mul_(scale)
            return images, labels.to(device, non_blocking=True).long()
    else:
        fixed = (torch.randn(batch, 3, size, size, device=device).to(memory_format=layout),
                 torch.randint(0, classes, (batch,), device=device))

        def next_batch():
            return fixed

    def step():
        images, labels = next_batch()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            loss = F.cross_entropy(model(images), labels)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        return loss

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    sync()
    build_s = time.perf_counter() - started
    start = time.perf_counter()
    loss = step()
    sync()
    first_step_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(spec["warmup"]):
        loss = step()
    sync()
    step_s = (time.perf_counter() - start) / max(spec["warmup"], 1)
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    rates: List[float] = []
    while len(rates) < spec["windows"] and (not rates or time.perf_counter() + spec["steps"] * step_s < deadline):
        start = time.perf_counter()
        for _ in range(spec["steps"]):
            loss = step()
        sync()
        seconds = time.perf_counter() - start
        rates.append(spec["steps"] * batch / seconds)
        step_s = seconds / spec["steps"]
    final_loss = float(loss)  # reported: a NaN does not invalidate the timing but is worth a look
    return {
        "label": spec["label"], "model": spec["model"], "config": spec["config"], "compiled": compiled,
        "blend": str(blend), "loader": bool(spec.get("data_loader")), "images_per_s": statistics.median(rates),
        "window_rates": rates, "build_s": build_s, "first_step_s": first_step_s,
        "compile_s": max(first_step_s - step_s, 0.0) if compiled else None,
        "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2 ** 30 if cuda else None,
        "device_name": torch.cuda.get_device_name(device) if cuda else platform.processor() or "cpu",
        "torch": torch.__version__, "loss": final_loss,
    }


# ---------------------------------------------------------------------------------------------- the driver
def _run_child(spec: Dict[str, Any], timeout: float) -> Dict[str, Any]:
    """Run :func:`measure` for ``spec`` in a fresh interpreter; a failure or timeout becomes a row with ``error``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "afflib_torch.cli.benchmark_gpu", "--out", "-", "--child", json.dumps(spec)]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"label": spec["label"], "error": f"did not finish within {timeout:.0f} s (budget share)"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"label": spec["label"], "error": f"exit {done.returncode}: {' / '.join(tail)}"}
    return json.loads(lines[-1][len("RESULT "):])


def plan(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """The configurations in run order: per mode the model, then its baseline; the loader row last."""
    baseline = args.baseline or plain_twin(args.model)
    common = dict(device=args.device, dtype=args.dtype, channels_last=not args.no_channels_last,
                  batch_size=args.batch_size, input_size=args.input_size, steps=args.steps, windows=args.windows,
                  warmup=args.warmup)
    specs, timed_baseline = [], set()
    for config in args.configs:
        specs.append(dict(common, model=args.model, config=config, label=f"{args.model} {config}"))
        compiled = CONFIGS[config][0]  # the add twin has no blend: one baseline row per eager/compiled
        if baseline != "none" and compiled not in timed_baseline:
            timed_baseline.add(compiled)
            specs.append(dict(common, model=baseline, config=config, label=f"{baseline} {config}"))
    if args.data_loader:
        config = "compiled" if "compiled" in args.configs else args.configs[0]
        specs.append(dict(common, model=args.model, config=config, label=f"{args.model} {config} + data loader",
                          data_loader=args.data_loader, data_path=args.data_path))
    return specs


def summarise(rows: List[Dict[str, Any]], baseline: str) -> None:
    """Add the time ratio to the baseline of the same configuration and the speed ratio to the release."""
    rates = {(r["model"], r["compiled"]): r["images_per_s"] for r in rows
             if "images_per_s" in r and r["model"] == baseline and not r["loader"]}
    for row in rows:
        if "images_per_s" not in row:
            continue
        twin = rates.get((baseline, row["compiled"]))
        row["time_vs_baseline"] = twin / row["images_per_s"] if twin else None
        row["x_release_per_gpu"] = row["images_per_s"] / RELEASE_IMAGES_PER_S_PER_GPU


def markdown(rows: List[Dict[str, Any]], header: str) -> str:
    """The result table in Markdown (errors as rows)."""
    def num(value, fmt):
        return "-" if value is None else format(value, fmt)
    lines = [header, "", "| configuration | images/s (median) | windows min-max | time x baseline | x release "
             f"({RELEASE_IMAGES_PER_S_PER_GPU:.0f}/GPU) | first step s | compile s | peak GiB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['label']} | {r['error']} | | | | | | |")
            continue
        lines.append(f"| {r['label']} | {r['images_per_s']:.1f} | {min(r['window_rates']):.1f}-"
                     f"{max(r['window_rates']):.1f} | {num(r.get('time_vs_baseline'), '.3f')} | "
                     f"{r['x_release_per_gpu']:.2f} | {r['first_step_s']:.1f} | {num(r.get('compile_s'), '.1f')} | "
                     f"{num(r.get('peak_memory_gib'), '.1f')} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(measure(json.loads(args.child))), flush=True)
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    specs = plan(args)
    weights = [_WEIGHT[s["config"]] for s in specs]
    rows = []
    for index, spec in enumerate(specs):
        left = args.budget_s - (time.perf_counter() - began)
        share = left * weights[index] / sum(weights[index:])
        spec["budget_s"] = max(share - 15.0, 1.0)  # the child's own deadline for timing; 15 s to start and exit
        print(f"[{time.perf_counter() - began:6.0f} s] {spec['label']}: {share:.0f} s", flush=True)
        # Killed only a minute after its share: compilation cannot be cut short, and a lost row costs more.
        rows.append(_run_child(spec, timeout=share + 60.0))
        print(f"         {json.dumps(rows[-1])}", flush=True)
    summarise(rows, args.baseline or plain_twin(args.model))
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    device = next((r["device_name"] for r in rows if "device_name" in r), args.device)
    torch_version = next((r["torch"] for r in rows if "torch" in r), "?")
    header = (f"{when}, {device}, torch {torch_version}: training, batch {args.batch_size}, {args.input_size}px, "
              f"{args.dtype} autocast, {'NCHW' if args.no_channels_last else 'channels_last'}, synthetic data; "
              f"median of up to {args.windows} windows of {args.steps} steps after {args.warmup} warm-up steps; "
              f"wall {time.perf_counter() - began:.0f} s")
    table = markdown(rows, header)
    print(table)
    payload = {"arguments": {k: v for k, v in vars(args).items() if k != "child"}, "date": when,
               "release_images_per_s_per_gpu": RELEASE_IMAGES_PER_S_PER_GPU, "results": rows}
    (out / "benchmark_gpu.json").write_text(json.dumps(payload, indent=1))
    (out / "benchmark_gpu.md").write_text(table + "\n")
    return 0 if all("error" not in r for r in rows) else 1


def run() -> None:
    """Console entry (``scripts/benchmark_gpu.py``): bad flags exit 2 with the flag named."""
    exit_on_bad_input(main)


if __name__ == "__main__":
    run()
