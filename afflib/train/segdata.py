"""Batches of a segmentation split for the MXNet engine: scenes and their per-pixel masks as the loop's
:class:`afflib.data.batches.Batch` (``data`` NCHW float32 normalised, ``label`` the masks (N, H, W) float32,
``pad`` filler rows).

The order follows the framework-free protocol of :mod:`afflib.core.dataorder` (as the PyTorch engine's
``SegmentationData``): training epoch ``e`` reads :func:`~afflib.core.dataorder.epoch_order` in full batches and
flips half the scenes left to right, image and mask together, a pure function of ``(seed, epoch, scene)``;
validation reads every scene in order, its last batch completed with filler rows (``pad``) so that every batch
has the static shape a hybridized network wants.
"""
from __future__ import annotations

from typing import Iterator, Sequence, Tuple

import mxnet as mx
import numpy as np

from afflib.core.datafiles import DataFormatError
from afflib.core.dataorder import batch_count, epoch_order, shard_samples
from afflib.data.batches import Batch

__all__ = ["SceneSource"]


class SceneSource:
    """One split of uint8 scenes (N, H, W) or (N, C, H, W) and integer masks (N, H, W), iterated an epoch at a
    time (``iter()`` starts epoch :attr:`epoch` and advances it; set it when resuming a run).

    ``mean``/``std`` are per channel on the 0..1 scale; ``shard`` is ``(parts, index)`` of a distributed job.
    """

    def __init__(self, images: np.ndarray, masks: np.ndarray, batch_size: int, train: bool, seed: int = 0,
                 mean: Sequence[float] = (0.5,), std: Sequence[float] = (0.25,), shard: Tuple[int, int] = (1, 0),
                 name: str = "segmentation data"):
        images = images[:, None] if images.ndim == 3 else images
        if images.ndim != 4 or masks.ndim != 3 or len(images) != len(masks) or images.shape[2:] != masks.shape[1:]:
            raise DataFormatError(f"{name}: expected scenes (N, [C,] H, W) and masks (N, H, W) of one size, got "
                                  f"{images.shape} and {masks.shape}")
        if batch_size < 1:
            raise ValueError(f"{name}: batch_size must be >= 1, got {batch_size}")
        self.images, self.masks = images, masks
        self.batch_size, self.train, self.seed = batch_size, train, seed
        self.parts, self.index = shard
        self.mean = np.asarray(mean, np.float32).reshape(1, -1, 1, 1) * 255
        self.scale = 1.0 / (np.asarray(std, np.float32).reshape(1, -1, 1, 1) * 255)
        self.num_samples = shard_samples(len(images), self.parts, batch_size, train)
        if train and self.num_samples == 0:
            raise ValueError(f"{name}: {len(images)} training scenes, fewer than one batch of {batch_size}; lower "
                             f"--batch-size or raise --train-size")
        self.epoch = 0

    def __len__(self) -> int:
        return batch_count(self.num_samples, self.batch_size, self.train)

    def order(self, epoch: int) -> np.ndarray:
        """The scene indices of this shard in epoch ``epoch``, in batch order (validation: file order)."""
        subset = np.arange(len(self.images))
        if not self.train:
            return subset
        return epoch_order(subset, self.seed, epoch, self.parts, self.index, self.num_samples)

    def flips(self, epoch: int) -> np.ndarray:
        """Which scenes (by index) training epoch ``epoch`` flips left to right: a pure function of the seed, the
        epoch and the scene."""
        return np.random.default_rng([self.seed, epoch, 1]).random(len(self.images)) < 0.5

    def __iter__(self) -> Iterator[Batch]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        return self.batches(epoch)

    def batches(self, epoch: int) -> Iterator[Batch]:
        """The batches of ``epoch`` (validation: the same every epoch)."""
        order = self.order(epoch)
        flips = self.flips(epoch) if self.train else None
        for start in range(0, len(order), self.batch_size):
            chosen = order[start:start + self.batch_size]
            pad = self.batch_size - len(chosen)
            if pad:   # validation's last batch: filler rows repeat the first scenes
                chosen = np.concatenate([chosen, np.resize(order, pad)])
            images, masks = self.images[chosen], self.masks[chosen]
            if flips is not None:
                flip = flips[chosen]
                images = np.where(flip[:, None, None, None], images[..., ::-1], images)
                masks = np.where(flip[:, None, None], masks[..., ::-1], masks)
            pixels = (images.astype(np.float32) - self.mean) * self.scale
            yield Batch(mx.nd.array(pixels, dtype="float32"), mx.nd.array(masks, dtype="float32"), pad)
