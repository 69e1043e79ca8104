"""The README's demo (``make demo``, ``make demo ENGINE=torch``) without its engine: the demo recipe's flags, the
run folder, the steps run as subprocesses with their output echoed, and the closing report. Each engine's
``cli/demo.py`` supplies how Fashion-MNIST is made ready and which training/evaluation tools run."""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from .checkpoints import last_stem
from .cliargs import int_range, make_parser, nonneg_int, positive_float, positive_int
from .modelspec import cifar_spec
from .recipes import load_recipe
from .rundir import run_files
from .specs import canonical_fusion

__all__ = ["RECIPE", "TARGET_ACCURACY", "TARGET_SECONDS", "demo_parser", "recipe_flags", "run_step", "out_folder",
           "model_flags", "run_demo", "ensure_fashion_mnist", "tool"]

RECIPE = load_recipe("demo")
TARGET_ACCURACY = 0.91
TARGET_SECONDS = 600


def demo_parser(doc: str, engines: Sequence[str], engine_help: str) -> argparse.ArgumentParser:
    """The demo's flags (defaults from the demo recipe); ``--engine`` accepts ``engines``."""
    model = RECIPE["model"]
    p = make_parser(doc)
    p.add_argument("--engine", default=engines[0], choices=tuple(engines), help=engine_help)
    p.add_argument("--fusion", default=canonical_fusion(model["fusion"]), choices=("aff", "iaff", "add"),
                   help="fusion of the trained network")
    p.add_argument("--out", default="",
                   help="output folder of log, checkpoints and curves (default: demo_output/<fusion>-<date-time> in "
                        "the current folder: the checkout's, under make demo)")
    p.add_argument("--data-dir", default=None, help="Fashion-MNIST IDX folder (default: the standard locations)")
    p.add_argument("--rec-dir", default="~/.mxnet/datasets/fashion-mnist/rec",
                   help="MXNet: RecordIO folder (packed once, ~43 MB)")
    # The demo recipe: a 1-block-per-stage CIFAR-style AFF-ResNet, widths 16/16/32/64, fusion in stages 2-3 (the
    # full-resolution stage 1 adds plainly, as the ImageNet models start fusing at stage 3: the attention at 28x28
    # would cost half the budget), warmup + cosine, NAG, label smoothing, no weight decay on biases/BN.
    p.add_argument("--epochs", type=positive_int, default=RECIPE["epochs"], help="training epochs")
    p.add_argument("--channel-times", type=positive_int, default=model["channel_times"],
                   help="width multiplier: stage widths 16C, 32C, 64C")
    p.add_argument("--blocks", type=positive_int, default=model["blocks"], help="blocks per stage")
    p.add_argument("--start-layer", type=int_range(1, 3), default=model["start_layer"],
                   help="first stage (1-3) that uses the fusion")
    p.add_argument("--batch-size", type=positive_int, default=RECIPE["batch_per_device"], help="per CPU context")
    p.add_argument("--cpus", type=positive_int, default=RECIPE["devices"],
                   help="MXNet: CPU contexts (one thread each); PyTorch: threads of the one process "
                        "(the batch is --batch-size times this, as MXNet's)")
    p.add_argument("--lr", type=positive_float, default=RECIPE["lr"],
                   help=f"learning rate after warmup ({RECIPE['lr_mode']} decay)")
    p.add_argument("--warmup-epochs", type=nonneg_int, default=RECIPE["warmup_epochs"],
                   help="epochs of linear warmup")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (they only show on a terminal)")
    return p


def ensure_fashion_mnist(find: Callable[[Optional[str]], Path], data_dir: Optional[str]) -> Path:
    """The IDX folder ``find(data_dir)`` returns (FileNotFoundError: missing); installs Debian's
    ``dataset-fashion-mnist`` when it is missing and apt can be used, else stops the demo with the reason."""
    try:
        return find(data_dir)
    except FileNotFoundError as missing:
        if data_dir is None and shutil.which("apt-get") and os.geteuid() == 0:
            print("Fashion-MNIST not found: installing Debian's dataset-fashion-mnist (apt-get) ...", flush=True)
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            install = ["apt-get", "install", "-y", "-q", "dataset-fashion-mnist"]
            if subprocess.run(install, env=env).returncode != 0:
                subprocess.run(["apt-get", "update", "-q"], env=env, check=False)
                subprocess.run(install, env=env, check=False)
            try:
                return find(data_dir)
            except FileNotFoundError:
                pass
        sys.exit(f"demo: {missing}")


def recipe_flags() -> List[str]:
    """train_cifar's flags for the demo recipe's settings that ``demo``'s own flags do not cover."""
    switches = [("--cosine", RECIPE["lr_mode"] == "cosine"), ("--label-smoothing", bool(RECIPE["label_smoothing"])),
                ("--no-wd", RECIPE["no_wd"])]
    return [flag for flag, on in switches if on] + ["--mode", RECIPE["mode"], "--save-period", RECIPE["save_every"],
                                                    "--log-interval", RECIPE["log_interval"]]


def model_flags(args: argparse.Namespace) -> List[str]:
    """The network flags of train_cifar/eval_cifar for the demo's network."""
    return ["--model", RECIPE["model"]["family"], "--askc-type", canonical_fusion(args.fusion), "--blocks",
            args.blocks, "--channel-times", args.channel_times, "--start-layer", args.start_layer]


def run_step(cmd: Sequence, env: Optional[Dict[str, str]] = None) -> str:
    """Run a step, echo its output live, return it; stop the demo with its status if it fails."""
    print("$ " + " ".join(str(c) for c in cmd), flush=True)
    env = dict(os.environ, **dict({"OMP_NUM_THREADS": "1"}, **(env or {})))
    proc = subprocess.Popen([str(c) for c in cmd], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines = []
    for line in proc.stdout:
        if "mkldnn" in line or "ImageRecordIOParser2" in line:  # MXNet's informational noise
            continue
        lines.append(line)
        sys.stdout.write(line)
        sys.stdout.flush()
    if proc.wait() != 0:
        sys.exit(f"demo: step failed with status {proc.returncode}: {' '.join(str(c) for c in cmd)}")
    return "".join(lines)


def out_folder(args: argparse.Namespace) -> Path:
    """The demo's output folder (``--out`` or a new dated one), refused (exit 2) if it holds another run's files."""
    fusion = canonical_fusion(args.fusion)
    out = Path(args.out or Path("demo_output") / f"{fusion}-{time.strftime('%Y%m%d-%H%M%S')}")
    taken = run_files(str(out))     # the same rule as train_cifar.py's run folders, checked before any work
    if taken:
        print(f"demo: --out {out} already holds another run's files ({', '.join(taken[:3])}); choose another --out",
              file=sys.stderr)
        sys.exit(2)
    out.mkdir(parents=True, exist_ok=True)
    return out


def tool(package: str, name: str) -> List[str]:
    """argv of the command-line tool ``package.name`` (``afflib.cli``, ``afflib_torch.cli``) in this interpreter."""
    return [sys.executable, "-m", f"{package}.{name}"]


def run_demo(args: argparse.Namespace, find: Callable[[Optional[str]], Path], train: List, evaluate: List,
             env: Optional[Dict[str, str]] = None, prepare: Optional[Callable[[Path], None]] = None) -> float:
    """The demo: its output folder, Fashion-MNIST found by ``find`` (:func:`ensure_fashion_mnist`) and
    ``prepare(idx_dir)``-d, then training (``train``: the command up to its data flags) and evaluation of the
    ``-last`` params (``evaluate``: likewise), and the report ending with the test accuracy line; returns the
    accuracy."""
    out = out_folder(args)
    tic = time.time()
    idx_dir = str(ensure_fashion_mnist(find, args.data_dir))
    if prepare is not None:
        prepare(Path(idx_dir))
    prep_seconds = time.time() - tic
    fusion = canonical_fusion(args.fusion)
    net = model_flags(args)
    data = ["--dataset", "fashion-mnist", "--data-dir", idx_dir]
    progress = ["--no-progress"] if args.no_progress else []
    tic = time.time()
    run_step([*train, *data, *net, "--num-epochs", args.epochs, "--lr", args.lr, "--warmup-epochs",
              args.warmup_epochs, *recipe_flags(), "--save-dir", out, "--logging-dir", out, "--save-plot-dir", out,
              *progress], env)
    train_seconds = time.time() - tic
    name = cifar_spec(RECIPE["model"]["family"], fusion, args.blocks, args.channel_times, args.start_layer, 10, 1).tag()
    params = out / f"{last_stem('fashion-mnist', name)}.params"
    tic = time.time()
    report = run_step([*evaluate, *data, "--params", params, *progress], env)
    eval_seconds = time.time() - tic
    accuracy = float(re.search(r"test accuracy: ([\d.]+)", report).group(1))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print()
    print(f"== demo ({fusion}, {args.engine}) ==")
    print(f"training + evaluation: {train_seconds + eval_seconds:.0f} s (train {train_seconds:.0f} s, eval "
          f"{eval_seconds:.0f} s; target <= {TARGET_SECONDS} s; load average now {load:.1f})")
    print(f"data check + preparation (one-off): {prep_seconds:.0f} s")
    print(f"output folder: {out}")
    print(f"  params: {params.name}; log: train_fashion-mnist-{name}.log; curves: fashion-mnist-{name}.png")
    print(f"test accuracy on the 10,000 Fashion-MNIST test images: {accuracy:.4f} (target >= {TARGET_ACCURACY})")
    return accuracy
