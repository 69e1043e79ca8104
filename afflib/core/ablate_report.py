"""What an ablation sweep reports: each cell's finished run read back from its run folder, ``results.csv`` (one row
per cell), ``table.md`` (mean ± std over seeds, n, the paper's number beside it) and a PNG (accuracy against b).

Framework-free (stdlib + NumPy; matplotlib only for the PNG, skipped with a note where it is absent). The run
folders are the training engines' own: ``history.json`` (per-epoch numbers), ``run_config.json`` and the ``-last``
checkpoint set, so a cell trained by either engine reads back the same way.
"""
from __future__ import annotations

import csv
import glob
import json
import math
import os
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from .fileio import atomic_write
from .params_io import load_params

__all__ = ["PAPER_ACCURACY", "PAPER_LABELS", "CellResult", "finished_epochs", "last_params", "count_parameters",
           "read_cell", "write_results_csv", "summarize", "table_markdown", "write_plot", "RESULT_COLUMNS"]

# The paper's ablation numbers where afflib's references hold them (../shared/reference/paper_facts.md): accuracy on
# the 20 CIFAR-100 superclasses of the ResNet-20-b host (short skip) at b = 1, 2, 3, 4 (None: not reported).
# Table 4's forms and Table 3's contexts (Global + Local is AFF itself). The Inception host's column is not there.
PAPER_LABELS = "CIFAR-100, 20 superclasses (the paper's Tables 3 and 4)"
PAPER_ACCURACY: Dict[Tuple[str, str], Tuple[Optional[float], ...]] = {
    ("resnet", "add"): (0.740, 0.786, 0.797, 0.808),
    ("resnet", "concat"): (0.742, 0.782, 0.793, 0.798),
    ("resnet", "ms-gau"): (0.766, 0.803, 0.815, 0.819),
    ("resnet", "ms-se"): (0.765, 0.799, 0.814, 0.820),
    ("resnet", "ms-sa"): (0.761, 0.801, 0.814, 0.822),
    ("resnet", "aff"): (0.763, 0.804, 0.816, 0.826),
    ("resnet", "iaff"): (0.772, 0.807, 0.822, None),
    ("resnet", "aff-global-global"): (0.754, 0.796, 0.811, 0.821),
    ("resnet", "aff-local-local"): (0.754, 0.794, 0.808, 0.814),
}

RESULT_COLUMNS = ("scenario", "fusion", "b", "seed", "parameters", "accuracy", "best_accuracy", "epochs",
                  "wall_seconds", "engine", "dataset", "model", "run_dir")
_RUNNING_STATS = ("running_mean", "running_var", "moving_mean", "moving_var")


@dataclass
class CellResult:
    """One finished cell: its place in the grid and what its run measured."""

    scenario: str
    fusion: str
    b: int
    seed: int
    parameters: int
    accuracy: float           # top-1 accuracy on the test split after the last epoch
    best_accuracy: float      # the best epoch's (what the release's logs report)
    epochs: int
    wall_seconds: float
    engine: str
    dataset: str              # with its label set: cifar100-coarse for the 20 superclasses
    model: str                # the model spec the cell trained
    run_dir: str


def _read_json(path: str) -> Optional[dict]:
    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def finished_epochs(run_dir: str, epochs: int) -> Optional[List[dict]]:
    """The per-epoch history of the run in ``run_dir`` if it trained and validated all ``epochs`` epochs, else None."""
    history = (_read_json(os.path.join(run_dir, "history.json")) or {}).get("epochs")
    if not isinstance(history, list):
        return None
    done = [h for h in history if isinstance(h, dict) and isinstance(h.get("epoch"), int)]
    if {h["epoch"] for h in done} >= set(range(epochs)) and done[-1].get("val_top1_error") is not None:
        return done
    return None


def last_params(run_dir: str) -> Optional[str]:
    """The run's resumable ``-last`` checkpoint (``.params`` with its ``.json`` record beside it), if any."""
    for path in sorted(glob.glob(os.path.join(run_dir, "*-last.params"))):
        if os.path.isfile(path[:-len(".params")] + ".json"):
            return path
    return None


def count_parameters(params_path: str) -> int:
    """Learned values in a ``.params`` file (BatchNorm running statistics left out); both engines write MXNet's
    format, so one count serves both."""
    arrays = load_params(params_path)
    items = arrays.items() if isinstance(arrays, dict) else enumerate(arrays)
    return int(sum(value.size for name, value in items if not str(name).endswith(_RUNNING_STATS)))


def read_cell(run_dir: str, epochs: int) -> Optional[CellResult]:
    """The result of the cell whose run folder is ``run_dir`` (its ``cell.json`` written by the sweep), or None
    while its run has not finished ``epochs`` epochs."""
    cell = _read_json(os.path.join(run_dir, "cell.json"))
    history = finished_epochs(run_dir, epochs)
    params = last_params(run_dir)
    if cell is None or history is None or params is None:
        return None
    errors = [h["val_top1_error"] for h in history if h.get("val_top1_error") is not None]
    wall = cell.get("wall_seconds")
    if not isinstance(wall, (int, float)):          # finished, but the sweep stopped before it noted the time
        wall = sum(float(h.get("train_seconds") or 0.0) for h in history)
    return CellResult(cell["scenario"], cell["fusion"], int(cell["b"]), int(cell["seed"]), count_parameters(params),
                      1.0 - history[-1]["val_top1_error"], 1.0 - min(errors), len(history), float(wall),
                      cell.get("engine", ""), cell.get("dataset", ""), cell.get("model", ""), run_dir)


def write_results_csv(path: str, results: Sequence[CellResult]) -> str:
    """``results.csv``: one row per cell, :data:`RESULT_COLUMNS`, accuracies as fractions (4 decimals)."""
    def write(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, fieldnames=RESULT_COLUMNS)
            writer.writeheader()
            for result in results:
                row = asdict(result)
                row.update(accuracy=f"{result.accuracy:.4f}", best_accuracy=f"{result.best_accuracy:.4f}",
                           wall_seconds=f"{result.wall_seconds:.1f}")
                writer.writerow(row)
    atomic_write(path, write)
    return path


@dataclass
class Summary:
    """The seeds of one (scenario, fusion, b): mean, sample standard deviation (None for one seed), n."""

    scenario: str
    fusion: str
    b: int
    mean: float
    std: Optional[float]
    n: int
    parameters: int
    paper: Optional[float]


def _paper(scenario: str, fusion: str, b: int) -> Optional[float]:
    values = PAPER_ACCURACY.get((scenario, fusion), ())
    return values[b - 1] if 1 <= b <= len(values) else None


def summarize(results: Sequence[CellResult], fusion_order: Sequence[str] = ()) -> List[Summary]:
    """One :class:`Summary` per (scenario, fusion, b), in ``fusion_order`` (then by name), b ascending."""
    groups: Dict[Tuple[str, str, int], List[CellResult]] = {}
    for result in results:
        groups.setdefault((result.scenario, result.fusion, result.b), []).append(result)
    order = {name: i for i, name in enumerate(fusion_order)}
    rows = []
    for (scenario, fusion, b) in sorted(groups, key=lambda k: (k[0], order.get(k[1], len(order)), k[1], k[2])):
        values = [r.accuracy for r in groups[(scenario, fusion, b)]]
        n = len(values)
        mean = sum(values) / n
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
        rows.append(Summary(scenario, fusion, b, mean, std, n, groups[(scenario, fusion, b)][0].parameters,
                            _paper(scenario, fusion, b)))
    return rows


#: what a scenario's cells measure (the value of the ``accuracy`` column): the segmentation host's is test mIoU
METRIC = {"fpn": "mIoU"}


def metric_name(scenario: str) -> str:
    """``accuracy`` (classification hosts) or ``mIoU`` (the long-skip FPN host)."""
    return METRIC.get(scenario, "accuracy")


def versus_add(row: Summary, rows: Sequence[Summary]) -> Optional[Tuple[float, float]]:
    """``(difference, 2 standard errors)`` of ``row``'s mean against plain addition at the same scenario and b
    (Welch's standard error of a difference of means); None without an ``add`` row or with one seed on a side."""
    base = next((r for r in rows if (r.scenario, r.fusion, r.b) == (row.scenario, "add", row.b)), None)
    if base is None or row.fusion == "add" or row.std is None or base.std is None:
        return None
    return row.mean - base.mean, 2 * math.sqrt(row.std ** 2 / row.n + base.std ** 2 / base.n)


def _versus(row: Summary, rows: Sequence[Summary]) -> str:
    found = versus_add(row, rows)
    if found is None:
        return "—"
    difference, margin = found
    return f"{100 * difference:+.2f} ± {100 * margin:.2f}{' *' if abs(difference) > margin else ''}"


def _percent(value: Optional[float]) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


def table_markdown(rows: Sequence[Summary], about: Sequence[str], label_set: str) -> str:
    """``table.md``: a heading, the ``about`` lines (data, recipe, engine), and per scenario a table of accuracy
    (%) mean ± std over seeds and n, the parameters, and the paper's number on its own label set."""
    lines = ["# Ablation sweep", ""] + [f"- {line}" for line in about]
    measures = " and ".join(dict.fromkeys("top-1 accuracy" if metric_name(r.scenario) == "accuracy" else "mIoU"
                                          for r in rows)) or "top-1 accuracy"
    lines += [f"- label set measured: {label_set}; {measures} on its test split after the last epoch, "
              "mean ± sample standard deviation over the seeds (n of them)",
              f"- paper: {PAPER_LABELS}, 400 epochs; beside the measurement for orientation, not the same "
              "experiment unless the label set and recipe are the paper's",
              "- vs add: the difference of means to plain addition at the same b (percentage points) ± two standard "
              "errors (Welch); * where the difference exceeds them", ""]
    for scenario in dict.fromkeys(row.scenario for row in rows):
        metric = metric_name(scenario)
        note = ["test mIoU after the last epoch (the `accuracy` column of results.csv)", ""] if metric != "accuracy" \
            else []
        lines += [f"## {scenario} host", "", *note,
                  f"| fusion | b | {metric} (%) | n | vs add (pp) | parameters | paper (%) |",
                  "|---|---|---|---|---|---|---|"]
        for row in (r for r in rows if r.scenario == scenario):
            spread = f" ± {100 * row.std:.2f}" if row.std is not None else ""
            lines.append(f"| {row.fusion} | {row.b} | {100 * row.mean:.2f}{spread} | {row.n} | {_versus(row, rows)} | "
                         f"{row.parameters:,} | {_percent(row.paper)} |")
        lines.append("")
    return "\n".join(lines)


def write_plot(path: str, rows: Sequence[Summary], title: str) -> Optional[str]:
    """Accuracy against b per fusion form (error bars: the seeds' standard deviation), one panel per scenario;
    None (no file) where matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    scenarios = list(dict.fromkeys(row.scenario for row in rows))
    fig, axes = plt.subplots(1, max(len(scenarios), 1), figsize=(6 * max(len(scenarios), 1), 4.5), squeeze=False)
    for ax, scenario in zip(axes[0], scenarios):
        mine = [r for r in rows if r.scenario == scenario]
        for fusion in dict.fromkeys(r.fusion for r in mine):
            points = [r for r in mine if r.fusion == fusion]
            ax.errorbar([r.b for r in points], [100 * r.mean for r in points],
                        yerr=[100 * (r.std or 0.0) for r in points], marker="o", capsize=3, label=fusion)
        ax.set_title(f"{scenario} host")
        ax.set_xlabel("b (blocks per stage)")
        ax.set_ylabel(f"test {metric_name(scenario)} (%)")
        ax.set_xticks(sorted({r.b for r in mine}))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)
    return path
