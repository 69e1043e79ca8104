"""The session of a training run: what differs between one process and a rank of a torchrun job.

The loop asks its session, never torch.distributed, which device it runs on, which part of the data it reads,
whether it validates and writes, and how numbers are summed over processes. :class:`TorchSession` is one process;
``afflib_torch.train.distributed.DDPSession`` subclasses it for DDP jobs.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch
from torch import nn

from .checkpoint import TorchSetWriter

__all__ = ["TorchSession"]


class TorchSession:
    """A run in one process on one device: it validates, writes every file and sums nothing.

    The protocol: ``rank``, ``world_size``, ``is_chief``, ``device``, :meth:`wrap`, :attr:`shard`, :meth:`all_sum`,
    :meth:`barrier`, :attr:`validates`, :meth:`checkpoint_writer`, :meth:`finish`.
    """

    rank = 0
    world_size = 1
    is_chief = True         # writes the log file, checkpoints, run_config.json and history.json

    def __init__(self, device: Optional[torch.device] = None):
        self.device = device if device is not None else torch.device("cpu")

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module the loop trains (DDP's wrapper in a job; ``model`` itself here)."""
        return model

    @property
    def shard(self) -> Tuple[int, int]:
        """``(num_parts, part_index)`` of this process's training data."""
        return self.world_size, self.rank

    def all_sum(self, values: Sequence[float]) -> List[float]:
        """``values`` summed over the processes of the run (unchanged in one process)."""
        return [float(v) for v in values]

    def barrier(self) -> None:
        """Wait for every process of the run (nothing to wait for here)."""

    @property
    def validates(self) -> bool:
        """Whether this process evaluates the validation split (rank 0 of a job, on the full split)."""
        return self.is_chief

    def checkpoint_writer(self) -> TorchSetWriter:
        """Who writes the run's checkpoint sets (a job: rank 0 alone, ``writes = is_chief``)."""
        writer = TorchSetWriter()
        writer.writes = self.is_chief
        return writer

    def finish(self) -> None:
        """End of training (a job: tear the process group down)."""
