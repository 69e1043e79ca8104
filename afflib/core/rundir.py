"""The output folder of a training run: one fresh folder per run, never another run's files.

- Default: ``runs/<model>-<dataset>-<YYYYmmdd-HHMMSS>/`` under the current directory, holding the log,
  checkpoints, ``run_config.json``, ``history.json`` and the curve PNG. A resume without ``--save-dir`` continues
  in the folder of its checkpoint.
- A new run refuses a folder that already holds files (and a log or plot file that exists) unless it resumes a
  checkpoint of that folder or ``--overwrite`` is given (then files of the same names are replaced; others stay).
- A resume compares the recipe flags (:data:`RECIPE_FLAGS`) with the run's ``run_config.json`` and refuses a change
  unless ``--allow-recipe-change``. ``run_config.json`` is never rewritten by a resume: each resume in the same folder
  writes ``run_config.resume-N.json`` (N = 1, 2, ...) with the changes it made (``recipe_changes``).

Everything here only reads until :func:`claim_run_dir`'s checks passed; framework-free (no MXNet import).
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

__all__ = ["RECIPE_FLAGS", "RunDir", "default_run_dir", "output_folder", "run_files", "recipe_changes",
           "claim_run_dir", "CONFIG_NAME"]

CONFIG_NAME = "run_config.json"
RUNS_ROOT = "runs"

# Flags (argparse dests) whose change alters what a resumed run trains: epochs, learning rate and schedule,
# batch size, model, data and regularisation. Devices, workers and logging may change freely.
RECIPE_FLAGS = ("num_epochs", "lr", "lr_mode", "cosine", "lr_decay", "lr_decay_period", "lr_decay_epoch",
                "warmup_lr", "warmup_epochs", "batch_size", "momentum", "wd", "no_wd", "mixup", "mixup_alpha",
                "mixup_off_epoch", "label_smoothing", "model", "model_name", "askc_type", "blocks", "channel_times",
                "start_layer", "deep_stem", "num_layer", "r", "classes", "last_gamma", "fix_last_gamma",
                "dataset", "coarse_labels", "input_size")


@dataclass
class RunDir:
    """Where a run writes (``folder`` '' = no checkpoints) and which config file it writes there."""
    folder: str
    config_name: str = CONFIG_NAME
    resumed_in_place: bool = False
    changes: Dict[str, Tuple[Any, Any]] = field(default_factory=dict)

    def config_extra(self, resume_params: Optional[str]) -> Dict[str, Any]:
        """Keys the run's config file gets beyond the arguments: what it resumed and what it changed."""
        extra: Dict[str, Any] = {}
        if resume_params:
            extra["resumed_from"] = os.path.abspath(resume_params)
        if self.changes:
            extra["recipe_changes"] = {k: list(v) for k, v in self.changes.items()}
        return extra


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "run"


def default_run_dir(model: str, dataset: str, root: str = RUNS_ROOT, now: Optional[float] = None) -> str:
    """``root/<model>-<dataset>-<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3``... if that folder already exists."""
    base = os.path.join(root, f"{_slug(model)}-{_slug(dataset)}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}")
    path, n = base, 1
    while os.path.lexists(path):
        n += 1
        path = f"{base}-{n}"
    return path


def output_folder(save_dir: Optional[str], model: str, dataset: str, resume_params: Optional[str]) -> str:
    """The run's folder: ``save_dir`` if given, else the resumed checkpoint's folder, else a fresh default."""
    if save_dir is not None:
        return save_dir
    if resume_params:
        return os.path.dirname(resume_params) or "."
    return default_run_dir(model, dataset)


def run_files(folder: str) -> List[str]:
    """Names of the visible files in ``folder`` ([] if it does not exist): what a new run would mix with.

    Sorted with the run records (``run_config*.json``, ``history.json``) first, so that messages name them."""
    if not folder or not os.path.isdir(folder):
        return []
    names = [e.name for e in os.scandir(folder) if not e.name.startswith(".") and e.is_file()]
    return sorted(names, key=lambda n: (not n.startswith("run_config"), not n.startswith("history"), n))


def _same_folder(a: str, b: str) -> bool:
    return os.path.normcase(os.path.realpath(a or ".")) == os.path.normcase(os.path.realpath(b or "."))


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def recipe_changes(old_args: Dict[str, Any], new_args: Dict[str, Any], old_model: Any = None,
                   new_model: Any = None) -> Dict[str, Tuple[Any, Any]]:
    """``{flag dest: (run's value, new value)}`` for the :data:`RECIPE_FLAGS` both argument sets have."""
    changes = {k: (old_args[k], new_args[k]) for k in RECIPE_FLAGS
               if k in old_args and k in new_args and old_args[k] != new_args[k]}
    if old_model is not None and new_model is not None and old_model != new_model and "model_name" not in changes:
        changes["model_name"] = (old_model, new_model)
    return changes


def _read_config(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read the run's configuration {path}: {err}") from None
    if not isinstance(config, dict) or not isinstance(config.get("args"), dict):
        raise ValueError(f"{path} is not a run configuration (no 'args' object)")
    return config


def _next_resume_config(folder: str) -> str:
    n = 1
    while os.path.lexists(os.path.join(folder, f"run_config.resume-{n}.json")):
        n += 1
    return f"run_config.resume-{n}.json"


def _current_config(folder: str) -> str:
    """The run configuration in force in ``folder``: its newest ``run_config.resume-N.json`` (a resume that was
    allowed to change the recipe), else ``run_config.json``."""
    newest = _next_resume_config(folder)
    n = int(newest[len("run_config.resume-"):-len(".json")]) - 1
    return os.path.join(folder, f"run_config.resume-{n}.json" if n else CONFIG_NAME)


def claim_run_dir(folder: str, args: Dict[str, Any], model: str, resume_params: Optional[str] = None,
                  other_outputs: Sequence[Optional[str]] = (), overwrite: bool = False,
                  allow_recipe_change: bool = False) -> RunDir:
    """Check that the run may write into ``folder`` (and ``other_outputs``: log, plot), then create the folder.

    Raises ``ValueError`` (one line: folder, a few of its files, the flag that would allow it) before writing
    anything: for a folder or output file of another run, and for a resume that changes the recipe.
    """
    in_place = bool(resume_params) and bool(folder) and _same_folder(os.path.dirname(resume_params), folder)
    changes: Dict[str, Tuple[Any, Any]] = {}
    if resume_params:
        source = _current_config(os.path.dirname(resume_params) or ".")
        config = _read_config(source)
        if config is not None:
            changes = recipe_changes(config["args"], args, config.get("model"), model)
            if changes and not allow_recipe_change:
                listed = ", ".join(f"{_flag(k)} {old!r} -> {new!r}" for k, (old, new) in changes.items())
                raise ValueError(f"resume would change the recipe of {source}: {listed}; resume with the run's "
                                 f"flags, or pass --allow-recipe-change (both configurations are kept)")
    if not in_place and not overwrite:
        files = run_files(folder)
        if files:
            more = f", ... ({len(files)} files)" if len(files) > 3 else ""
            raise ValueError(f"--save-dir {folder} already holds another run's files ({', '.join(files[:3])}{more}); "
                             f"choose a new folder, resume with a checkpoint of it, or pass --overwrite")
        taken = [p for p in other_outputs if p and os.path.lexists(p)]
        if taken:
            raise ValueError(f"{', '.join(taken)} already exist{'s' if len(taken) == 1 else ''} (another run's "
                             f"output); choose other log/plot locations or pass --overwrite")
    if folder:
        os.makedirs(folder, exist_ok=True)
    config_name = _next_resume_config(folder) if in_place and os.path.lexists(os.path.join(folder, CONFIG_NAME)) \
        else CONFIG_NAME
    return RunDir(folder, config_name, in_place, changes)
