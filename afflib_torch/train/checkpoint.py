"""Checkpoint sets of a PyTorch run, with the MXNet engine's names and records (both engines read them).

The core's :class:`afflib.core.checkpoint_manager.CheckpointManager` decides when a set is written and under which
name; :class:`TorchSetWriter` says what it holds:

- ``.params``: the weights in MXNet's format under the MXNet network's names (:func:`afflib_torch.convert.
  mxnet_arrays_from_model` + :func:`afflib.core.params_io.save_params`), so ``afflib.get_model(name,
  pretrained=path)`` and the MXNet ``eval_cifar`` load a model trained here;
- ``.pt``: ``torch.save`` of the model's state_dict, the optimizer's, the gradient scaler's, the position
  ``{"epoch", "batch"}`` training continues at (the next batch to run) and the interrupted epoch's running meter.

A resume (:func:`load_resume_state`) takes the set through :func:`afflib.core.checkpoints.find_resume_point`
(verified, falling back to the newest complete set), then its ``.pt`` (checked against the record).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import torch
from torch import nn

from afflib.core.checkpoint_manager import CheckpointManager, Member, SetWriter
from afflib.core.checkpoint_record import verify_member
from afflib.core.checkpoints import find_resume_point
from afflib.core.params_io import save_params
from afflib.core.runlog import LOGGER_NAME

from ..convert import load_checkpoint, mxnet_arrays_from_model

__all__ = ["TrainState", "TorchSetWriter", "ResumeState", "load_resume_state", "make_checkpoints",
           "CheckpointManager"]


@dataclass
class TrainState:
    """What a ``.pt`` holds besides the weights: optimizer, scaler, where training continues, the epoch's meter."""
    optimizer: torch.optim.Optimizer
    scaler: Optional[Any] = None
    epoch: int = 0
    batch: int = 0
    meter: Dict[str, float] = field(default_factory=dict)

    def at(self, epoch: int, batch: int, meter: Optional[Dict[str, float]] = None) -> "TrainState":
        """Set the position (the next batch to run) and the running meter of a partly trained epoch."""
        self.epoch, self.batch, self.meter = epoch, batch, dict(meter or {})
        return self


class TorchSetWriter(SetWriter):
    """A single process's writer: ``.params`` (MXNet format) then ``.pt``; a DDP session's subclass writes on rank
    0 only (``writes``)."""

    def members(self, net: nn.Module, trainer: Optional[TrainState]) -> List[Member]:
        writers: List[Member] = [(".params", lambda tmp: save_params(tmp, mxnet_arrays_from_model(net)))]
        if trainer is not None:
            state = {"model": {k: v.detach().cpu() for k, v in net.state_dict().items()},
                     "optimizer": trainer.optimizer.state_dict(),
                     "scaler": trainer.scaler.state_dict() if trainer.scaler is not None else None,
                     "position": {"epoch": trainer.epoch, "batch": trainer.batch}, "meter": trainer.meter}
            writers.append((".pt", lambda tmp: torch.save(state, tmp)))
        return writers

    def settle(self) -> None:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()


def make_checkpoints(save_dir: str, tag: str, model_name: str, save_frequency: int, best_as_accuracy: bool,
                     writer: Optional[SetWriter] = None) -> CheckpointManager:
    """The run's :class:`CheckpointManager` with the PyTorch writer (or the session's)."""
    return CheckpointManager(save_dir, tag, model_name, save_frequency, best_as_accuracy,
                             writer if writer is not None else TorchSetWriter())


@dataclass
class ResumeState:
    """Where a resumed run starts: the set's files, the epoch and batch to continue at, the saved meter and the
    ``.pt`` contents (None: a weights-only set, e.g. one the MXNet engine wrote: fresh optimizer)."""
    params: str
    epoch: int
    batch: int
    meter: Dict[str, float]
    saved: Optional[Dict[str, Any]]


def load_resume_state(params: str, model: nn.Module, epoch: Optional[int] = None,
                      log: Optional[logging.Logger] = None) -> ResumeState:
    """Load the weights of the set ``params`` belongs to into ``model``; returns where to continue.

    The ``.pt`` beside the chosen ``.params`` (verified against the set's record) gives optimizer, scaler and
    position; ``epoch`` (``--resume-epoch``) overrides the position (batch 0).
    """
    log = log or logging.getLogger(LOGGER_NAME)
    point = find_resume_point(params, "", epoch, log=log)
    stem = point.params[:-len(".params")] if point.params.endswith(".params") else os.path.splitext(point.params)[0]
    saved = None
    if os.path.isfile(stem + ".pt"):
        verify_member(stem + ".pt")
        saved = torch.load(stem + ".pt", map_location="cpu", weights_only=True)
        model.load_state_dict(saved["model"], strict=True)
    else:
        load_checkpoint(model, point.params)
        log.info("%s has no .pt beside it: weights only, the optimizer starts afresh", point.params)
    start_epoch, start_batch, meter = point.start_epoch, 0, {}
    if saved is not None and epoch is None:
        start_epoch, start_batch = int(saved["position"]["epoch"]), int(saved["position"]["batch"])
        meter = dict(saved.get("meter") or {}) if start_batch else {}
    return ResumeState(point.params, start_epoch, start_batch, meter, saved)
