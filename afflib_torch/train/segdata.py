"""Batches of a segmentation split for the PyTorch engine: scenes and their per-pixel masks, following the
engine's data protocol (``len``, ``batch_size``, ``samples``, ``batches(epoch, start_batch)``).

Training batches are shuffled (epoch ``e``'s order from :func:`afflib.core.dataorder.epoch_order`) and flipped left
to right, image and mask together, for half the samples: a pure function of ``(seed, epoch, sample)``
(:func:`afflib_torch.train.smalldata.sample_bits`), so a run resumed mid-epoch sees exactly the rest of the epoch.
"""
from __future__ import annotations

from typing import Iterator, Sequence, Tuple

import numpy as np
import torch

from afflib.core.datafiles import DataFormatError
from afflib.core.dataorder import batch_count, epoch_order, shard_samples

from .smalldata import sample_bits

__all__ = ["SegmentationData"]


class SegmentationData:
    """One split of uint8 scenes (N, H, W) or (N, C, H, W) and uint8/int masks (N, H, W); images are normalised
    with ``mean``/``std`` (per channel, on the 0..1 scale), masks come as int64."""

    def __init__(self, images: np.ndarray, masks: np.ndarray, batch_size: int, train: bool, seed: int = 0,
                 mean: Sequence[float] = (0.5,), std: Sequence[float] = (0.25,), shard: Tuple[int, int] = (1, 0),
                 name: str = "segmentation data"):
        images = images[:, None] if images.ndim == 3 else images
        if images.ndim != 4 or masks.ndim != 3 or len(images) != len(masks) or images.shape[2:] != masks.shape[1:]:
            raise DataFormatError(f"{name}: expected scenes (N, [C,] H, W) and masks (N, H, W) of one size, got "
                                  f"{images.shape} and {masks.shape}")
        self.images, self.masks = images, masks
        self.batch_size, self.train, self.seed = batch_size, train, seed
        self.parts, self.index = shard
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1) * 255
        self.scale = 1.0 / (torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1) * 255)
        self.samples = shard_samples(len(images), self.parts, batch_size, train)
        if train and self.samples == 0:
            raise ValueError(f"{name}: {len(images)} training scenes, fewer than one batch of {batch_size}; lower "
                             f"--batch-size or raise --train-size")

    def __len__(self) -> int:
        return batch_count(self.samples, self.batch_size, self.train)

    def order(self, epoch: int) -> np.ndarray:
        """The sample indices of this shard in epoch ``epoch``, in batch order (validation: file order)."""
        subset = np.arange(len(self.images))
        if not self.train:
            return subset
        return epoch_order(subset, self.seed, epoch, self.parts, self.index, self.samples)

    def batches(self, epoch: int, start_batch: int = 0) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        """``(images float32 NCHW normalised, masks int64 NHW)`` of ``epoch`` from batch ``start_batch`` on."""
        order = self.order(epoch)
        for start in range(start_batch * self.batch_size, len(order), self.batch_size):
            chosen = order[start:start + self.batch_size]
            images, masks = self.images[chosen], self.masks[chosen]
            if self.train:
                flip = (sample_bits(self.seed, epoch, chosen) & np.uint64(1)).astype(bool)
                images = np.where(flip[:, None, None, None], images[..., ::-1], images)
                masks = np.where(flip[:, None, None], masks[..., ::-1], masks)
            pixels = torch.from_numpy(np.ascontiguousarray(images)).float()
            yield (pixels - self.mean) * self.scale, torch.from_numpy(masks.astype(np.int64))
