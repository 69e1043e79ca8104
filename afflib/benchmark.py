"""Throughput benchmarks: interleaved timing of training or inference steps, peak memory, result tables.

The timing loop (:mod:`afflib.core.timer`, shared with the PyTorch engine) only sees callables that run one
synchronous step, so any engine plugs in: register a step factory with :func:`register_engine` (MXNet is built
in). Configurations are timed round-robin, a few iterations each per round, so every configuration sees the same
machine conditions; only ratios measured within one run are meaningful on a shared machine.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
import tempfile
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np

from afflib.core.timer import Timing, images_per_second, interleaved_throughput

__all__ = ["BenchConfig", "Timing", "register_engine", "register_model_source", "build_model", "make_step",
           "images_per_second", "interleaved_throughput", "peak_memory_mib",
           "run_benchmark", "format_table", "profile_operators", "machine_note", "ENGINES", "MODEL_SOURCES", "MODES"]

MODES = ("train", "infer")
Step = Callable[[], Any]


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    """One benchmarked configuration (one row of the table).

    ``model`` is a registry name (``aff_resnet50``) or ``SOURCE:NAME`` for another model source
    (``gluoncv:resnet50_v1d``, ``textbook:aff_resnet50``); ``optimize`` (inference only) is ``None``,
    ``'fuse'`` or ``'int8'`` (see :func:`afflib.inference.optimize_for_inference`).
    """

    model: str
    mode: str = "train"
    batch_size: int = 32
    input_size: int = 224
    in_channels: int = 3
    dtype: str = "float32"
    ctx: str = "cpu"
    engine: str = "mxnet"
    optimize: Optional[str] = None
    model_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    label: str = ""

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.batch_size < 1 or self.input_size < 1:
            raise ValueError(f"batch_size and input_size must be >= 1, got {self.batch_size}, {self.input_size}")
        if self.optimize is not None and self.mode != "infer":
            raise ValueError(f"optimize={self.optimize!r} applies to --mode infer only")
        if not self.label:
            suffix = f"@{self.optimize}" if self.optimize else ""
            object.__setattr__(self, "label", self.model + suffix)


# ----------------------------------------------------------------------------------------------- sources
def _afflib_model(name: str, **kwargs: Any):
    import afflib
    return afflib.get_model(name, **kwargs)


def _gluoncv_model(name: str, classes: Optional[int] = None, **kwargs: Any):
    """GluonCV model zoo entry; ``cifar_resnet<6n+2>_v1|v2`` of any depth is built by GluonCV's builder."""
    import re
    from gluoncv.model_zoo import cifarresnet, get_model
    extra = {} if classes is None else {"classes": classes}
    match = re.fullmatch(r"cifar_resnet(\d+)_v([12])", name)
    if match:
        return cifarresnet.get_cifar_resnet(int(match.group(2)), int(match.group(1)), **extra)
    return get_model(name, **extra)


MODEL_SOURCES: Dict[str, Callable[..., Any]] = {"afflib": _afflib_model, "gluoncv": _gluoncv_model}


def register_model_source(prefix: str, builder: Callable[..., Any]) -> None:
    """Make ``PREFIX:NAME`` model names resolve to ``builder(NAME, **model_kwargs)``.

    The builder must be a module-level function (it is pickled by reference for memory measurement).
    """
    MODEL_SOURCES[prefix] = builder


def _split_model(spec: str):
    prefix, _, name = spec.rpartition(":")
    prefix = prefix or "afflib"
    if prefix not in MODEL_SOURCES:
        raise ValueError(f"unknown model source {prefix!r} in {spec!r}; known: {', '.join(sorted(MODEL_SOURCES))}")
    return prefix, name


def build_model(config: BenchConfig):
    """The (uninitialised) network of ``config``; GluonCV models get only ``classes`` from ``model_kwargs``."""
    prefix, name = _split_model(config.model)
    kwargs = dict(config.model_kwargs)
    if prefix == "gluoncv":
        kwargs = {"classes": kwargs["classes"]} if "classes" in kwargs else {}
    return MODEL_SOURCES[prefix](name, **kwargs)


# ----------------------------------------------------------------------------------------------- engines
def _mxnet_step(config: BenchConfig) -> Step:
    import mxnet as mx
    from mxnet import autograd, gluon

    if config.ctx not in ("cpu", "gpu"):
        raise ValueError(f"ctx must be 'cpu' or 'gpu', got {config.ctx!r}")
    if config.dtype != "float32" and config.ctx == "cpu":
        raise ValueError(f"dtype {config.dtype} needs --ctx gpu: MXNet 1.9.1 has no float16 GEMM on CPU")
    ctx = mx.gpu(0) if config.ctx == "gpu" else mx.cpu()
    net = build_model(config)
    net.initialize(mx.init.Xavier(magnitude=2), ctx=ctx)
    shape = (config.batch_size, config.in_channels, config.input_size, config.input_size)
    data = mx.nd.random.uniform(-1, 1, shape=shape, ctx=ctx, dtype=config.dtype)
    if config.dtype != "float32":
        net.cast(config.dtype)
    if config.mode == "infer":
        if config.optimize:
            from .inference import optimize_for_inference
            # Random input: calibration only has to run, not to be representative; keep its memory small.
            net = optimize_for_inference(net, data, mode=config.optimize, calib_data=[data],
                                         num_calib_examples=min(config.batch_size, 8), calib_batch_size=4)
        else:
            net.hybridize(static_alloc=True, static_shape=True)

        def infer_step():
            net(data).wait_to_read()
        return infer_step

    net.hybridize(static_alloc=True, static_shape=True)
    classes = int(net(data).shape[1])
    label = mx.nd.array(np.random.RandomState(0).randint(0, classes, config.batch_size), ctx=ctx)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), "nag", {
        "learning_rate": 1e-3, "momentum": 0.9, "wd": 1e-4, "multi_precision": config.dtype != "float32"})

    def train_step():
        with autograd.record():
            loss = loss_fn(net(data), label)
        loss.backward()
        trainer.step(config.batch_size)
        mx.nd.waitall()
    return train_step


ENGINES: Dict[str, Callable[[BenchConfig], Step]] = {"mxnet": _mxnet_step}


def register_engine(name: str, factory: Callable[[BenchConfig], Step]) -> None:
    """Add an engine: ``factory(config)`` builds everything and returns a callable running one synchronous step."""
    ENGINES[name] = factory


def make_step(config: BenchConfig) -> Step:
    if config.engine not in ENGINES:
        raise ValueError(f"unknown engine {config.engine!r}; known: {', '.join(sorted(ENGINES))}")
    return ENGINES[config.engine](config)


# ----------------------------------------------------------------------------------------------- profiling
def profile_operators(step: Step, steps: int = 5, top: int = 20) -> str:
    """MXNet profiler's per-operator table (sorted by total time, ``top`` rows) over ``steps`` calls of ``step``.

    Set ``MXNET_EXEC_BULK_EXEC_TRAIN=0`` / ``MXNET_EXEC_BULK_EXEC_INFERENCE=0`` before building the network
    to see single operators instead of bulked segments.
    """
    import mxnet as mx
    step()
    # The profiler replaces its output file at exit: point it at a scratch file, never at a device like /dev/null.
    trace = os.path.join(tempfile.mkdtemp(prefix="afflib-profile-"), "profile.json")
    mx.profiler.set_config(profile_all=True, aggregate_stats=True, filename=trace)
    mx.profiler.set_state("run")
    for _ in range(steps):
        step()
    mx.profiler.set_state("stop")
    table = mx.profiler.dumps(format="table", sort_by="total", ascending=False, reset=True)
    lines = table.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "operator"), None)
    if start is None:
        return table
    rows = []
    for line in lines[start + 4:]:  # after the title, "====", the header and "----"
        if not line.strip():
            break
        rows.append(line)
    total = sum(float(line.split()[2]) for line in rows)
    out = [f"{'operator':<32s} {'calls':>6s} {'ms/step':>9s} {'share':>6s}"]
    for line in rows[:top]:
        name, calls, ms = line.split()[:3]
        out.append(f"{name:<32s} {int(calls) // steps:>6d} {float(ms) / steps:>9.2f} {float(ms) / total:>6.1%}")
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------- memory
def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0); without it the peak includes the build."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def _memory_worker(config: BenchConfig, steps: int, queue, sources, engines) -> None:
    try:
        MODEL_SOURCES.update(sources)
        ENGINES.update(engines)
        import mxnet  # noqa: F401 - import cost is not the configuration's memory
        if config.model.startswith("gluoncv:"):
            import gluoncv  # noqa: F401
        before = _rss_kib("VmRSS")
        step = make_step(config)
        _reset_peak()  # transients of building (e.g. INT8 calibration) are not the running footprint
        for _ in range(steps):
            step()
        queue.put((_rss_kib("VmHWM") - before) / 1024.0)
    except BaseException as error:  # reported to the parent, which decides
        queue.put(error)


def peak_memory_mib(config: BenchConfig, steps: int = 2, timeout: float = 900.0) -> float:
    """Peak resident memory (MiB) that building ``config`` and running ``steps`` steps adds to a fresh process.

    Measured as the child's VmHWM during the steps minus its VmRSS after importing the engine (Linux /proc),
    so it includes parameters, gradients, optimizer state, activations and workspace but not transients of
    building (INT8 calibration), and is independent of what other configurations of the same run allocated
    (MXNet's memory pool keeps freed blocks).
    """
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    worker = context.Process(target=_memory_worker, args=(config, steps, queue, dict(MODEL_SOURCES), dict(ENGINES)))
    worker.start()
    try:
        result = queue.get(timeout=timeout)
    finally:
        worker.join(timeout=30)
        if worker.is_alive():
            worker.terminate()
    if isinstance(result, BaseException):
        raise RuntimeError(f"memory measurement of {config.label} failed: {result}") from result
    return float(result)


# ----------------------------------------------------------------------------------------------- driver
def run_benchmark(configs: Sequence[BenchConfig], iterations: int = 10, rounds: int = 3, warmup: int = 2,
                  memory: bool = True, progress: Optional[Callable[[str], None]] = None) -> List[Dict[str, Any]]:
    """Benchmark ``configs`` interleaved; one result row per configuration, ratios relative to the first."""
    labels = [c.label for c in configs]
    if len(set(labels)) != len(labels):
        raise ValueError(f"configuration labels must be unique, got {labels}")
    memory_mib = {}
    if memory:  # first, while this process holds no network: the children then have the machine's memory
        for config in configs:
            memory_mib[config.label] = peak_memory_mib(config)
            if progress:
                progress(f"measured memory of {config.label}")
    steps = {}
    for config in configs:
        steps[config.label] = make_step(config)
        if progress:
            progress(f"built {config.label}")
    timings = interleaved_throughput(steps, {c.label: c.batch_size for c in configs}, iterations, rounds, warmup,
                                     progress)
    rows = []
    first = timings[configs[0].label].images_per_second
    for config in configs:
        timing = timings[config.label]
        rates = timing.round_rates
        rows.append({
            "label": config.label, "model": config.model, "engine": config.engine, "mode": config.mode,
            "optimize": config.optimize, "batch_size": config.batch_size, "input_size": config.input_size,
            "images_per_second": timing.images_per_second,
            "images_per_cpu_second": timing.images_per_cpu_second, "round_min": min(rates), "round_max": max(rates),
            "ratio": timing.images_per_second / first, "time_ratio": first / timing.images_per_second,
            "peak_memory_mib": memory_mib.get(config.label)})
    return rows


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Markdown table: images/s (with the slowest and fastest round), ratios to the first row, memory."""
    head = ("| configuration | images/s | rounds min-max | x first (speed) | x first (time) | images/CPU-s | "
            "peak RSS MiB |\n|---|---:|---:|---:|---:|---:|---:|")
    lines = [head]
    for row in rows:
        memory = "-" if row.get("peak_memory_mib") is None else f"{row['peak_memory_mib']:.0f}"
        lines.append(f"| {row['label']} | {row['images_per_second']:.1f} | {row['round_min']:.1f}-"
                     f"{row['round_max']:.1f} | {row['ratio']:.2f} | {row['time_ratio']:.2f} | "
                     f"{row.get('images_per_cpu_second', float('nan')):.1f} | {memory} |")
    return "\n".join(lines)


def machine_note() -> str:
    """Load average and thread settings, printed with every table (the machine may be shared)."""
    load = os.getloadavg()
    return (f"cores={os.cpu_count()} load(1/5/15 min)={load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f} "
            f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
