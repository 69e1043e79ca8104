"""ImageNet data of the PyTorch engine's ImageNet tools: the flags' record files or class folders through
:mod:`afflib_torch.imagenet_data` (the engine's data part), refused with the reason where that module is absent."""
from __future__ import annotations

import argparse
import os
from typing import Any, Optional, Tuple

import torch

try:
    from .. import imagenet_data
except ImportError:  # pragma: no cover - a checkout without the ImageNet data part
    imagenet_data = None

__all__ = ["need_imagenet_data", "val_data", "train_data", "SyntheticBatches"]


def need_imagenet_data() -> Any:
    """The ImageNet data module, or a ValueError (exit 2) saying it is missing from this checkout."""
    if imagenet_data is None:
        raise ValueError("this checkout's PyTorch engine has no ImageNet data (afflib_torch/imagenet_data.py); "
                         "use --engine mxnet")
    return imagenet_data


def _files(*paths: str) -> Tuple[str, ...]:
    found = tuple(os.path.expanduser(p) for p in paths)
    for path in found:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"record file not found: {path} (pack one with scripts/prepare_imagenet.py)")
    return found


def _folder(args: argparse.Namespace, split: str) -> str:
    root = os.path.join(os.path.expanduser(args.data_dir), split)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"image folder not found: {root} (or use --use-rec)")
    return root


def val_data(args: argparse.Namespace, batch_size: int, device: Optional[torch.device] = None,
             classes: Optional[Any] = None):
    """Validation batches of ``--rec-val`` (``--use-rec``) or ``--data-dir``/val, all images in order."""
    data = need_imagenet_data()
    common = dict(input_size=args.input_size, crop_ratio=args.crop_ratio, workers=args.num_workers,
                  pin_memory=device is not None and device.type == "cuda")
    if args.use_rec:
        rec, idx = _files(args.rec_val, args.rec_val_idx)
        return data.imagenet_val_data(rec, batch_size, rec_idx=idx, **common)
    return data.imagenet_val_data(_folder(args, "val"), batch_size, classes=classes, **common)


def train_data(args: argparse.Namespace, batch_size: int, shard: Tuple[int, int],
               device: Optional[torch.device] = None):
    """Training batches of ``--rec-train`` (``--use-rec``) or ``--data-dir``/train with the release's augmentation
    (``--auto_aug`` adds AutoAugment), shard ``shard`` = (parts, index)."""
    data = need_imagenet_data()
    parts, index = shard
    common = dict(input_size=args.input_size, seed=args.seed, num_parts=parts, part_index=index,
                  workers=args.num_workers, auto_augment=args.auto_aug and not (args.use_rec and args.faithful_aug),
                  pin_memory=device is not None and device.type == "cuda", limit=args.train_size)
    if args.use_rec:
        rec, idx = _files(args.rec_train, args.rec_train_idx)
        return data.imagenet_train_data(rec, batch_size, rec_idx=idx, **common)
    return data.imagenet_train_data(_folder(args, "train"), batch_size, **common)


class SyntheticBatches:
    """``count`` batches of random normalised images and labels (speed only), the data protocol's shape."""

    def __init__(self, count: int, batch_size: int, input_size: int, classes: int, seed: int = 0):
        self.count, self.batch_size, self.input_size, self.classes, self.seed = (count, batch_size, input_size,
                                                                                  classes, seed)
        self.samples = count * batch_size

    def __len__(self) -> int:
        return self.count

    def batches(self, epoch: int = 0, start_batch: int = 0):
        generator = torch.Generator().manual_seed(self.seed)
        images = torch.randn(self.batch_size, 3, self.input_size, self.input_size, generator=generator)
        labels = torch.randint(0, self.classes, (self.batch_size,), generator=generator)
        for _ in range(start_batch, self.count):
            yield images, labels
