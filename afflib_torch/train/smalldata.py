"""Training and validation data of the small-image datasets (Fashion-MNIST IDX files, CIFAR-10/100 binary files)
for the PyTorch engine, without MXNet.

The augmentation is the MXNet engine's: zero padding (2 pixels for 28x28 Fashion-MNIST, 4 for CIFAR), a random
crop back to the image size and a random left-right flip, then the core's normalisation
(:data:`afflib.core.datasets.DATASETS`). It runs batched on whole uint8 arrays (one gather per batch), not per
image; ``--auto_aug`` puts AutoAugment's CIFAR policy (:mod:`afflib.core.autoaugment`) first, per image, as the
MXNet engine does. Order and augmentation follow the engine's data protocol: epoch ``e``'s permutation is
``default_rng([seed, e]).permutation(N)``, shard ``k`` of ``n`` takes ``permutation[k::n]`` cut to ``N // n``
samples, full batches only; every random number of a sample is a hash of ``(seed, epoch, sample index)``
(:func:`sample_bits`), so resuming at batch ``b`` (``batches(epoch, b)``) gives exactly the rest of the epoch.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Iterator, Optional, Sequence, Tuple

import numpy as np
import torch

from afflib.core.autoaugment import AutoAugment
from afflib.core.cifar_files import SPLIT_FILES, cifar_bin_dir, cifar_root, download_cifar
from afflib.core.datafiles import DataFormatError, read_cifar_binary, read_idx
from afflib.core.dataorder import SplitOrder, train_subset
from afflib.core.datasets import DATASETS

from ..data import DEFAULT_FASHION_MNIST_DIRS, _find

__all__ = ["ArraySplit", "SmallImageData", "PADDING", "sample_bits", "load_split", "small_image_data", "default_data_dir"]

#: zero padding before the random crop, as the MXNet engine's record iterator (Fashion-MNIST) and CIFAR transform
PADDING = {"fashion-mnist": 2, "cifar10": 4, "cifar100": 4}
_LABEL_BYTES = {"cifar10": 1, "cifar100": 2}
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def sample_bits(seed: int, epoch: int, indices: np.ndarray) -> np.ndarray:
    """64 random bits per sample, a pure function of ``(seed, epoch, index)`` (SplitMix64 of the three)."""
    with np.errstate(over="ignore"):
        x = (np.uint64(seed & 0xFFFFFFFF) * np.uint64(0x9E3779B97F4A7C15)
             ^ np.uint64(epoch & 0xFFFFFFFF) * np.uint64(0xC2B2AE3D27D4EB4F)) + indices.astype(np.uint64)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return (x ^ (x >> np.uint64(31))) & _MASK


class ArraySplit(SplitOrder):
    """A split held as uint8 arrays: the core's shard order (:class:`afflib.core.dataorder.SplitOrder`) and the
    normalisation to float32 torch tensors."""

    def split(self, count: int, batch_size: int, train: bool, seed: int, shard: Tuple[int, int],
              mean: Sequence[float], std: Sequence[float], what: str) -> None:
        """Set the split's order and normalisation; ``what`` names the samples in the error of an empty shard."""
        self.setup_order(count, batch_size, train, seed, shard, what)
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1) * 255
        self.scale = 1.0 / (torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1) * 255)

    def _normalise(self, pixels: np.ndarray) -> torch.Tensor:
        return (torch.from_numpy(np.ascontiguousarray(pixels)).float() - self.mean) * self.scale


class SmallImageData(ArraySplit):
    """Batches of one split, following the engine's data protocol.

    ``len(data)``: batches per epoch of this shard; ``data.batch_size``; ``data.samples`` (of this shard per
    epoch); ``data.batches(epoch, start_batch)`` yields ``(images float32 NCHW normalised, labels int64)``.
    Training (``train=True``): shuffled, sharded, augmented, full batches; validation: every sample in order, the
    last batch smaller.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, dataset: str, batch_size: int, train: bool,
                 seed: int = 0, shard: Tuple[int, int] = (1, 0), auto_augment: bool = False):
        if images.ndim != 4 or images.dtype != np.uint8 or len(images) != len(labels):
            raise DataFormatError(f"{dataset}: expected uint8 NCHW images and as many labels, got "
                                  f"{images.dtype} {images.shape} and {labels.shape}")
        self.images, self.labels = images, labels.astype(np.int64)
        self.dataset = dataset
        facts = DATASETS[dataset]
        self.pad = PADDING[dataset] if train else 0
        if auto_augment and (not train or dataset == "fashion-mnist"):
            raise ValueError(f"--auto_aug: AutoAugment's CIFAR policy applies to CIFAR training data, not {dataset}")
        self.auto_augment = AutoAugment("cifar10") if auto_augment else None
        self.split(len(images), batch_size, train, seed, shard, facts.mean, facts.std, f"{dataset} training images")

    def batches(self, epoch: int, start_batch: int = 0) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        """Batches of ``epoch`` from batch ``start_batch`` on."""
        order = self.order(epoch)
        for start in range(start_batch * self.batch_size, len(order), self.batch_size):
            chosen = order[start:start + self.batch_size]
            pixels = self._augment(chosen, epoch) if self.train else self.images[chosen]
            yield self._normalise(pixels), torch.from_numpy(self.labels[chosen])

    def _augment(self, chosen: np.ndarray, epoch: int) -> np.ndarray:
        """Zero-pad, crop at a random offset in [0, 2 * pad] and flip half of the images (uint8 NCHW)."""
        images = self.images[chosen]
        bits = sample_bits(self.seed, epoch, chosen)
        if self.auto_augment is not None:   # the MXNet engine's order: AutoAugment, then pad, crop and flip
            images = np.stack([self.auto_augment(image.transpose(1, 2, 0), random.Random(int(b))).transpose(2, 0, 1)
                               for image, b in zip(images, bits)])
        n, c, h, w = images.shape
        p = self.pad
        padded = np.zeros((n, c, h + 2 * p, w + 2 * p), np.uint8)
        padded[:, :, p:p + h, p:p + w] = images
        positions = np.uint64(2 * p + 1)
        top = (bits % positions).astype(np.int64)
        left = ((bits >> np.uint64(16)) % positions).astype(np.int64)
        flip = ((bits >> np.uint64(32)) & np.uint64(1)).astype(bool)
        rows = top[:, None] + np.arange(h)[None, :]
        cols = np.where(flip[:, None], left[:, None] + np.arange(w - 1, -1, -1)[None, :],
                        left[:, None] + np.arange(w)[None, :])
        return padded[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None],
                      rows[:, None, :, None], cols[:, None, None, :]]



def default_data_dir(dataset: str) -> Sequence[str]:
    """Folders searched when no ``--data-dir`` is given (the MXNet engine's defaults)."""
    if dataset == "fashion-mnist":
        return DEFAULT_FASHION_MNIST_DIRS
    return (os.path.join(os.environ.get("MXNET_HOME", "~/.mxnet"), "datasets", dataset),)


def load_split(dataset: str, train: bool, data_dir: Optional[str] = None,
               coarse_labels: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """uint8 NCHW images and int64 labels of a split, from the IDX (Fashion-MNIST) or binary (CIFAR) files."""
    if dataset not in PADDING:
        raise ValueError(f"--dataset must be one of {', '.join(PADDING)}, got {dataset!r}")
    if coarse_labels and dataset != "cifar100":
        raise ValueError(f"--coarse-labels only applies to cifar100 (20 superclasses), not {dataset}")
    if dataset != "fashion-mnist":
        return _cifar_split(dataset, train, data_dir, coarse_labels)
    folders = [data_dir] if data_dir else list(default_data_dir(dataset))
    found = [Path(os.path.expanduser(f)) for f in folders if Path(os.path.expanduser(f)).is_dir()]
    if not found:
        raise DataFormatError(f"{dataset} not found in {', '.join(folders)} (Debian: apt-get install "
                              "dataset-fashion-mnist; or pass --data-dir)")
    folder = found[0]
    prefix = "train" if train else "t10k"
    images = read_idx(_find(folder, [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-images-idx3-ubyte"],
                            f"Fashion-MNIST {prefix} images"))
    labels = read_idx(_find(folder, [f"{prefix}-labels-idx1-ubyte.gz", f"{prefix}-labels-idx1-ubyte"],
                            f"Fashion-MNIST {prefix} labels"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataFormatError(f"{folder}: images {images.shape} and labels {labels.shape} do not match")
    return np.ascontiguousarray(images[:, None]), labels.astype(np.int64)


def _cifar_split(dataset: str, train: bool, data_dir: Optional[str],
                 coarse_labels: bool) -> Tuple[np.ndarray, np.ndarray]:
    """A CIFAR split from its binary files in ``data_dir`` (default ``~/.mxnet/datasets/<dataset>``), downloaded
    there first when absent, as the MXNet engine does (:func:`afflib.core.cifar_files.download_cifar`)."""
    root = Path(os.path.expanduser(data_dir)) if data_dir else cifar_root(dataset)
    folder = cifar_bin_dir(dataset, root) or download_cifar(dataset, root)
    parts = [read_cifar_binary(folder / name, _LABEL_BYTES[dataset]) for name in SPLIT_FILES[dataset][train]]
    column = 0 if dataset == "cifar10" or coarse_labels else 1
    return (np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1][:, column] for p in parts]).astype(np.int64))


def small_image_data(dataset: str, train: bool, batch_size: int, data_dir: Optional[str] = None,
                     coarse_labels: bool = False, seed: int = 0, shard: Tuple[int, int] = (1, 0),
                     limit: int = 0, auto_augment: bool = False) -> SmallImageData:
    """The training or validation data of ``dataset``; ``limit`` > 0 (``--train-size``) keeps ``limit`` images
    chosen by a shuffle seeded with ``seed`` (kept in their file order)."""
    images, labels = load_split(dataset, train, data_dir, coarse_labels)
    if train and limit:
        keep = train_subset(len(images), seed, limit)
        images, labels = images[keep], labels[keep]
    return SmallImageData(images, labels, dataset, batch_size, train, seed, shard, auto_augment)
