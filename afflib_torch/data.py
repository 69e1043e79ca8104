"""Evaluation data for the PyTorch twin without MXNet: Fashion-MNIST IDX files, CIFAR binary files, an
ImageNet-style ``val/`` class-folder tree. Dataset facts, the ImageNet crop and the normalisation are the core's
(:mod:`afflib.core.datasets`, :mod:`afflib.core.preprocess`), so the pixels equal the MXNet engine's.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch

from afflib.core.datafiles import DataFormatError, read_cifar_binary, read_idx
from afflib.core.datasets import DATASETS, EVAL_CROP_RATIO
from afflib.core.preprocess import eval_crop, normalize_nhwc

__all__ = ["DataFormatError", "DATASETS", "DEFAULT_FASHION_MNIST_DIRS", "read_idx", "load_fashion_mnist_test",
           "load_cifar_test", "imagenet_folder", "array_batches", "decode_image", "imagenet_batches"]

DEFAULT_FASHION_MNIST_DIRS = ("/usr/share/datasets/fashion-mnist", "~/.mxnet/datasets/fashion-mnist")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp")


def _find(folder: Path, names: Sequence[str], what: str) -> Path:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise DataFormatError(f"{what}: none of {', '.join(names)} in {folder}")


def load_fashion_mnist_test(data_dir: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray]:
    """The 10,000 test images (N, 1, 28, 28) uint8 and labels from ``t10k-*-idx?-ubyte[.gz]``."""
    folders = [data_dir] if data_dir else list(DEFAULT_FASHION_MNIST_DIRS)
    for folder in (Path(os.path.expanduser(f)) for f in folders):
        if folder.is_dir() or data_dir:
            images = read_idx(_find(folder, ["t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"],
                                    "Fashion-MNIST test images"))
            labels = read_idx(_find(folder, ["t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte"],
                                    "Fashion-MNIST test labels"))
            if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
                raise DataFormatError(f"{folder}: images {images.shape} and labels {labels.shape} do not match")
            return images[:, None], labels.astype(np.int64)
    raise DataFormatError(f"Fashion-MNIST not found in {', '.join(folders)} (Debian: apt-get install "
                          "dataset-fashion-mnist, or pass --data-dir)")


def load_cifar_test(data_dir: str, dataset: str = "cifar10", coarse: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """The test split of the CIFAR binary version: (N, 3, 32, 32) uint8 and labels.

    CIFAR-10 ``test_batch.bin``: label byte + 3072 pixel bytes per image; CIFAR-100 ``test.bin``: coarse byte,
    fine byte + 3072. Looked up in ``data_dir`` and its ``cifar-10-batches-bin``/``cifar-100-binary`` folder.
    """
    folder = Path(os.path.expanduser(data_dir))
    if dataset == "cifar10":
        if coarse:
            raise ValueError("--coarse-labels applies to cifar100 only")
        path, label_bytes, label_index = _find(folder, ["test_batch.bin", "cifar-10-batches-bin/test_batch.bin"],
                                               "CIFAR-10 test split"), 1, 0
    elif dataset == "cifar100":
        path, label_bytes, label_index = _find(folder, ["test.bin", "cifar-100-binary/test.bin"],
                                               "CIFAR-100 test split"), 2, 0 if coarse else 1
    else:
        raise ValueError(f"dataset must be cifar10 or cifar100, got {dataset!r}")
    images, labels = read_cifar_binary(path, label_bytes)
    return images, labels[:, label_index].astype(np.int64)


def imagenet_folder(data_dir: str) -> Tuple[List[Tuple[Path, int]], List[str]]:
    """(image path, label) for ``data_dir/val/<class>/*`` (or ``data_dir/<class>`` if there is no val/)."""
    root = Path(os.path.expanduser(data_dir))
    root = root / "val" if (root / "val").is_dir() else root
    classes = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not classes:
        raise DataFormatError(f"{root}: no class folders (expected val/<class>/<image> files)")
    items = [(path, label) for label, name in enumerate(classes) for path in sorted((root / name).iterdir())
             if path.suffix.lower() in IMAGE_SUFFIXES]
    if not items:
        raise DataFormatError(f"{root}: class folders hold no images ({', '.join(IMAGE_SUFFIXES)})")
    return items, classes


def _normalise(batch: np.ndarray, dataset: str) -> torch.Tensor:
    """NCHW uint8 -> NCHW float32, normalised as the MXNet engine does (core ``normalize_nhwc``)."""
    facts = DATASETS[dataset]
    return torch.from_numpy(normalize_nhwc(batch.transpose(0, 2, 3, 1), facts.mean, facts.std))


def array_batches(images: np.ndarray, labels: np.ndarray, dataset: str,
                  batch_size: int) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
    """Normalised NCHW float32 batches of uint8 images, in order (the last one may be smaller)."""
    for start in range(0, len(images), batch_size):
        yield (_normalise(images[start:start + batch_size], dataset),
               torch.from_numpy(labels[start:start + batch_size]))


def _load_eval_image(path: Path, input_size: int, crop_ratio: float) -> np.ndarray:
    """Shorter side to ceil(input_size / crop_ratio), center crop input_size (:func:`afflib.core.preprocess.eval_crop`,
    the MXNet engine's pixels); CHW uint8 RGB."""
    return eval_crop(decode_image(path), input_size, crop_ratio).transpose(2, 0, 1)


def decode_image(path: Path) -> np.ndarray:
    """HWC uint8 RGB pixels of an image file, turned upright by its EXIF orientation (as OpenCV decodes the MXNet
    engine's folder images)."""
    from PIL import Image, ImageOps
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"), np.uint8)


def imagenet_batches(items: Sequence[Tuple[Path, int]], batch_size: int, input_size: int = 224,
                     crop_ratio: float = EVAL_CROP_RATIO,
                     workers: int = 4) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
    """Decode, resize and crop folder images on ``workers`` threads; yields normalised batches in order."""
    try:
        import PIL  # noqa: F401
    except ImportError as exc:
        raise ImportError("ImageNet folder evaluation needs Pillow: .venv-torch/bin/pip install Pillow") from exc
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for start in range(0, len(items), batch_size):
            chunk = items[start:start + batch_size]
            images = list(pool.map(lambda item: _load_eval_image(item[0], input_size, crop_ratio), chunk))
            yield _normalise(np.stack(images), "imagenet"), torch.tensor([label for _, label in chunk])
