"""Batches of a segmentation split for the PyTorch engine: scenes and their per-pixel masks, following the
engine's data protocol (``len``, ``batch_size``, ``samples``, ``batches(epoch, start_batch)``).

Order, flips and normalisation are the framework-free :class:`afflib.core.segbatches.SceneBatches` (as the MXNet
engine's): training batches are shuffled (epoch ``e``'s order from :func:`afflib.core.dataorder.epoch_order`) and
flipped left to right, image and mask together, for half the samples: a pure function of ``(seed, epoch, sample)``
(:func:`afflib_torch.train.smalldata.sample_bits`), so a run resumed mid-epoch sees exactly the rest of the epoch.
"""
from __future__ import annotations

from typing import Iterator, Tuple

import numpy as np
import torch

from afflib.core.segbatches import SceneBatches

from .smalldata import sample_bits

__all__ = ["SegmentationData"]


class SegmentationData(SceneBatches):
    """One split of uint8 scenes (N, H, W) or (N, C, H, W) and uint8/int masks (N, H, W); images are normalised
    with ``mean``/``std`` (per channel, on the 0..1 scale), masks come as int64."""

    def flips(self, epoch: int, chosen: np.ndarray) -> np.ndarray:
        return (sample_bits(self.seed, epoch, chosen) & np.uint64(1)).astype(bool)

    def batches(self, epoch: int, start_batch: int = 0) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        """``(images float32 NCHW normalised, masks int64 NHW)`` of ``epoch`` from batch ``start_batch`` on."""
        for images, masks, _ in self.numpy_batches(epoch, start_batch):
            yield torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(masks.astype(np.int64))
