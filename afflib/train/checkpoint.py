"""Checkpoints of a run: params + trainer states + a JSON record, every file written atomically.

File names in ``save_dir`` (from :mod:`afflib.core.checkpoints`; ``tag`` is ``imagenet``, ``cifar100``...):

- ``{tag}-{model}-last.{params,states,json}``: the resumable state after the last finished epoch (or of an
  interrupted one); rewritten every epoch, so a crash keeps the previous one.
- ``{tag}-{model}-{epoch}.{params,states,json}``: every ``save_frequency`` epochs.
- ``%.4f-{tag}-{model}-{epoch}-best.{params,states,json}``: each new best validation result, ``%.4f`` being the
  top-1 error (ImageNet, as the original release) or the accuracy (CIFAR, as the original release).
- ``run_config.json`` (the command line and environment) and ``history.json`` (per-epoch numbers).

Each set is committed as one unit by :func:`afflib.core.checkpoint_record.commit_set`: members first, then the
``.json`` record holding their sizes and SHA-256 sums; resume verifies them and falls back to the newest complete
set of the run (naming the file that did not match; :func:`afflib.core.checkpoints.find_resume_point`). The
``-last`` set is written before the epoch's validation.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any, Callable, Dict, List, Optional, Tuple

import mxnet as mx
from mxnet import gluon

from afflib.core import checkpoints
from afflib.core.checkpoint_record import commit_set
from afflib.core.checkpoints import ResumePoint, best_stem, last_stem, periodic_stem
from afflib.core.checkpoint_record import write_json as _write_json
from afflib.core.fileio import atomic_write, remove_stale_temp

from .logs import LOGGER_NAME

__all__ = ["atomic_write", "CheckpointManager", "CheckpointWriter", "ResumePoint", "find_resume_point"]

Member = Tuple[str, Callable[[str], Any]]


def find_resume_point(params: str, states: str = "", epoch: Optional[int] = None) -> ResumePoint:
    """:func:`afflib.core.checkpoints.find_resume_point`, a fallback to an older set logged to the training log."""
    return checkpoints.find_resume_point(params, states, epoch, log=logging.getLogger(LOGGER_NAME))


class CheckpointWriter:
    """Who writes the files of a run and what a checkpoint set holds: the strategy :class:`CheckpointManager` asks.

    This one is a single process's: it writes everything, the trainer's optimizer states are its own
    (``Trainer.save_states``), and an interrupted epoch is saved. A distributed run's session gives another
    (:class:`afflib.distributed.ServerStatesWriter`: rank 0 alone writes, the servers' states first).
    """

    #: this process writes checkpoints, ``run_config.json`` and ``history.json``
    writes: bool = True
    #: an interrupted epoch is saved (resuming restarts it)
    saves_interrupted: bool = True

    def __init__(self, save_states: bool = True):
        self.save_states = save_states

    def members(self, net: gluon.Block, trainer: Optional[gluon.Trainer]) -> List[Member]:
        """(extension, writer) of each file of a set, in writing order."""
        writers: List[Member] = [(".params", net.save_parameters)]
        if trainer is not None and self.save_states:
            writers.append((".states", trainer.save_states))
        return writers

    def record_extra(self) -> Dict[str, Any]:
        """Keys every set's ``.json`` record gets from this writer (a dist run: its number of workers)."""
        return {}


class CheckpointManager:
    """Owns the checkpoint files of one run (names in the module docstring).

    Parameters
    ----------
    save_dir : str
        Output folder ('' or None disables periodic and best checkpoints, not the resumable ``last`` one unless
        ``save_dir`` is empty).
    tag : str
        Dataset tag in the names (``imagenet``, ``cifar10``...).
    model_name : str
    save_frequency : int
        Also keep a numbered checkpoint every this many epochs (0: never).
    best_as_accuracy : bool
        Name best checkpoints by accuracy (CIFAR) instead of top-1 error (ImageNet).
    save_states : bool
        Also write the trainer's optimizer states (with the default ``writer``).
    writer : CheckpointWriter, optional
        Who writes and what a set holds (default: this process, everything: ``CheckpointWriter(save_states)``).
    """

    def __init__(self, save_dir: str, tag: str, model_name: str, save_frequency: int = 1,
                 best_as_accuracy: bool = False, save_states: bool = True,
                 writer: Optional[CheckpointWriter] = None):
        self.writer = writer if writer is not None else CheckpointWriter(save_states)
        self.save_dir, self.tag, self.model_name = save_dir, tag, model_name
        self.save_frequency, self.best_as_accuracy = save_frequency, best_as_accuracy
        self.best_error = float("inf")
        self.best_path: Optional[str] = None
        self.last_good: Optional[str] = None
        # the folder is made by the first write (the run's claim, or a save): in a dist_* job the other ranks, which
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
        return _write_json(self._path(name), config) if self.writes else None

    def write_history(self, history: List[Dict[str, Any]]) -> Optional[str]:
        return _write_json(self._path("history.json"), {"epochs": history}) if self.writes else None

    def load_history(self) -> List[Dict[str, Any]]:
        """The per-epoch history of an earlier part of this run (for resumed runs), or []."""
        path = self._path("history.json")
        if not self.save_dir or not os.path.isfile(path):
            return []
        with open(path, encoding="utf-8") as f:
            return list(json.load(f).get("epochs", []))

    def remove_stale_temp(self, log: Optional[logging.Logger] = None) -> List[str]:
        """Delete temporary files that killed writes left in ``save_dir`` (afflib's temp names only)."""
        removed = remove_stale_temp(self.save_dir) if self.writes else []
        if removed and log is not None:
            log.info("removed %d stale temporary file(s) of killed writes from %s: %s", len(removed), self.save_dir,
                     ", ".join(removed[:5]) + (" ..." if len(removed) > 5 else ""))
        return removed

    def save(self, stem: str, net: gluon.Block, trainer: Optional[gluon.Trainer], record: Dict[str, Any]) -> str:
        """Commit the set ``stem`` (the writer's members in its order, then the ``.json`` record); returns the params
        path. A process whose writer does not write returns that path without writing."""
        if not self.writer.writes:
            return stem + ".params"
        # Wait for every pending operation first: in a hybridized (static_alloc) network the BatchNorm running
        # statistics of the last backward pass are written without a dependency that save_parameters' copies wait
        # for, so a save right after training (the -last set, before validation) stored stale statistics.
        mx.nd.waitall()
        writers = self.writer.members(net, trainer)
        names = {ext: os.path.basename(stem + ext) for ext, _ in writers}
        commit_set(stem, writers, dict(record, **self.writer.record_extra(), model=self.model_name,
                                       params=names[".params"], states=names.get(".states")))
        return stem + ".params"

    def save_last(self, net: gluon.Block, trainer: gluon.Trainer, epoch: int, record: Dict[str, Any]) -> Optional[str]:
        """Write the resumable ``-last`` set of finished epoch ``epoch`` (before its validation)."""
        if not self.save_dir:
            return None
        self.last_good = self.save(self.last_stem, net, trainer, dict(record, epoch=epoch, next_epoch=epoch + 1))
        return self.last_good

    def end_of_epoch(self, net: gluon.Block, trainer: gluon.Trainer, epoch: int, val_error: Optional[float],
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
            written["periodic"] = self.save(self._path(periodic_stem(self.tag, self.model_name, epoch)), net, trainer, record)
        if val_error is not None and val_error < self.best_error:
            self.best_error = val_error
            score = 1.0 - val_error if self.best_as_accuracy else val_error
            stem = self._path(best_stem(score, self.tag, self.model_name, epoch))
            written["best"] = self.best_path = self.save(stem, net, trainer, record)
        return written

    def save_interrupted(self, net: gluon.Block, trainer: gluon.Trainer, epoch: int, batch: int,
                         record: Dict[str, Any]) -> Optional[str]:
        """Save the weights of an interrupted epoch; resuming restarts that epoch from these weights (not where the
        writer says no: a dist run resumes from its last end-of-epoch set)."""
        if not self.save_dir or not self.writer.saves_interrupted:
            return None
        record = dict(record, epoch=epoch - 1, next_epoch=epoch, interrupted_at_batch=batch)
        self.last_good = self.save(self.last_stem, net, trainer, record)
        return self.last_good
