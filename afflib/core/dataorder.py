"""The PyTorch engine's data protocol as numbers (framework-free): which samples an epoch's batches hold, in which
order, for one shard of a job; both the small-image and the ImageNet training data follow it.

Epoch ``e``'s order is ``numpy.random.default_rng([seed, e]).permutation(N)``; shard ``k`` of ``n`` takes
``permutation[k::n]`` cut to the same number of full batches in every shard. Validation reads every sample in
order, the last batch smaller. ``--train-size`` keeps a fixed subset: the first ``limit`` of a shuffle seeded by
``(seed, N)``, in file order.
"""
from __future__ import annotations

import numpy as np

__all__ = ["train_subset", "shard_samples", "batch_count", "epoch_order"]


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
