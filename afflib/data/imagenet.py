"""ImageNet batch sources: the recipe's ``ImageRecordIter`` on ``.rec`` files, or a DataLoader over records or
class folders (``train/``, ``val/``) with the same augmentation implemented in :mod:`afflib.data.transforms`.

``--auto_aug`` works on both: with records it switches to a record dataset + DataLoader, because the C++ record
iterator cannot run AutoAugment (the original release silently ignored ``--auto_aug`` with ``--use-rec``;
``faithful_aug=True`` reproduces that, with a warning).
"""
from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path
from typing import Callable, List, Optional

import cv2
import mxnet as mx
import numpy as np

from afflib.core.datasets import DATASETS, EVAL_CROP_RATIO
from .batches import BatchSource, LoaderSource, RecordIterSource, shard_range, stack_batch
from .records import RecordFileError, check_record_file, class_folder_entries
from .transforms import ImageNetEvalTransform, ImageNetTrainTransform, imagenet_record_args

__all__ = ["record_source", "folder_source", "RecordImageDataset", "FolderImageDataset", "decode_image"]


def decode_image(buffer: bytes, where: str) -> np.ndarray:
    """JPEG/PNG/... bytes -> HWC uint8 RGB; a clear error naming ``where`` when they do not decode."""
    image = cv2.imdecode(np.frombuffer(buffer, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{where}: cannot decode the image data")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


_REBUILD = "rebuild it with scripts/prepare_imagenet.py --force"


class RecordImageDataset(mx.gluon.data.Dataset):
    """Images of an indexed ``.rec`` file as ``(transform(HWC uint8 RGB), label)``; reopens itself in each worker.

    The pair is checked on opening (:func:`check_record_file`); an image that does not decode is a
    :class:`RecordFileError` naming the file and the record.
    """

    def __init__(self, rec_path: os.PathLike, idx_path: os.PathLike, transform: Optional[Callable] = None):
        check_record_file(rec_path, idx_path, fix=_REBUILD)
        self.rec_path, self.idx_path, self.transform = str(rec_path), str(idx_path), transform
        self._records = mx.recordio.MXIndexedRecordIO(self.idx_path, self.rec_path, "r")
        self.keys: List[int] = list(self._records.keys)

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int):
        header, payload = mx.recordio.unpack(self._records.read_idx(self.keys[index]))
        try:
            image = decode_image(payload, f"{self.rec_path}: record {self.keys[index]}")
        except ValueError as error:
            raise RecordFileError(f"{error}; the file is damaged: {_REBUILD}") from None
        label = header.label if np.isscalar(header.label) else header.label[0]
        return (self.transform(image) if self.transform else image), float(label)


class FolderImageDataset(mx.gluon.data.Dataset):
    """Images under ``root/<class>/`` (classes sorted by name) as ``(transform(HWC uint8 RGB), label)``."""

    def __init__(self, root: os.PathLike, transform: Optional[Callable] = None, classes: Optional[List[str]] = None):
        self.root, self.transform = Path(root), transform
        self.classes, self.entries = class_folder_entries(root, classes)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int):
        path, label = self.entries[index]
        image = decode_image((self.root / path).read_bytes(), str(self.root / path))
        return (self.transform(image) if self.transform else image), float(label)


def _transform(train: bool, input_size: int, crop_ratio: float, auto_augment: bool, seed: int) -> Callable:
    if train:
        return ImageNetTrainTransform(input_size, auto_augment=auto_augment, seed=seed)
    return ImageNetEvalTransform(input_size, crop_ratio)


def _loader_source(dataset, batch_size: int, train: bool, num_workers: int, num_parts: int, part_index: int,
                   seed: int) -> LoaderSource:
    mean, std = DATASETS["imagenet"].mean, DATASETS["imagenet"].std
    return LoaderSource(dataset, batch_size, train, batchify_fn=functools.partial(stack_batch, mean=mean, std=std),
                        num_workers=num_workers, num_parts=num_parts, part_index=part_index, seed=seed)


def record_source(rec_path: os.PathLike, idx_path: os.PathLike, batch_size: int, train: bool, input_size: int = 224,
                  crop_ratio: float = EVAL_CROP_RATIO, num_workers: int = 4, auto_augment: bool = False,
                  faithful_aug: bool = False, num_parts: int = 1, part_index: int = 0, seed: int = 0,
                  pinned: bool = False) -> BatchSource:
    """Batches from ImageNet-style ``.rec/.idx`` files (NCHW float32, ImageNet mean/std).

    Without AutoAugment (or with ``faithful_aug``): ``mx.io.ImageRecordIter`` with the recipe's augmentation,
    ``num_workers`` decoding threads, sharded by ``num_parts``/``part_index``. With ``auto_augment`` for training:
    :class:`RecordImageDataset` + DataLoader (``num_workers`` processes, sharded sampler). ``pinned`` keeps
    ImageRecordIter batches in page-locked memory (for GPU copies) instead of ``mx.cpu()``. The pair is checked
    first (:func:`check_record_file`): a damaged file is a :class:`RecordFileError` here, not a crash later.
    """
    for path in (rec_path, idx_path):
        if not Path(path).is_file():
            raise FileNotFoundError(f"record file {path} not found (build it with scripts/prepare_imagenet.py)")
    if auto_augment and train and not faithful_aug:  # the dataset checks the pair itself
        dataset = RecordImageDataset(rec_path, idx_path, _transform(True, input_size, crop_ratio, True, seed))
        return _loader_source(dataset, batch_size, True, num_workers, num_parts, part_index, seed)
    num_records = len(check_record_file(rec_path, idx_path, fix=_REBUILD))
    if auto_augment and train and faithful_aug:
        warnings.warn("faithful_aug: AutoAugment is NOT applied to record data (like the original release, which "
                      "ignored --auto_aug with --use-rec); drop --faithful-aug to apply it")
    if not shard_range(num_records, num_parts, part_index):
        raise ValueError(f"{rec_path}: part {part_index} of {num_parts} gets no records ({num_records} records, "
                         f"ceil(N/P) per part); use fewer parts")

    def make_iter(epoch: int) -> mx.io.DataIter:
        return mx.io.ImageRecordIter(
            path_imgrec=str(rec_path), path_imgidx=str(idx_path), batch_size=batch_size, shuffle=train,
            seed=seed + epoch, seed_aug=seed + epoch, preprocess_threads=max(1, num_workers), num_parts=num_parts,
            part_index=part_index, round_batch=True, **imagenet_record_args(train, input_size, crop_ratio))

    equal = -(-len(shard_range(num_records, num_parts, 0)) // batch_size) if (train and num_parts > 1) else 0
    return RecordIterSource(make_iter, len(shard_range(num_records, num_parts, part_index)), batch_size,
                            equal_batches=equal, pinned=pinned, name=str(rec_path))


def folder_source(root: os.PathLike, batch_size: int, train: bool, input_size: int = 224,
                  crop_ratio: float = EVAL_CROP_RATIO, num_workers: int = 4, auto_augment: bool = False,
                  num_parts: int = 1, part_index: int = 0, seed: int = 0,
                  classes: Optional[List[str]] = None) -> LoaderSource:
    """Batches from class folders (``root`` is the ``train/`` or ``val/`` folder itself) through a DataLoader.

    ``classes`` pins the class order (default: sorted folder names, as in the training folder).
    """
    dataset = FolderImageDataset(root, _transform(train, input_size, crop_ratio, auto_augment and train, seed), classes)
    source = _loader_source(dataset, batch_size, train, num_workers, num_parts, part_index, seed)
    source.classes = dataset.classes
    return source
