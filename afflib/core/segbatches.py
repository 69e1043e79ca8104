"""The batches of a segmentation split as NumPy, framework-free: both engines' scene batches are this plus their
own arrays (``afflib.train.segdata``, ``afflib_torch.train.segdata``).

The order follows :mod:`afflib.core.dataorder`: training epoch ``e`` reads :func:`~afflib.core.dataorder.epoch_order`
in full batches and flips scenes left to right, image and mask together, by :meth:`SceneBatches.flips` (a pure
function of ``(seed, epoch, scene)``, so a resumed run sees the same batches); validation reads every scene in
order, its last batch smaller, or completed with filler rows (``pad``) for engines that want static shapes.
"""
from __future__ import annotations

from typing import Iterator, Sequence, Tuple

import numpy as np

from .datafiles import DataFormatError
from .dataorder import SplitOrder

__all__ = ["SceneBatches"]


class SceneBatches(SplitOrder):
    """One split of uint8 scenes (N, H, W) or (N, C, H, W) and integer masks (N, H, W).

    ``mean``/``std`` are per channel on the 0..1 scale; ``shard`` is ``(parts, index)`` of a distributed job;
    ``samples`` is the number of scenes this shard reads per epoch and ``len()`` its batches.
    """

    def __init__(self, images: np.ndarray, masks: np.ndarray, batch_size: int, train: bool, seed: int = 0,
                 mean: Sequence[float] = (0.5,), std: Sequence[float] = (0.25,), shard: Tuple[int, int] = (1, 0),
                 name: str = "segmentation data"):
        images = images[:, None] if images.ndim == 3 else images
        if images.ndim != 4 or masks.ndim != 3 or len(images) != len(masks) or images.shape[2:] != masks.shape[1:]:
            raise DataFormatError(f"{name}: expected scenes (N, [C,] H, W) and masks (N, H, W) of one size, got "
                                  f"{images.shape} and {masks.shape}")
        self.images, self.masks = images, masks
        self.mean = np.asarray(mean, np.float32).reshape(1, -1, 1, 1) * 255
        self.scale = 1.0 / (np.asarray(std, np.float32).reshape(1, -1, 1, 1) * 255)
        self.setup_order(len(images), batch_size, train, seed, shard, f"training scenes ({name})")

    def flips(self, epoch: int, chosen: np.ndarray) -> np.ndarray:
        """Which of the scenes ``chosen`` training epoch ``epoch`` flips left to right (about half)."""
        return (np.random.default_rng([self.seed, epoch, 1]).random(len(self.images)) < 0.5)[chosen]

    def numpy_batches(self, epoch: int, start_batch: int = 0,
                      pad: bool = False) -> Iterator[Tuple[np.ndarray, np.ndarray, int]]:
        """``(images float32 NCHW normalised, masks, filler rows)`` of ``epoch`` from batch ``start_batch`` on;
        ``pad``: complete a short last batch with the first scenes (their count is the third item)."""
        order = self.order(epoch)
        for start in range(start_batch * self.batch_size, len(order), self.batch_size):
            chosen = order[start:start + self.batch_size]
            filler = self.batch_size - len(chosen) if pad else 0
            if filler:
                chosen = np.concatenate([chosen, np.resize(order, filler)])
            images, masks = self.images[chosen], self.masks[chosen]
            if self.train:
                flip = self.flips(epoch, chosen)
                images = np.where(flip[:, None, None, None], images[..., ::-1], images)
                masks = np.where(flip[:, None, None], masks[..., ::-1], masks)
            yield (images.astype(np.float32) - self.mean) * self.scale, masks, filler
