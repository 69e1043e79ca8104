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
``-last`` set is written before the epoch's validation. When and under which name is framework-free
(:class:`afflib.core.checkpoint_manager.CheckpointManager`, shared with the PyTorch engine); what a set holds is
MXNet's here (:class:`CheckpointWriter`).
"""
from __future__ import annotations

import logging
from typing import List, Optional

import mxnet as mx
from mxnet import gluon

from afflib.core import checkpoint_manager, checkpoints
from afflib.core.checkpoint_manager import Member, SetWriter
from afflib.core.checkpoints import ResumePoint
from afflib.core.fileio import atomic_write

from .logs import LOGGER_NAME

__all__ = ["atomic_write", "CheckpointManager", "CheckpointWriter", "ResumePoint", "find_resume_point"]


def find_resume_point(params: str, states: str = "", epoch: Optional[int] = None) -> ResumePoint:
    """:func:`afflib.core.checkpoints.find_resume_point`, a fallback to an older set logged to the training log."""
    return checkpoints.find_resume_point(params, states, epoch, log=logging.getLogger(LOGGER_NAME))


class CheckpointWriter(SetWriter):
    """Who writes the files of a run and what a checkpoint set holds: the strategy :class:`CheckpointManager` asks.

    This one is a single process's: it writes everything, the trainer's optimizer states are its own
    (``Trainer.save_states``), and an interrupted epoch is saved. A distributed run's session gives another
    (:class:`afflib.distributed.ServerStatesWriter`: rank 0 alone writes, the servers' states first).
    """

    def __init__(self, save_states: bool = True):
        self.save_states = save_states

    def members(self, net: gluon.Block, trainer: Optional[gluon.Trainer]) -> List[Member]:
        """(extension, writer) of each file of a set, in writing order."""
        writers: List[Member] = [(".params", net.save_parameters)]
        if trainer is not None and self.save_states:
            writers.append((".states", trainer.save_states))
        return writers

    def settle(self) -> None:
        # Wait for every pending operation first: in a hybridized (static_alloc) network the BatchNorm running
        # statistics of the last backward pass are written without a dependency that save_parameters' copies wait
        # for, so a save right after training (the -last set, before validation) stored stale statistics.
        mx.nd.waitall()


class CheckpointManager(checkpoint_manager.CheckpointManager):
    """Owns the checkpoint files of one run (names in the module docstring; the logic is the core's
    :class:`afflib.core.checkpoint_manager.CheckpointManager`).

    Parameters
    ----------
    save_dir, tag, model_name, save_frequency, best_as_accuracy
        As the core's.
    save_states : bool
        Also write the trainer's optimizer states (with the default ``writer``).
    writer : CheckpointWriter, optional
        Who writes and what a set holds (default: this process, everything: ``CheckpointWriter(save_states)``).
    """

    def __init__(self, save_dir: str, tag: str, model_name: str, save_frequency: int = 1,
                 best_as_accuracy: bool = False, save_states: bool = True,
                 writer: Optional[CheckpointWriter] = None):
        super().__init__(save_dir, tag, model_name, save_frequency, best_as_accuracy,
                         writer if writer is not None else CheckpointWriter(save_states))
