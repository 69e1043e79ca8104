"""Small learnable in-memory data and a tiny AFF net for the engine tests (no files, no downloads)."""
from __future__ import annotations

import numpy as np
import mxnet as mx

from afflib.data.batches import Batch
from afflib.model_zoo import CIFARAFFResNet


def quadrant_images(n: int, classes: int = 4, size: int = 8, seed: int = 0):
    """Images whose class is the bright quadrant (plus noise): learnable in a few dozen steps."""
    rng = np.random.RandomState(seed)
    labels = rng.randint(0, classes, size=n)
    data = rng.normal(0, 0.3, size=(n, 1, size, size)).astype(np.float32)
    half = size // 2
    for i, c in enumerate(labels):
        r, q = divmod(int(c), 2)
        data[i, 0, r * half:(r + 1) * half, q * half:(q + 1) * half] += 1.5
    return data, labels.astype(np.float32)


class ArraySource:
    """BatchSource over numpy arrays: fixed-size batches, the last one wrapped around with ``pad`` filler rows."""

    def __init__(self, data, labels, batch_size: int, shuffle: bool, seed: int = 0):
        self.data, self.labels, self.batch_size, self.shuffle = data, labels, batch_size, shuffle
        self.num_samples = len(labels)
        self.epoch, self.seed = 0, seed

    def __len__(self) -> int:
        return -(-self.num_samples // self.batch_size)

    def __iter__(self):
        order = np.arange(self.num_samples)
        if self.shuffle:
            np.random.RandomState(self.seed + self.epoch).shuffle(order)
        self.epoch += 1
        for start in range(0, self.num_samples, self.batch_size):
            idx = order[start:start + self.batch_size]
            pad = self.batch_size - len(idx)
            if pad:
                idx = np.concatenate([idx, order[:pad]])
            yield Batch(mx.nd.array(self.data[idx]), mx.nd.array(self.labels[idx]), pad)


def tiny_net(classes: int = 4, fusion: str = "aff"):
    return CIFARAFFResNet(fusion, [1, 1, 1], [8, 8, 8, 8], classes=classes, in_channels=1)
