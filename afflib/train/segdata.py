"""Batches of a segmentation split for the MXNet engine: the framework-free :class:`afflib.core.segbatches.
SceneBatches` (order, flips, normalisation, as the PyTorch engine's) as the loop's :class:`afflib.data.batches.Batch`
(``data`` NCHW float32 normalised, ``label`` the masks (N, H, W) float32, ``pad`` filler rows).

Every batch has the static shape a hybridized network wants: training reads full batches, validation completes
its last batch with filler rows (``pad``, dropped from the metrics).
"""
from __future__ import annotations

from typing import Iterator

import mxnet as mx

from afflib.core.segbatches import SceneBatches
from afflib.data.batches import Batch

__all__ = ["EpochBatches", "SceneSource"]


class EpochBatches:
    """The MXNet loop's side of a split whose ``numpy_batches(epoch, pad=True)`` yields ``(images, masks, pad)``
    and that counts ``samples``: ``iter()`` starts epoch :attr:`epoch` and advances it (set it when resuming)."""

    epoch: int = 0
    samples: int

    @property
    def num_samples(self) -> int:
        """Scenes per epoch of this shard (the MXNet engine's name of ``samples``)."""
        return self.samples

    def __iter__(self) -> Iterator[Batch]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        return self.batches(epoch)

    def batches(self, epoch: int) -> Iterator[Batch]:
        """The batches of ``epoch`` (validation: the same every epoch)."""
        for images, masks, pad in self.numpy_batches(epoch, pad=True):
            yield Batch(mx.nd.array(images, dtype="float32"), mx.nd.array(masks, dtype="float32"), pad)


class SceneSource(EpochBatches, SceneBatches):
    """One split of generated scenes, iterated an epoch at a time (:class:`EpochBatches`); arguments as
    :class:`~afflib.core.segbatches.SceneBatches`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.epoch = 0
