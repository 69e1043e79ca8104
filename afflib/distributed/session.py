"""The distributed side of one training run, as the engine (``afflib.train.runner``) uses it.

``DistSession(kvstore)``, built on the run's KVStore (``afflib.train.make_kvstore``; ranks exist only once a
``dist_*`` store is created), answers what differs on a worker of a multi-machine job:

* its shard of the training data (``num_parts``/``part_index`` = ``num_workers``/``rank``);
* the batch size given to ``trainer.step``: per-worker batch x workers, because the servers sum the gradients of
  all workers (``Recipe.num_workers``);
* the learning-rate schedule runs on the servers, which apply the updates: it is attached to the optimizer they
  receive, counts their updates, i.e. global steps, and continues from the saved update count on resume;
* only rank 0 writes checkpoints (params + the servers' optimizer states), ``run_config.json``, ``history.json``
  and the log file; other ranks log to stdout with a ``[rank R]`` prefix;
* validation runs on rank 0 over the full split (the others go on and wait for it at their next push), so the
  numbers are exactly those of a single-machine evaluation of the same weights.

On a single machine (``local``/``device``/``nccl``) the session is inactive and behaves as
:class:`afflib.train.session.LocalSession`, whose protocol it implements: the engine takes either, and never
imports this module (``distributed`` depends on ``train``, not the reverse).
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

import mxnet as mx

from afflib.train.checkpoint import CheckpointWriter, Member
from afflib.train.session import LocalSession

# PerStepSchedule lives in the light worker module: the servers unpickle it without importing the engine
# (its name here keeps the states of earlier dist runs loadable).
from .worker import (PerStepSchedule, WorkerInfo, is_distributed, is_server_states, load_server_states,
                     mark_joined, pin_multipliers, report_rank, save_server_states, trainable_digest, worker_info)

__all__ = ["DistSession", "ServerStatesWriter"]


class DistSession(LocalSession):
    """Rank, workers and KVStore of this process (inactive outside ``dist_*`` stores: a :class:`LocalSession`)."""

    def __init__(self, kvstore: Any = None):
        self.kvstore = kvstore if kvstore is not None and is_distributed(kvstore) else None
        self.info: WorkerInfo = worker_info(self.kvstore)
        if self.kvstore is not None:
            mark_joined()
            report_rank(self.kvstore)

    @property
    def active(self) -> bool:
        return self.kvstore is not None

    @property
    def rank(self) -> int:
        return self.info.rank

    @property
    def num_workers(self) -> int:
        return self.info.num_workers

    @property
    def is_chief(self) -> bool:
        return self.info.is_chief

    def log_file(self, path: Optional[str]) -> Optional[str]:
        """The log file this process writes: the given one on rank 0, none on the others."""
        return path if self.is_chief else None

    def configure_logging(self, log: logging.Logger) -> logging.Logger:
        """Prefix the lines of ranks other than 0 with their rank (rank 0 keeps the original line format)."""
        if self.active and not self.is_chief:
            for handler in log.handlers:
                handler.setFormatter(logging.Formatter(f"[rank {self.rank}] %(message)s"))
        return log

    def validation_source(self, source: Any) -> Any:
        """Rank 0 validates on the full split; the others skip validation."""
        return source if self.is_chief or not self.active else None

    def prepare_trainer(self, trainer: Any, schedule: Any, per_worker_batch: int, start_epoch: int,
                        states: Optional[str]) -> None:
        """Send the optimizer to the servers with the schedule, global gradient scale and multipliers.

        ``states``: a states file of an earlier dist run of this model (from :class:`ServerStatesWriter`),
        whose optimizer, update count and momentum the servers take over.
        """
        if not self.active:
            return super().prepare_trainer(trainer, schedule, per_worker_batch, start_epoch, states)
        if states and self.is_chief and not is_server_states(states):
            raise ValueError(f"{states} holds the optimizer states of a single-machine run; a dist_* run keeps them "
                             f"on its servers and can only resume from a dist run's .states. Resume the weights "
                             f"alone with --resume-states '' (momentum restarts at zero)")
        optimizer = trainer._optimizer
        pin_multipliers(trainer)
        server_schedule = schedule
        updates_per_step = 1
        if "async" in self.kvstore.type:           # every worker's push is an update of its own
            updates_per_step = self.num_workers
            server_schedule = PerStepSchedule(schedule, updates_per_step)
        start_update = start_epoch * schedule.iters_per_epoch * updates_per_step
        optimizer.begin_num_update = optimizer.num_update = start_update
        optimizer.lr_scheduler = server_schedule   # pickled to the servers with the optimizer
        optimizer.rescale_grad = trainer._scale / (per_worker_batch * self.num_workers)
        trainer._init_kvstore()                    # sends the optimizer (MXNet would do it at the first step)
        trainer._init_params()
        # The worker's copy never updates weights; without the scheduler the loop may still set and log its lr.
        optimizer.lr_scheduler = None
        if states:
            load_server_states(trainer, states, per_worker_batch * self.num_workers)

    def finish(self, net: Any = None, log: Optional[logging.Logger] = None) -> None:
        """End of training: complete this worker's last push/pull, log a digest of the weights, wait for all.

        Leaving with a push still queued would let MXNet's shutdown stop the engine before the push is sent,
        and the job would hang in the kvstore's exit barrier. Every rank logs ``final weights sha1=...`` of its
        trainable parameters: equal digests show that the workers ended with identical weights.
        """
        if not self.active:
            return
        mx.nd.waitall()
        if net is not None and log is not None:
            log.info("final weights sha1=%s (rank %d of %d workers)", trainable_digest(net), self.rank,
                     self.num_workers)
        self.kvstore._barrier()

    def checkpoint_writer(self, save_states: bool = True) -> CheckpointWriter:
        """Rank 0 writes params and the servers' optimizer states; the other ranks write nothing."""
        if not self.active:
            return super().checkpoint_writer(save_states)
        return ServerStatesWriter(self)


class ServerStatesWriter(CheckpointWriter):
    """The :class:`afflib.train.CheckpointWriter` of dist runs: rank 0 writes params, server states and records.

    The other ranks write nothing (their weights are the same; their BatchNorm running statistics, which are
    not synchronised, are not kept). Checkpoints are written at the ends of epochs only: a signal mid-epoch usually
    means the launcher is stopping a job whose peer died, when the servers may not answer; the last end-of-epoch
    checkpoint is the resume point.
    """

    saves_interrupted = False

    def __init__(self, session: DistSession):
        super().__init__(save_states=True)
        self.session = session
        self.writes = session.is_chief

    def members(self, net: Any, trainer: Any) -> List[Member]:
        # The servers first: if they are gone, this blocks until the launcher kills the job, and nothing of
        # the checkpoint has been replaced yet (members are staged, then committed with their record).
        writers: List[Member] = [(".states", lambda tmp: save_server_states(trainer, tmp))] \
            if trainer is not None else []
        return writers + [(".params", net.save_parameters)]

    def record_extra(self) -> Dict[str, Any]:
        return {"num_workers": self.session.num_workers}
