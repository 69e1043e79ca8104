"""The checkpoint sets of a training run, for both engines: which set is written when, under which name, and the
run's ``run_config.json`` / ``history.json`` (framework-free; each engine gives a :class:`SetWriter`).

File names in ``save_dir`` (from :mod:`afflib.core.checkpoints`; ``tag`` is ``imagenet``, ``cifar100``...):

- ``{tag}-{model}-last.*``: the resumable state after the last finished epoch (or of an interrupted one);
  rewritten every epoch, so a crash keeps the previous one.
- ``{tag}-{model}-{epoch}.*``: every ``save_frequency`` epochs.
- ``%.4f-{tag}-{model}-{epoch}-best.*``: each new best validation result, ``%.4f`` being the top-1 error
  (ImageNet, as the original release) or the accuracy (CIFAR, as the original release).
- ``run_config.json`` (the command line and environment) and ``history.json`` (per-epoch numbers).

Each set is committed as one unit by :func:`afflib.core.checkpoint_record.commit_set`: the writer's members
(``.params`` always, in MXNet's format; ``.states`` for MXNet's trainer, ``.pt`` for PyTorch's model, optimizer,
scaler and position), then the ``.json`` record holding their sizes and SHA-256 sums. The ``-last`` set is written
before the epoch's validation.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any, Callable, Dict, List, Optional, Tuple

from .checkpoint_record import commit_set, write_json
from .checkpoints import best_stem, last_stem, periodic_stem
from .fileio import remove_stale_temp

__all__ = ["Member", "SetWriter", "CheckpointManager", "MEMBER_ROLES"]

Member = Tuple[str, Callable[[str], Any]]
#: the key of each member's file name in a set's record (``params`` and ``states`` are what resume verifies)
MEMBER_ROLES = {".params": "params", ".states": "states", ".pt": "torch_state"}


class SetWriter:
    """Who writes the files of a run and what a checkpoint set holds: the strategy :class:`CheckpointManager`
    asks. An engine subclasses it with :meth:`members`; a distributed run's session gives one that writes on rank
    0 only (``writes``) or does not save interrupted epochs (``saves_interrupted``)."""

    #: this process writes checkpoints, ``run_config.json`` and ``history.json``
    writes: bool = True
    #: an interrupted epoch is saved
    saves_interrupted: bool = True

    def members(self, net: Any, trainer: Any) -> List[Member]:
        """(extension, writer(tmp_path)) of each file of a set, in writing order; ``.params`` first."""
        raise NotImplementedError

    def settle(self) -> None:
        """Wait for the engine's pending work before a set is written (no-op by default)."""

    def record_extra(self) -> Dict[str, Any]:
        """Keys every set's ``.json`` record gets from this writer (a dist run: its number of workers)."""
        return {}


class CheckpointManager:
    """Owns the checkpoint files of one run (names in the module docstring).

    Parameters
    ----------
    save_dir : str
        Output folder ('' or None: no checkpoints at all).
    tag : str
        Dataset tag in the names (``imagenet``, ``cifar10``...).
    model_name : str
    save_frequency : int
        Also keep a numbered checkpoint every this many epochs (0: never).
    best_as_accuracy : bool
        Name best checkpoints by accuracy (CIFAR) instead of top-1 error (ImageNet).
    writer : SetWriter
        Who writes and what a set holds.
    """

    def __init__(self, save_dir: str, tag: str, model_name: str, save_frequency: int = 1,
                 best_as_accuracy: bool = False, writer: Optional[SetWriter] = None):
        if writer is None:
            raise ValueError("CheckpointManager needs the engine's SetWriter")
        self.writer = writer
        self.save_dir, self.tag, self.model_name = save_dir, tag, model_name
        self.save_frequency, self.best_as_accuracy = save_frequency, best_as_accuracy
        self.best_error = float("inf")
        self.best_path: Optional[str] = None
        self.last_good: Optional[str] = None
        # the folder is made by the first write (the run's claim, or a save): in a job the other ranks, which
        # write nothing, must not leave empty default folders behind

    def _path(self, name: str) -> str:
        return os.path.join(self.save_dir, name)

    @property
    def last_stem(self) -> str:
        return self._path(last_stem(self.tag, self.model_name))

    @property
    def writes(self) -> bool:
        """Whether this process writes files into the run's folder (one is given, and the writer writes)."""
        return bool(self.save_dir) and self.writer.writes

    def write_config(self, config: Dict[str, Any], name: str = "run_config.json") -> Optional[str]:
        """Write the run's configuration next to its outputs (a resume: ``name`` = ``run_config.resume-N.json``)."""
        return write_json(self._path(name), config) if self.writes else None

    def write_history(self, history: List[Dict[str, Any]]) -> Optional[str]:
        return write_json(self._path("history.json"), {"epochs": history}) if self.writes else None

    def load_history(self) -> List[Dict[str, Any]]:
        """The per-epoch history of an earlier part of this run (for resumed runs), or []."""
        path = self._path("history.json")
        if not self.save_dir or not os.path.isfile(path):
            return []
        with open(path, encoding="utf-8") as f:
            return list(json.load(f).get("epochs", []))

    def resume_history(self, start_epoch: int) -> List[Dict[str, Any]]:
        """The history of the epochs before ``start_epoch``; the best error so far is taken from it."""
        history = [h for h in self.load_history() if h["epoch"] < start_epoch]
        errors = [h["val_top1_error"] for h in history if h.get("val_top1_error") is not None]
        if errors:
            self.best_error = min(errors)
        return history

    def remove_stale_temp(self, log: Optional[logging.Logger] = None) -> List[str]:
        """Delete temporary files that killed writes left in ``save_dir`` (afflib's temp names only)."""
        removed = remove_stale_temp(self.save_dir) if self.writes else []
        if removed and log is not None:
            log.info("removed %d stale temporary file(s) of killed writes from %s: %s", len(removed), self.save_dir,
                     ", ".join(removed[:5]) + (" ..." if len(removed) > 5 else ""))
        return removed

    def save(self, stem: str, net: Any, trainer: Any, record: Dict[str, Any]) -> str:
        """Commit the set ``stem`` (the writer's members in its order, then the ``.json`` record); returns the params
        path. A process whose writer does not write returns that path without writing."""
        if not self.writer.writes:
            return stem + ".params"
        self.writer.settle()
        writers = self.writer.members(net, trainer)
        names = {MEMBER_ROLES.get(ext, ext.lstrip(".")): os.path.basename(stem + ext) for ext, _ in writers}
        names.setdefault("states", None)
        commit_set(stem, writers, dict(record, **self.writer.record_extra(), model=self.model_name, **names))
        return stem + ".params"

    def save_last(self, net: Any, trainer: Any, epoch: int, record: Dict[str, Any]) -> Optional[str]:
        """Write the resumable ``-last`` set of finished epoch ``epoch`` (before its validation)."""
        if not self.save_dir:
            return None
        self.last_good = self.save(self.last_stem, net, trainer, dict(record, epoch=epoch, next_epoch=epoch + 1))
        return self.last_good

    def end_of_epoch(self, net: Any, trainer: Any, epoch: int, val_error: Optional[float],
                     record: Dict[str, Any], last_saved: bool = False) -> Dict[str, str]:
        """Save what epoch ``epoch`` (0-based, finished) calls for (``-last`` too unless ``last_saved``);
        returns {kind: params path}."""
        if not self.save_dir:
            return {}
        if not last_saved:
            self.save_last(net, trainer, epoch, record)
        written = {"last": self.last_good} if self.last_good else {}
        record = dict(record, epoch=epoch, next_epoch=epoch + 1)
        if self.save_frequency and (epoch + 1) % self.save_frequency == 0:
            written["periodic"] = self.save(self._path(periodic_stem(self.tag, self.model_name, epoch)), net, trainer,
                                            record)
        if val_error is not None and val_error < self.best_error:
            self.best_error = val_error
            score = 1.0 - val_error if self.best_as_accuracy else val_error
            stem = self._path(best_stem(score, self.tag, self.model_name, epoch))
            written["best"] = self.best_path = self.save(stem, net, trainer, record)
        return written

    def save_interrupted(self, net: Any, trainer: Any, epoch: int, batch: int,
                         record: Dict[str, Any]) -> Optional[str]:
        """Save the state of epoch ``epoch`` interrupted after batch ``batch`` (not where the writer says no: a
        dist run resumes from its last end-of-epoch set). MXNet resumes by restarting that epoch; PyTorch continues
        at the next batch (its ``.pt`` holds the position)."""
        if not self.save_dir or not self.writer.saves_interrupted:
            return None
        record = dict(record, epoch=epoch - 1, next_epoch=epoch, interrupted_at_batch=batch)
        self.last_good = self.save(self.last_stem, net, trainer, record)
        return self.last_good
