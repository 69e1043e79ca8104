"""Checkpoints of a run: params + trainer states + a JSON record, every file written atomically.

File names in ``save_dir`` (``tag`` is ``imagenet``, ``cifar100``, ``fashion-mnist``...):

- ``{tag}-{model}-last.{params,states,json}``: the resumable state after the last finished epoch (or of an
  interrupted one); rewritten every epoch, so a crash keeps the previous one.
- ``{tag}-{model}-{epoch}.{params,states,json}``: every ``save_frequency`` epochs.
- ``%.4f-{tag}-{model}-{epoch}-best.{params,states,json}``: each new best validation result, ``%.4f`` being the
  top-1 error (ImageNet, as the original release) or the accuracy (CIFAR, as the original release).
- ``run_config.json`` (the command line and environment) and ``history.json`` (per-epoch numbers).

A ``.json`` record is written last, so a checkpoint is complete exactly when its record exists.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from mxnet import gluon

from afflib.fileio import atomic_write

__all__ = ["atomic_write", "CheckpointManager", "ResumePoint", "find_resume_point"]


def _write_json(path: str, record: Dict[str, Any]) -> str:
    def dump(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1, sort_keys=True, default=str)
    return atomic_write(path, dump)


@dataclass
class ResumePoint:
    """Where a resumed run starts: the params to load, optional trainer states, and the next epoch to run."""
    params: str
    states: Optional[str]
    start_epoch: int


def find_resume_point(params: str, states: str = "", epoch: Optional[int] = None) -> ResumePoint:
    """Resolve ``params`` (+ ``states``, + ``epoch``) into a :class:`ResumePoint`.

    Missing ``states``/``epoch`` are taken from the files written beside ``params`` by
    :class:`CheckpointManager` (``.states`` and the ``.json`` record's ``next_epoch``); without a record the
    run restarts at epoch 0 with the given weights.
    """
    if not os.path.isfile(params):
        raise FileNotFoundError(f"resume params file not found: {params}")
    stem = params[:-len(".params")] if params.endswith(".params") else params
    if not states and os.path.isfile(stem + ".states"):
        states = stem + ".states"
    if states and not os.path.isfile(states):
        raise FileNotFoundError(f"resume states file not found: {states}")
    if epoch is None:
        epoch = 0
        if os.path.isfile(stem + ".json"):
            with open(stem + ".json", encoding="utf-8") as f:
                epoch = int(json.load(f).get("next_epoch", 0))
    return ResumePoint(params, states or None, int(epoch))


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
        Also write the trainer's optimizer states (not possible from a distributed KVStore).
    """

    def __init__(self, save_dir: str, tag: str, model_name: str, save_frequency: int = 1,
                 best_as_accuracy: bool = False, save_states: bool = True):
        self.save_states = save_states
        self.save_dir, self.tag, self.model_name = save_dir, tag, model_name
        self.save_frequency, self.best_as_accuracy = save_frequency, best_as_accuracy
        self.best_error = float("inf")
        self.best_path: Optional[str] = None
        self.last_good: Optional[str] = None
        if save_dir:
            os.makedirs(save_dir, exist_ok=True)

    def _path(self, name: str) -> str:
        return os.path.join(self.save_dir, name)

    @property
    def last_stem(self) -> str:
        return self._path(f"{self.tag}-{self.model_name}-last")

    def write_config(self, config: Dict[str, Any], name: str = "run_config.json") -> Optional[str]:
        """Write the run's configuration next to its outputs (a resume: ``name`` = ``run_config.resume-N.json``)."""
        return _write_json(self._path(name), config) if self.save_dir else None

    def write_history(self, history: List[Dict[str, Any]]) -> Optional[str]:
        return _write_json(self._path("history.json"), {"epochs": history}) if self.save_dir else None

    def load_history(self) -> List[Dict[str, Any]]:
        """The per-epoch history of an earlier part of this run (for resumed runs), or []."""
        path = self._path("history.json")
        if not self.save_dir or not os.path.isfile(path):
            return []
        with open(path, encoding="utf-8") as f:
            return list(json.load(f).get("epochs", []))

    def save(self, stem: str, net: gluon.Block, trainer: Optional[gluon.Trainer], record: Dict[str, Any]) -> str:
        """Write ``stem.params``, ``stem.states`` and last ``stem.json``; returns the params path."""
        atomic_write(stem + ".params", net.save_parameters)
        if trainer is not None and self.save_states:
            atomic_write(stem + ".states", trainer.save_states)
        _write_json(stem + ".json", dict(record, model=self.model_name, params=os.path.basename(stem + ".params")))
        return stem + ".params"

    def end_of_epoch(self, net: gluon.Block, trainer: gluon.Trainer, epoch: int, val_error: Optional[float],
                     record: Dict[str, Any]) -> Dict[str, str]:
        """Save what epoch ``epoch`` (0-based, finished) calls for; returns {kind: params path}."""
        if not self.save_dir:
            return {}
        record = dict(record, epoch=epoch, next_epoch=epoch + 1)
        written = {"last": self.save(self.last_stem, net, trainer, record)}
        self.last_good = written["last"]
        if self.save_frequency and (epoch + 1) % self.save_frequency == 0:
            written["periodic"] = self.save(self._path(f"{self.tag}-{self.model_name}-{epoch}"), net, trainer, record)
        if val_error is not None and val_error < self.best_error:
            self.best_error = val_error
            score = 1.0 - val_error if self.best_as_accuracy else val_error
            stem = self._path("%.4f-%s-%s-%d-best" % (score, self.tag, self.model_name, epoch))
            written["best"] = self.best_path = self.save(stem, net, trainer, record)
        return written

    def save_interrupted(self, net: gluon.Block, trainer: gluon.Trainer, epoch: int, batch: int,
                         record: Dict[str, Any]) -> Optional[str]:
        """Save the weights of an interrupted epoch; resuming restarts that epoch from these weights."""
        if not self.save_dir:
            return None
        record = dict(record, epoch=epoch - 1, next_epoch=epoch, interrupted_at_batch=batch)
        self.last_good = self.save(self.last_stem, net, trainer, record)
        return self.last_good
