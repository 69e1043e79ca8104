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

from .smalldata import ArraySplit, sample_bits

__all__ = ["SegmentationData"]


class SegmentationData(ArraySplit):
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
        self.split(len(images), batch_size, train, seed, shard, mean, std, f"{name}: training scenes")

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
            yield self._normalise(images), torch.from_numpy(masks.astype(np.int64))
