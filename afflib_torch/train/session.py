"""Stand-in of the single-process training session (the loop part owns this file and replaces it).

It follows the agreed protocol of issue 14 so that ``afflib_torch.train.distributed`` can subclass it before the
loop part lands: attributes ``rank``, ``world_size``, ``is_chief``, ``device``; ``wrap``, ``shard``, ``all_sum``,
``barrier``, ``validates``, ``finish``.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple, Union

import torch
from torch import nn

from ..engine import select_device

__all__ = ["TorchSession"]


class TorchSession:
    """A training run in one process: it holds all the data, validates and writes every file."""

    rank = 0
    world_size = 1
    is_chief = True

    def __init__(self, device: Union[str, torch.device] = "auto"):
        self.device = device if isinstance(device, torch.device) else select_device(device)

    def wrap(self, model: nn.Module) -> nn.Module:
        """The model the loop trains (here: ``model`` on the session's device)."""
        return model.to(self.device)

    @property
    def shard(self) -> Tuple[int, int]:
        """``(num_parts, part_index)`` of this process's training data."""
        return self.world_size, self.rank

    def all_sum(self, values: Sequence[float]) -> List[float]:
        """``values`` summed over all processes (one process: unchanged)."""
        return [float(v) for v in values]

    def barrier(self) -> None:
        """Wait for all processes (nothing to wait for in one)."""

    @property
    def validates(self) -> bool:
        """Whether this process evaluates the validation split."""
        return True

    def finish(self) -> None:
        """End of the run (nothing to release in one process)."""
