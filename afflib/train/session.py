"""The session of a training run: what differs between one process and a worker of a multi-machine job.

:func:`afflib.train.runner.run_training` asks its session, never the KVStore, where its data shard is, which
process validates and writes, how the trainer gets its optimizer states and who writes checkpoints. This module
defines the protocol and the single-process session; ``afflib.distributed.DistSession`` implements the same
protocol for ``dist_*`` jobs (the scripts build it), so the engine never imports the distributed side.
"""
from __future__ import annotations

import logging
from typing import Any, Optional, Tuple

from .checkpoint import CheckpointWriter

__all__ = ["LocalSession"]


class LocalSession:
    """A run in one process (on one or several devices): it validates, writes every file and keeps the trainer's
    own optimizer states. Subclasses (``afflib.distributed.DistSession``) override what a job changes.

    The protocol: ``active``, ``rank``, ``num_workers``, ``is_chief``, ``shard``, :meth:`log_file`,
    :meth:`configure_logging`, :meth:`validation_source`, :meth:`prepare_trainer`, :meth:`checkpoint_writer`,
    :meth:`finish`.
    """

    active = False          # a multi-process job (the schedule and optimizer then run on its servers)
    rank = 0
    num_workers = 1
    is_chief = True         # writes the log file, checkpoints, run_config.json and history.json

    @property
    def shard(self) -> Tuple[int, int]:
        """``(num_parts, part_index)`` of this process's training data."""
        return self.num_workers, self.rank

    def log_file(self, path: Optional[str]) -> Optional[str]:
        """The log file this process writes (``path``: the run's)."""
        return path

    def configure_logging(self, log: logging.Logger) -> logging.Logger:
        """Adjust the run's log lines to this process (unchanged here)."""
        return log

    def validation_source(self, source: Any) -> Any:
        """The validation data this process evaluates (``None``: it does not validate)."""
        return source

    def prepare_trainer(self, trainer: Any, schedule: Any, per_worker_batch: int, start_epoch: int,
                        states: Optional[str]) -> None:
        """Make ``trainer`` ready for its first step; ``states``: optimizer states of the resumed checkpoint."""
        if states:
            trainer.load_states(states)

    def checkpoint_writer(self, save_states: bool = True) -> CheckpointWriter:
        """Who writes the run's checkpoints and what a set holds (see :class:`afflib.train.CheckpointWriter`)."""
        return CheckpointWriter(save_states)

    def finish(self, net: Any = None, log: Optional[logging.Logger] = None) -> None:
        """End of training (nothing to wait for in one process)."""
