"""The paper's ablation as a sweep (``scripts/ablate.py``): one training run per cell (host scenario, fusion form,
b blocks per stage, seed) through the normal training tool, then ``results.csv``, ``table.md`` and a PNG.

Each cell is a subprocess ``scripts/train_cifar.py --engine E --model-name SPEC --seed S --save-dir
OUT/cells/<cell>`` (a normal run folder), so either engine trains it and every tool reads its checkpoint. The
sweep is resumable: a cell whose run finished is read back, not rerun; one that was stopped continues from its
``-last`` checkpoint. Framework-free (it runs in either environment; the dispatcher finds the engine's).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .ablate_fpn import check_fpn, fpn_settings, segmentation_command
from .ablate_report import (CellResult, last_params, read_cell, summarize, table_markdown, write_plot,
                            write_results_csv)
from .ablation import TABLE4_FORMS, preset_r
from .checkpoint_record import write_json
from .cliargs import EXIT_BAD_INPUT, make_parser, nonneg_int, positive_int
from .datasets import SMALL_IMAGE_DATASETS, label_set
from .fusion import canonical_fusion
from .modelspec import ModelSpec
from .recipes import RecipeError, load_recipe
from .trainflags import ENGINES

__all__ = ["SCENARIOS", "PENDING_SCENARIOS", "Cell", "cell_spec", "grid", "train_command", "make_parser_ablate",
           "main", "run"]

#: scenario -> (registry name of b = 1 with {depth}, what X and Y are)
SCENARIOS: Dict[str, Tuple[str, str]] = {
    "resnet": ("cifar_aff_resnet{depth}", "short skip: X = shortcut, Y = residual branch"),
    "inception": ("cifar_aff_inception_resnet{depth}", "same layer: X = 3x3 branch, Y = dilated 3x3 (5x5) branch"),
    "fpn": ("cifar_aff_fpn{depth}", "long skip (ResNet-20-b + FPN, segmentation, mIoU): X = low-level map, "
                                    "Y = high-level map"),
}
#: scenarios the parser accepts whose host is not in afflib yet, with the reason
PENDING_SCENARIOS: Dict[str, str] = {}
DEFAULT_RECIPE = "ablation_short"
DEFAULT_SEG_RECIPE = "segmentation_short"
DEFAULT_FUSIONS = (*TABLE4_FORMS[:5], "sk", *TABLE4_FORMS[5:])      # Table 4's forms with SKNet's
ROOT = Path(__file__).resolve().parents[2]
EXIT_INTERRUPTED = {signal.SIGINT: 130, signal.SIGTERM: 143}


@dataclass(frozen=True)
class Cell:
    """One run of the grid."""

    scenario: str
    fusion: str
    b: int
    seed: int

    @property
    def key(self) -> str:
        """The cell's folder name under ``OUT/cells``: ``resnet-ms-gau-b1-s0``."""
        return f"{self.scenario}-{self.fusion}-b{self.b}-s{self.seed}"


def cell_spec(cell: Cell, channel_times: int, preset: str) -> ModelSpec:
    """The network of ``cell``: the scenario's host at depth 6b + 2, widths 16C/16C/32C/64C, the form by name with
    its r of ``preset`` (``paper``: equal convolution budgets, see :mod:`afflib.core.ablation`)."""
    name = SCENARIOS[cell.scenario][0].format(depth=6 * cell.b + 2)
    widths = [16 * channel_times, 16 * channel_times, 32 * channel_times, 64 * channel_times]
    kwargs = dict(fusion=cell.fusion, channels=widths)
    if cell.scenario != "fpn":
        kwargs["start_layer"] = 1
    r = preset_r(cell.fusion, preset)
    if r is not None:
        kwargs["fusion_r"] = r
    return ModelSpec.create(name, **kwargs)


def grid(scenario: str, fusions: Sequence[str], blocks: Sequence[int], seeds: Sequence[int]) -> List[Cell]:
    """The cells, fusion-major (all of one form's seeds and depths together)."""
    return [Cell(scenario, f, b, s) for f in fusions for b in blocks for s in seeds]


def _names(text: str) -> List[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _fusion_list(text: str) -> List[str]:
    names = []
    for part in _names(text):
        try:
            names.append(canonical_fusion(part))
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated fusion forms, e.g. add,concat,aff")
    return list(dict.fromkeys(names))


def _int_list(lo: int):
    def parse(text: str) -> List[int]:
        try:
            values = [int(v) for v in _names(text)]
        except ValueError:
            values = []
        if not values or any(v < lo for v in values):
            raise argparse.ArgumentTypeError(f"expected comma-separated integers >= {lo} like '1,2', got {text!r}")
        return list(dict.fromkeys(values))
    parse.__name__ = "comma-separated integers"
    return parse


def make_parser_ablate() -> argparse.ArgumentParser:
    """The sweep's flags."""
    p = make_parser("Train the paper's ablation grid (host scenario x fusion forms x b x seeds), one training run "
                    "per cell, and tabulate it (results.csv, table.md, a PNG). Rerun the same command to resume.")
    p.add_argument("--scenario", required=True, choices=(*SCENARIOS, *PENDING_SCENARIOS),
                   help="host: resnet (short skip, ResNet-20-b), inception (same layer, Inception-ResNet-20-b) or fpn "
                        "(long skip: ResNet-20-b + FPN segmentation on the generated Fashion-MNIST scenes, mIoU; "
                        "cells run scripts/train_segmentation.py)")
    p.add_argument("--fusions", type=_fusion_list, default=",".join(DEFAULT_FUSIONS),
                   help="fusion forms, comma-separated (docs/ablation.md; any alias, any case; default: Table 4's "
                        "eight)")
    p.add_argument("--blocks", type=_int_list(1), default="1", help="values of b (blocks per stage), e.g. 1,2,3,4")
    p.add_argument("--seeds", type=_int_list(0), default="0,1,2", help="seeds, e.g. 0,1,2")
    p.add_argument("--binary", type=int, default=None,
                   help="fpn: one garment class (0-9) vs background, the StopSign-like task (default: the recipe's)")
    p.add_argument("--dataset", default=None, choices=tuple(SMALL_IMAGE_DATASETS),
                   help="training data (default: the recipe's; ablation_paper: cifar100 with its coarse labels)")
    p.add_argument("--coarse-labels", action="store_true", help="CIFAR-100's 20 superclasses (the paper's label set)")
    p.add_argument("--data-dir", default=None, help="dataset folder (train_cifar.py's --data-dir)")
    p.add_argument("--rec-dir", default=None,
                   help="MXNet: the Fashion-MNIST RecordIO folder (train_cifar.py's --rec-dir; default: its own)")
    p.add_argument("--engine", default="torch", choices=ENGINES, help="training engine of every cell")
    p.add_argument("--recipe", default=None,
                   help=f"training recipe (afflib/core/recipes): ablation_paper or ablation_short (default: "
                        f"{DEFAULT_RECIPE})")
    p.add_argument("--num-epochs", type=positive_int, default=None, help="epochs per cell (default: the recipe's)")
    p.add_argument("--train-size", type=nonneg_int, default=0,
                   help="train on N images of a seeded shuffle (0: all; PyTorch engine)")
    p.add_argument("--channel-times", type=positive_int, default=None,
                   help="width multiplier C: widths 16C/16C/32C/64C (default: the recipe's model.channel_times)")
    p.add_argument("--preset", default="paper", choices=("paper", "release"),
                   help="r of each form: paper (equal convolution weights, Table 4) or release (r = 4)")
    p.add_argument("--out", required=True, help="sweep folder: cells/<cell>/ run folders, results.csv, table.md")
    p.add_argument("--jobs", type=positive_int, default=1, help="cells trained at once (processes)")
    p.add_argument("--device", default=None,
                   help="PyTorch: device(s) for the cells, comma-separated (cuda:0,cuda:1: one per job slot)")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="PyTorch: threads per cell (default: CPU cores / --jobs when --jobs > 1)")
    return p


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse (exit 2, one line naming the flag) combinations the sweep cannot run."""
    if args.scenario in PENDING_SCENARIOS:
        parser.error(PENDING_SCENARIOS[args.scenario])
    if args.engine == "torch" and args.rec_dir:
        parser.error("--rec-dir belongs to the MXNet engine (--engine mxnet), which reads Fashion-MNIST records; "
                     "drop --rec-dir")
    if args.scenario == "fpn":
        check_fpn(parser, args, DEFAULT_SEG_RECIPE)
        return
    if args.binary is not None:
        parser.error("--binary belongs to --scenario fpn (segmentation)")
    if args.engine == "mxnet":
        if args.train_size:
            parser.error("--train-size belongs to the PyTorch engine (--engine torch); the MXNet engine trains on the "
                         "whole training split: drop --train-size")
        for flag, value in (("--device", args.device), ("--threads", args.threads)):
            if value:
                parser.error(f"{flag} belongs to the PyTorch engine (--engine torch); with --engine mxnet drop {flag}")
    try:
        recipe = load_recipe(args.recipe or DEFAULT_RECIPE)
    except RecipeError as err:
        parser.error(f"argument --recipe: {err}")
    if recipe.script != "train_cifar":
        parser.error(f"argument --recipe: {recipe.name} is a recipe of {recipe.script}.py, not train_cifar.py")
    args.dataset = args.dataset or recipe["dataset"]
    if recipe["coarse_labels"]:             # a switch a recipe turns on stays on in train_cifar.py
        if args.dataset != "cifar100":
            parser.error(f"--dataset {args.dataset}: --recipe {recipe.name} trains the 20 CIFAR-100 superclasses "
                         f"(its coarse_labels); use cifar100 or another recipe (e.g. {DEFAULT_RECIPE})")
        args.coarse_labels = True
    if args.coarse_labels and args.dataset != "cifar100":
        parser.error(f"--coarse-labels only applies to cifar100 (20 superclasses), not {args.dataset}")
    args.recipe_obj = recipe
    args.epochs = args.num_epochs or recipe["epochs"]
    args.channel_times = args.channel_times or recipe["model"]["channel_times"]


def settings(args: argparse.Namespace) -> Dict[str, object]:
    """What every cell of the sweep folder shares (a rerun with other values is refused: use another --out)."""
    if args.scenario == "fpn":
        return fpn_settings(args)
    return {"engine": args.engine, "dataset": args.dataset, "coarse_labels": args.coarse_labels,
            "recipe": args.recipe_obj.name, "epochs": args.epochs, "train_size": args.train_size,
            "channel_times": args.channel_times, "preset": args.preset}


def _claim(out: Path, wanted: Dict[str, object]) -> None:
    path = out / "sweep.json"
    if path.is_file():
        try:
            held = json.loads(path.read_text(encoding="utf-8"))["settings"]
        except (OSError, ValueError, KeyError, TypeError):
            raise ValueError(f"{path} is not a sweep record; use another --out") from None
        changed = [f"{k}={held.get(k)!r} (now {v!r})" for k, v in wanted.items() if held.get(k) != v]
        if changed:
            raise ValueError(f"--out {out} holds a sweep with {', '.join(changed)}; use another --out or the same "
                             f"settings")
        return
    out.mkdir(parents=True, exist_ok=True)
    write_json(str(path), {"settings": wanted})


def _scripts_command(tool: str = "train_cifar") -> List[str]:
    script = ROOT / "scripts" / f"{tool}.py"
    if script.is_file():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", f"from afflib.core.engines import {tool}; {tool}()"]


def train_command(args: argparse.Namespace, cell: Cell, run_dir: Path, slot: int) -> List[str]:
    """The training tool's command line of ``cell`` (resuming its ``-last`` checkpoint where it has one)."""
    if cell.scenario == "fpn":
        command = segmentation_command(args, cell, run_dir, _scripts_command("train_segmentation"))
    else:
        spec = cell_spec(cell, args.channel_times, args.preset)
        command = [*_scripts_command(), "--engine", args.engine, "--recipe", args.recipe_obj.name,
                   "--dataset", args.dataset, "--model-name", spec.text(), "--seed", str(cell.seed),
                   "--save-dir", str(run_dir), "--num-epochs", str(args.epochs), "--no-progress",
                   "--save-plot-dir", ""]
        if args.coarse_labels:
            command.append("--coarse-labels")
        if args.data_dir:
            command += ["--data-dir", args.data_dir]
        if args.rec_dir:
            command += ["--rec-dir", args.rec_dir]
        if args.engine == "torch" and args.train_size:
            command += ["--train-size", str(args.train_size)]
    if args.engine == "torch":
        devices = _names(args.device or "")
        if devices:
            command += ["--device", devices[slot % len(devices)]]
        threads = args.threads or (max(1, (os.cpu_count() or 1) // args.jobs) if args.jobs > 1 else None)
        if threads:
            command += ["--threads", str(threads)]
    resume = last_params(str(run_dir))
    # the folder is the cell's own (its cell.json, sweep.log; a start that left no checkpoint): a fresh start
    # may write over it
    command += ["--resume-from", resume] if resume else ["--overwrite"]
    return command


def _environment(args: argparse.Namespace) -> Dict[str, str]:
    env = dict(os.environ)
    if args.engine == "mxnet" and args.jobs > 1 and "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // args.jobs))
    root = str(ROOT) if (ROOT / "afflib" / "core").is_dir() else ""
    if root:                                        # the cells import the same afflib as the sweep
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


class _Stop(Exception):
    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_stop(signum, frame):  # noqa: ARG001 - signal handler signature
    raise _Stop(signum)


def _train(args: argparse.Namespace, cells: List[Cell], out: Path) -> Tuple[int, List[str]]:
    """Train ``cells`` (at most ``--jobs`` at once); returns (cells trained, failures). SIGINT/SIGTERM stop the
    running cells (they save a resumable checkpoint) and re-raise as :class:`_Stop`."""
    pending = list(enumerate(cells))
    running: Dict[int, Tuple[subprocess.Popen, Cell, float, object]] = {}
    failures: List[str] = []
    done = 0
    total = len(cells)
    env = _environment(args)
    try:
        while pending or running:
            while pending and len(running) < args.jobs:
                index, cell = pending.pop(0)
                slot = next(s for s in range(args.jobs) if s not in running)
                run_dir = out / "cells" / cell.key
                command = train_command(args, cell, run_dir, slot)
                run_dir.mkdir(parents=True, exist_ok=True)
                write_json(str(run_dir / "cell.json"), _cell_note(args, cell, None, _read_wall(run_dir)))
                stream = open(run_dir / "sweep.log", "a", encoding="utf-8")
                stream.write(shlex.join(command) + "\n")
                stream.flush()
                proc = subprocess.Popen(command, stdout=stream, stderr=subprocess.STDOUT, env=env)
                running[slot] = (proc, cell, time.time(), stream)
                print(f"[{index + 1}/{total}] {cell.key}: training{' (resumed)' if '--resume-from' in command else ''}",
                      flush=True)
            time.sleep(0.2)
            for slot, (proc, cell, tic, stream) in list(running.items()):
                status = proc.poll()
                if status is None:
                    continue
                del running[slot]
                stream.close()
                run_dir = out / "cells" / cell.key
                seconds = time.time() - tic
                if status == 0:
                    previous = _read_wall(run_dir)
                    write_json(str(run_dir / "cell.json"), _cell_note(args, cell, previous + seconds))
                    done += 1
                    result = read_cell(str(run_dir), args.epochs)
                    accuracy = f"accuracy {result.accuracy:.4f}" if result else "finished"
                    print(f"{cell.key}: {accuracy} ({seconds:.0f} s)", flush=True)
                elif status == EXIT_BAD_INPUT:
                    raise ValueError(f"cell {cell.key}: the training tool refused its input (exit 2): "
                                     f"{_last_line(run_dir / 'sweep.log')}")
                else:
                    _save_partial_wall(run_dir, args, cell, seconds)
                    failures.append(f"{cell.key} (exit {status}; log {run_dir / 'sweep.log'})")
                    print(f"{cell.key}: FAILED with exit status {status}: {_last_line(run_dir / 'sweep.log')}",
                          file=sys.stderr, flush=True)
    finally:
        for proc, cell, tic, stream in running.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)    # the cell saves its -last set and exits 143
        for proc, cell, tic, stream in running.values():
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
            _save_partial_wall(out / "cells" / cell.key, args, cell, time.time() - tic)
            stream.close()
    return done, failures


def _cell_note(args: argparse.Namespace, cell: Cell, wall: Optional[float], partial: float = 0.0) -> Dict[str, object]:
    """``cell.json`` in the cell's run folder: its place in the grid, and its wall time (``partial_seconds``: the
    parts of a stopped cell so far, added to the total when it finishes)."""
    spec = cell_spec(cell, args.channel_times, args.preset)
    return {"scenario": cell.scenario, "fusion": cell.fusion, "b": cell.b, "seed": cell.seed, "engine": args.engine,
            "dataset": _labels(args), "model": spec.text(), "wall_seconds": wall,
            "partial_seconds": partial, "settings": settings(args)}


def _labels(args: argparse.Namespace) -> str:
    """The label set of the sweep's cells (``fashion-mnist-scenes-binary0`` for a one-class fpn sweep)."""
    if args.scenario == "fpn":
        return args.dataset + (f"-binary{args.binary}" if args.binary is not None else "")
    return label_set(args.dataset, args.coarse_labels)


def _read_wall(run_dir: Path) -> float:
    try:
        value = json.loads((run_dir / "cell.json").read_text(encoding="utf-8")).get("partial_seconds", 0.0)
    except (OSError, ValueError, AttributeError):
        return 0.0
    return float(value) if isinstance(value, (int, float)) else 0.0


def _save_partial_wall(run_dir: Path, args: argparse.Namespace, cell: Cell, seconds: float) -> None:
    """A stopped cell's time so far, added to its total when it finishes."""
    write_json(str(run_dir / "cell.json"), _cell_note(args, cell, None, _read_wall(run_dir) + seconds))


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    errors = [line for line in lines if line.startswith("error:") or ": error:" in line]
    return (errors or lines or [""])[-1]


def _report(args: argparse.Namespace, out: Path, results: List[CellResult]) -> None:
    rows = summarize(results, args.fusions)
    labels = _labels(args)
    write_results_csv(str(out / "results.csv"), results)
    recipe = args.recipe_obj
    about = [f"engine {args.engine}; recipe {recipe.name} ({args.epochs} epochs); "
             f"train size {args.train_size or 'all'}; widths x{args.channel_times}; r preset {args.preset}",
             *(f"{name} host: {SCENARIOS[name][1]}" for name in dict.fromkeys(r.scenario for r in rows))]
    plot = write_plot(str(out / "accuracy_vs_b.png"), rows, f"ablation on {labels}")
    if plot is None:
        about.append("no PNG: matplotlib is not installed in this environment")
    (out / "table.md").write_text(table_markdown(rows, about, labels) + "\n", encoding="utf-8")
    print(f"wrote {out / 'results.csv'}, {out / 'table.md'}" + (f", {plot}" if plot else
                                                                "; no PNG (matplotlib is not installed)"))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the sweep; the exit status (0, 1 if a cell failed, 2 bad input, 130/143 stopped by a signal)."""
    parser = make_parser_ablate()
    args = parser.parse_args(argv)
    _check(parser, args)
    out = Path(args.out).expanduser()
    try:
        _claim(out, settings(args))
    except (ValueError, OSError) as err:
        parser.error(str(err))
    cells = grid(args.scenario, args.fusions, args.blocks, args.seeds)
    finished = {c.key for c in cells if read_cell(str(out / "cells" / c.key), args.epochs) is not None}
    todo = [c for c in cells if c.key not in finished]
    print(f"{len(cells)} cell{'s' if len(cells) != 1 else ''}: {len(finished)} reused (finished before), "
          f"{len(todo)} to train", flush=True)
    handlers = {sig: signal.signal(sig, _raise_stop) for sig in EXIT_INTERRUPTED}
    try:
        _, failures = _train(args, todo, out)
    except _Stop as stop:
        print("interrupted: stopped the running cells (rerun the same command to resume)", file=sys.stderr)
        return EXIT_INTERRUPTED[stop.signum]
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    results = [r for r in (read_cell(str(out / "cells" / c.key), args.epochs) for c in cells) if r is not None]
    if results:
        _report(args, out, results)
    if failures:
        print(f"error: {len(failures)} cell(s) failed: {'; '.join(failures)}", file=sys.stderr)
        return 1
    return 0


def run() -> None:
    """Console entry: exit with :func:`main`'s status."""
    sys.exit(main())


if __name__ == "__main__":
    run()
