"""CIFAR-10 / CIFAR-100 from the official binary archives: download (atomic, with progress), reader, batch source.

CIFAR-10 records are a label byte + 3072 image bytes (R, G, B planes of 32x32); CIFAR-100 records a coarse
(superclass) byte, a fine byte, then the image. CIFAR-100 trains on the 100 fine labels by default;
``coarse_labels=True`` gives the 20 superclasses, which is what every CIFAR-100 number of the paper used.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from afflib.core import datafiles
from afflib.core.cifar_files import CIFAR_URLS, SPLIT_FILES, cifar_bin_dir, cifar_key, cifar_root, download_cifar
from afflib.core.datafiles import DataFormatError
from afflib.core.datasets import CIFAR10_CLASSES, CIFAR100_COARSE_CLASSES, CIFAR100_FINE_CLASSES, CIFAR_MEAN, CIFAR_STD
from .batches import LoaderSource, stack_batch
from .transforms import CifarTrainTransform

__all__ = ["CIFAR10_CLASSES", "CIFAR100_FINE_CLASSES", "CIFAR100_COARSE_CLASSES", "CIFAR_URLS", "class_names",
           "download_cifar", "load_cifar", "read_cifar_binary", "cifar_source", "CifarFormatError"]

_SPLIT_FILES = SPLIT_FILES        # download, locations: afflib.core.cifar_files (both engines)
_check_name = cifar_key
default_root = cifar_root
CifarFormatError = DataFormatError  # a CIFAR binary file has the wrong size or label values


def class_names(name: str, coarse_labels: bool = False) -> List[str]:
    """Class names in label order (CIFAR-100: fine names, or the 20 superclass names with ``coarse_labels``)."""
    key = _check_name(name)
    if key == "cifar10":
        return list(CIFAR10_CLASSES)
    return list(CIFAR100_COARSE_CLASSES if coarse_labels else CIFAR100_FINE_CLASSES)



def read_cifar_binary(path: os.PathLike, label_bytes: int) -> Tuple[np.ndarray, np.ndarray]:
    """Images uint8 (N, 32, 32, 3) and label bytes (N, label_bytes) of one CIFAR ``.bin`` file."""
    images, labels = datafiles.read_cifar_binary(path, label_bytes)
    return np.ascontiguousarray(images.transpose(0, 2, 3, 1)), labels


def load_cifar(name: str, root: Optional[os.PathLike] = None, train: bool = True, coarse_labels: bool = False,
               download: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """Images uint8 NHWC (N, 32, 32, 3) and int64 labels of a CIFAR split (downloaded when missing)."""
    key = _check_name(name)
    if coarse_labels and key != "cifar100":
        raise ValueError("coarse_labels applies to cifar100 only")
    root = Path(root) if root is not None else default_root(key)
    folder = cifar_bin_dir(key, root)
    if folder is None:
        if not download:
            raise FileNotFoundError(f"{key} binary files {_SPLIT_FILES[key][True] + _SPLIT_FILES[key][False]} not "
                                    f"found in {root}")
        folder = download_cifar(key, root)
    label_bytes, column, classes = (1, 0, 10) if key == "cifar10" else (2, 0 if coarse_labels else 1,
                                                                          20 if coarse_labels else 100)
    parts = [read_cifar_binary(folder / n, label_bytes) for n in _SPLIT_FILES[key][train]]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1][:, column] for p in parts]).astype(np.int64)
    if labels.max() >= classes:
        raise CifarFormatError(f"{folder}: label {labels.max()} out of range for {classes} classes of {key}")
    return images, labels


def cifar_source(name: str, root: Optional[os.PathLike], train: bool, batch_size: int, coarse_labels: bool = False,
                 auto_augment: bool = False, num_workers: int = 2, num_parts: int = 1, part_index: int = 0,
                 seed: int = 0) -> LoaderSource:
    """Batches of normalized (N, 3, 32, 32) CIFAR images; training: [AutoAugment CIFAR-10 policy], pad-4 random
    crop, flip. ``source.classes`` holds the class names of the chosen label set."""
    images, labels = load_cifar(name, root, train, coarse_labels)
    transform = CifarTrainTransform(auto_augment=auto_augment, seed=seed) if train else None
    dataset = _ArrayImages(images, labels, transform)
    source = LoaderSource(dataset, batch_size, train,
                          batchify_fn=functools.partial(stack_batch, mean=CIFAR_MEAN, std=CIFAR_STD),
                          num_workers=num_workers, num_parts=num_parts, part_index=part_index, seed=seed)
    source.classes = class_names(name, coarse_labels)
    return source


class _ArrayImages:
    """In-memory HWC uint8 images + labels as a Gluon-style dataset with a per-sample transform."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform=None):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        image = self.images[index]
        return (self.transform(image) if self.transform else image), int(self.labels[index])
