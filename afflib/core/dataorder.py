"""The PyTorch engine's data protocol as numbers (framework-free): which samples an epoch's batches hold, in which
order, for one shard of a job; both the small-image and the ImageNet training data follow it.

Epoch ``e``'s order is ``numpy.random.default_rng([seed, e]).permutation(N)``; shard ``k`` of ``n`` takes
``permutation[k::n]`` cut to the same number of full batches in every shard. Validation reads every sample in
order, the last batch smaller. ``--train-size`` keeps a fixed subset: the first ``limit`` of a shuffle seeded by
``(seed, N)``, in file order.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

__all__ = ["train_subset", "shard_samples", "batch_count", "epoch_order", "SplitOrder"]


def train_subset(count: int, seed: int, limit: int = 0) -> np.ndarray:
    """The sample indices a run trains on: all ``count``, or ``limit`` of them (``--train-size``) in file order."""
    if 0 < limit < count:
        return np.sort(np.random.default_rng([seed, count]).permutation(count)[:limit])
    return np.arange(count)


def shard_samples(count: int, parts: int, batch_size: int, train: bool) -> int:
    """Samples per epoch of one shard: full batches of ``count // parts`` (training), or all ``count``."""
    return (count // parts // batch_size) * batch_size if train else count


def batch_count(samples: int, batch_size: int, train: bool) -> int:
    """Batches per epoch: full ones in training, the last one smaller in validation."""
    return samples // batch_size if train else -(-samples // batch_size)


def epoch_order(subset: np.ndarray, seed: int, epoch: int, parts: int, index: int, samples: int) -> np.ndarray:
    """The indices (of ``subset``'s samples) shard ``index`` of ``parts`` reads in training epoch ``epoch``."""
    permutation = np.random.default_rng([seed, epoch]).permutation(len(subset))
    return subset[permutation[index::parts][:samples]]


class SplitOrder:
    """The batches of one shard of a split held in memory: ``samples`` per epoch, ``len()`` batches, and
    :meth:`order` (training: shuffled per epoch and cut to full batches; validation: every sample in file order).
    The arrays' classes of both engines build on it."""

    def setup_order(self, count: int, batch_size: int, train: bool, seed: int, shard: Tuple[int, int],
                    what: str) -> None:
        """Set the split's order; ``what`` names the samples in the error of a shard without one full batch."""
        if batch_size < 1:
            raise ValueError(f"{what}: batch_size must be >= 1, got {batch_size}")
        self.count, self.batch_size, self.train, self.seed = count, batch_size, train, seed
        self.parts, self.index = shard
        self.samples = shard_samples(count, self.parts, batch_size, train)
        if train and self.samples == 0:
            raise ValueError(f"{count // self.parts} {what} per process, fewer than one batch of {batch_size}; "
                             f"lower --batch-size or raise --train-size")

    def __len__(self) -> int:
        return batch_count(self.samples, self.batch_size, self.train)

    def order(self, epoch: int) -> np.ndarray:
        """The sample indices of this shard in epoch ``epoch``, in batch order (validation: file order)."""
        subset = np.arange(self.count)
        if not self.train:
            return subset
        return epoch_order(subset, self.seed, epoch, self.parts, self.index, self.samples)
