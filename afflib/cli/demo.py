"""The README's main command (``make demo``): train a small AFF network on Fashion-MNIST on the CPU and test it.

Steps: make sure Fashion-MNIST is present (installs Debian's ``dataset-fashion-mnist`` when it is missing and apt
is usable), pack it into RecordIO files (once), train through the record pipeline with ``afflib-train-cifar``,
evaluate the saved params with ``afflib-eval-cifar``, and leave the log, params and training-curve PNG in one output
folder. The training settings are the ``demo`` recipe (``afflib/core/recipes/demo.json``); ``--fusion add`` runs the
same budget with plain addition instead of AFF.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from afflib.core.checkpoints import last_stem
from afflib.core.cliargs import int_range, make_parser, nonneg_int, positive_float, positive_int
from afflib.core.modelspec import cifar_spec  # framework-free: the run's file-name form of the model
from afflib.core.recipes import load_recipe
from afflib.core.rundir import run_files
from afflib.core.specs import canonical_fusion

RECIPE = load_recipe("demo")

TARGET_ACCURACY = 0.91
TARGET_SECONDS = 600


def parse_args(argv=None) -> argparse.Namespace:
    model = RECIPE["model"]
    p = make_parser(__doc__)
    p.add_argument("--engine", default="mxnet", choices=("mxnet",),
                   help="this is the MXNet engine's demo; scripts/demo.py --engine torch runs the PyTorch one")
    p.add_argument("--fusion", default=canonical_fusion(model["fusion"]), choices=("aff", "iaff", "add"),
                   help="fusion of the trained network")
    p.add_argument("--out", default="",
                   help="output folder of log, checkpoints and curves (default: demo_output/<fusion>-<date-time> in "
                        "the current folder: the checkout's, under make demo)")
    p.add_argument("--data-dir", default=None, help="Fashion-MNIST IDX folder (default: the standard locations)")
    p.add_argument("--rec-dir", default="~/.mxnet/datasets/fashion-mnist/rec",
                   help="RecordIO folder (packed once, ~43 MB)")
    # The demo recipe: a 1-block-per-stage CIFAR-style AFF-ResNet, widths 16/16/32/64, fusion in stages 2-3 (the
    # full-resolution stage 1 adds plainly, as the ImageNet models start fusing at stage 3: the attention at 28x28
    # would cost half the budget), warmup + cosine, NAG, label smoothing, no weight decay on biases/BN; data
    # parallel over two CPU contexts with one thread each (much faster here than one context with two threads).
    p.add_argument("--epochs", type=positive_int, default=RECIPE["epochs"], help="training epochs")
    p.add_argument("--channel-times", type=positive_int, default=model["channel_times"],
                   help="width multiplier: stage widths 16C, 32C, 64C")
    p.add_argument("--blocks", type=positive_int, default=model["blocks"], help="blocks per stage")
    p.add_argument("--start-layer", type=int_range(1, 3), default=model["start_layer"],
                   help="first stage (1-3) that uses the fusion")
    p.add_argument("--batch-size", type=positive_int, default=RECIPE["batch_per_device"], help="per CPU context")
    p.add_argument("--cpus", type=positive_int, default=RECIPE["devices"], help="CPU contexts (one thread each)")
    p.add_argument("--lr", type=positive_float, default=RECIPE["lr"],
                   help=f"learning rate after warmup ({RECIPE['lr_mode']} decay)")
    p.add_argument("--warmup-epochs", type=nonneg_int, default=RECIPE["warmup_epochs"],
                   help="epochs of linear warmup")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (they only show on a terminal)")
    return p.parse_args(argv)


def ensure_fashion_mnist(data_dir):
    """The IDX folder; installs the Debian package if it is missing and apt can be used, else explains."""
    from afflib.data.fashion_mnist import find_fashion_mnist_dir
    try:
        return find_fashion_mnist_dir(data_dir)
    except FileNotFoundError as missing:
        if data_dir is None and shutil.which("apt-get") and os.geteuid() == 0:
            print("Fashion-MNIST not found: installing Debian's dataset-fashion-mnist (apt-get) ...", flush=True)
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            install = ["apt-get", "install", "-y", "-q", "dataset-fashion-mnist"]
            if subprocess.run(install, env=env).returncode != 0:
                subprocess.run(["apt-get", "update", "-q"], env=env, check=False)
                subprocess.run(install, env=env, check=False)
            try:
                return find_fashion_mnist_dir(data_dir)
            except FileNotFoundError:
                pass
        sys.exit(f"demo: {missing}")


def recipe_flags() -> list:
    """train_cifar's flags for the demo recipe's settings that ``demo``'s own flags do not cover."""
    switches = [("--cosine", RECIPE["lr_mode"] == "cosine"), ("--label-smoothing", bool(RECIPE["label_smoothing"])),
                ("--no-wd", RECIPE["no_wd"])]
    return [flag for flag, on in switches if on] + ["--mode", RECIPE["mode"], "--save-period", RECIPE["save_every"],
                                                    "--log-interval", RECIPE["log_interval"]]


def tool(name: str) -> list:
    """argv of the afflib command-line tool ``name`` (``afflib.cli.<name>``) in this interpreter."""
    return [sys.executable, "-m", f"afflib.cli.{name}"]


def run_step(cmd, log_path=None) -> str:
    """Run a step, echo its output live, return it; stop the demo with its status if it fails."""
    print("$ " + " ".join(str(c) for c in cmd), flush=True)
    env = dict(os.environ, OMP_NUM_THREADS="1")
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


def main(argv=None) -> None:
    args = parse_args(argv)
    fusion = canonical_fusion(args.fusion)
    out = Path(args.out or Path("demo_output") / f"{fusion}-{time.strftime('%Y%m%d-%H%M%S')}")
    taken = run_files(str(out))     # the same rule as train_cifar.py's run folders, checked before any work
    if taken:
        print(f"demo: --out {out} already holds another run's files ({', '.join(taken[:3])}); choose another --out",
              file=sys.stderr)
        sys.exit(2)
    out.mkdir(parents=True, exist_ok=True)

    tic = time.time()
    idx_dir = ensure_fashion_mnist(args.data_dir)
    rec_dir = Path(os.path.expanduser(args.rec_dir))
    run_step([*tool("pack_fashion_mnist"), "--data-dir", idx_dir, "--out", rec_dir])
    prep_seconds = time.time() - tic

    net = ["--model", RECIPE["model"]["family"], "--askc-type", fusion, "--blocks", args.blocks, "--channel-times", args.channel_times,
           "--start-layer", args.start_layer]
    data = ["--dataset", "fashion-mnist", "--data-dir", idx_dir, "--rec-dir", rec_dir]
    progress = ["--no-progress"] if args.no_progress else []
    tic = time.time()
    run_step([*tool("train_cifar"), *data, *net, "--cpus", args.cpus, "--batch-size", args.batch_size,
              "--num-epochs", args.epochs, "--lr", args.lr, "--warmup-epochs", args.warmup_epochs, *recipe_flags(),
              "--save-dir", out, "--logging-dir", out, "--save-plot-dir", out, *progress])
    train_seconds = time.time() - tic
    name = cifar_spec(RECIPE["model"]["family"], fusion, args.blocks, args.channel_times, args.start_layer, 10, 1).tag()
    params = out / f"{last_stem('fashion-mnist', name)}.params"
    tic = time.time()
    report = run_step([*tool("eval_cifar"), *data, *net, "--params", params, "--cpus", args.cpus, *progress])
    eval_seconds = time.time() - tic
    accuracy = float(re.search(r"test accuracy: ([\d.]+)", report).group(1))
    budget = train_seconds + eval_seconds
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print()
    print(f"== demo ({fusion}) ==")
    print(f"test accuracy on the 10,000 Fashion-MNIST test images: {accuracy:.4f} (target >= {TARGET_ACCURACY})")
    print(f"training + evaluation: {budget:.0f} s (train {train_seconds:.0f} s, eval {eval_seconds:.0f} s; "
          f"target <= {TARGET_SECONDS} s; load average now {load:.1f})")
    print(f"data check + packing (one-off): {prep_seconds:.0f} s")
    print(f"output folder: {out}")
    print(f"  params: {params.name}; log: train_fashion-mnist-{name}.log; curves: fashion-mnist-{name}.png")


def run() -> None:
    """Console-script entry point ``afflib-demo``."""
    main()


if __name__ == "__main__":
    run()
