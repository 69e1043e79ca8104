"""ImageNet training and validation data for the PyTorch engine, without MXNet: class folders (``train/<class>/*``,
``val/<class>/*``) or the ``.rec/.idx`` files the MXNet side writes (``afflib-prepare-imagenet``: ``train.rec``,
``train.idx``, ``val.rec``, ``val.idx``), read by the core's RecordIO reader (:mod:`afflib.core.recordio`).

The objects follow the engine's data protocol: ``len(data)`` batches per epoch of this shard, ``data.batch_size``,
``data.samples`` (per epoch of this shard), ``data.batches(epoch, start_batch=0)`` yielding ``(images float32 NCHW
normalised, labels int64)``. Epoch ``e``'s order is ``default_rng([seed, e]).permutation(N)``, shard ``k`` of ``n``
takes ``permutation[k::n]`` cut to ``N // n`` samples and full batches; each image's augmentation draws from
``default_rng([seed, e, index])`` (:mod:`afflib_torch.augment`). Batches are built whole in DataLoader worker
processes (each opens its own file handles), so neither the worker count nor resuming at ``start_batch`` changes a
pixel. With ``device`` (a GPU), workers send uint8 pixels and the colour jitter, lighting and normalisation run on
the device (4x less copying). Validation: every image in order, the core's evaluation crop
(:func:`afflib.core.preprocess.eval_crop`: the pixels :mod:`afflib_torch.data` evaluates).
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from afflib.core.datafiles import DataFormatError
from afflib.core.dataorder import batch_count, epoch_order, shard_samples, train_subset
from afflib.core.datasets import DATASETS, EVAL_CROP_RATIO
from afflib.core.preprocess import eval_crop, normalize_nhwc, record_eval_crop
from afflib.core.recordio import RecordReader, label_of

from .augment import JITTER, LIGHTING, OPENCV, TrainAugment, colour_lighting, normalise, sample_rng

__all__ = ["DataFormatError", "IMAGE_SUFFIXES", "FolderImages", "RecordImages", "ImageNetData", "decode_bytes",
           "open_images", "imagenet_train_data", "imagenet_val_data", "loader_rate"]

_MEAN_STD = (DATASETS["imagenet"].mean, DATASETS["imagenet"].std)  # 0-1 scale
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp", ".tif", ".tiff")


def decode_bytes(data: bytes, where: str, as_array: bool = True):
    """Encoded image bytes -> HWC uint8 RGB (upright by EXIF orientation); OpenCV where installed, else Pillow
    (``as_array=False``: the RGB Pillow image itself, which crops and resizes without a copy). Bytes that do not
    decode are a :class:`DataFormatError` naming ``where``."""
    if OPENCV is not None:
        image = OPENCV.imdecode(np.frombuffer(data, np.uint8), OPENCV.IMREAD_COLOR)
        if image is None:
            raise DataFormatError(f"{where}: cannot decode the image data")
        return OPENCV.cvtColor(image, OPENCV.COLOR_BGR2RGB)
    from PIL import Image, ImageOps, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(data)) as image:
            upright = ImageOps.exif_transpose(image)  # a loaded copy, rotated where EXIF says so
            upright = upright if upright.mode == "RGB" else upright.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise DataFormatError(f"{where}: cannot decode the image data ({error})") from None
    return np.asarray(upright, np.uint8) if as_array else upright


class FolderImages:
    """Image files under ``root/<class>/`` (sub-folders included, sorted); label = index of the class in
    ``classes`` (default: the sorted folder names)."""

    def __init__(self, root: Union[str, os.PathLike], classes: Optional[Sequence[str]] = None):
        self.root = Path(root)
        folders = sorted(p.name for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []
        if not folders:
            raise DataFormatError(f"{self.root}: no class folders (expected {self.root}/<class>/<image files>)")
        self.classes = list(classes) if classes is not None else folders
        index = {name: i for i, name in enumerate(self.classes)}
        unknown = [f for f in folders if f not in index]
        if unknown:
            raise DataFormatError(f"{self.root}: class folders {unknown[:5]} are not among the training classes "
                                  f"(first: {self.classes[:5]})")
        self.paths: List[Path] = []
        labels: List[int] = []
        for folder in folders:
            found = sorted(p for p in (self.root / folder).rglob("*")
                           if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            self.paths += found
            labels += [index[folder]] * len(found)
        if not self.paths:
            raise DataFormatError(f"{self.root}: the class folders hold no images ({', '.join(IMAGE_SUFFIXES)})")
        self.labels = np.asarray(labels, np.int64)
        self.name = str(self.root)

    def __len__(self) -> int:
        return len(self.paths)

    def get(self, index: int, as_array: bool = True) -> Tuple[np.ndarray, int]:
        """(decoded image, label) of image ``index`` (see :func:`decode_bytes` for ``as_array``)."""
        path = self.paths[index]
        try:
            data = path.read_bytes()
        except OSError as error:
            raise DataFormatError(f"{path}: cannot read ({error})") from None
        return decode_bytes(data, str(path), as_array), int(self.labels[index])


class RecordImages:
    """Image records of a ``.rec/.idx`` pair (index order); label = the record's (first) label."""

    def __init__(self, rec_path: Union[str, os.PathLike], idx_path: Union[str, os.PathLike]):
        for path in (rec_path, idx_path):
            if not Path(path).is_file():
                raise DataFormatError(f"record file {path} not found (afflib-prepare-imagenet writes train.rec/.idx "
                                      "and val.rec/.idx)")
        self.reader = RecordReader(rec_path, idx_path)
        if not len(self.reader):
            raise DataFormatError(f"{idx_path}: the index lists no records")
        self.reader.read_image(self.reader.keys[0])  # a file that is not RecordIO fails here, not in a worker
        self.reader.close()
        self.name = str(rec_path)
        self.classes: Optional[List[str]] = None
        classes_file = Path(rec_path).parent / "classes.txt"
        if classes_file.is_file():
            self.classes = classes_file.read_text().split()

    def __len__(self) -> int:
        return len(self.reader)

    def get(self, index: int, as_array: bool = True) -> Tuple[np.ndarray, int]:
        """(decoded image, label) of record number ``index`` in index order."""
        key = self.reader.keys[index]
        header, data = self.reader.read_image(key)
        return decode_bytes(data, f"{self.reader.rec_path}: record {key}", as_array), int(label_of(header))


Images = Union[FolderImages, RecordImages]


def open_images(source: Union[str, os.PathLike], split: str, rec_idx: Optional[str] = None,
                classes: Optional[Sequence[str]] = None) -> Images:
    """The images of ``split`` ('train' or 'val') in ``source``, the first that exists of: a ``.rec`` file (its
    ``.idx`` beside it or ``rec_idx``), ``source/<split>.rec``, ``source/<split>/<class>/`` folders,
    ``source/rec/<split>.rec`` (the MXNet tools' default layout), ``source/<class>/`` folders."""
    path = Path(os.path.expanduser(str(source)))
    if path.suffix == ".rec":
        return RecordImages(path, rec_idx or path.with_suffix(".idx"))
    if not path.is_dir():
        raise DataFormatError(f"{path}: not found (give a .rec file or a folder with {split}.rec/{split}.idx or "
                              f"{split}/<class>/<images>)")
    if (path / f"{split}.rec").is_file():
        return RecordImages(path / f"{split}.rec", rec_idx or path / f"{split}.idx")
    if (path / split).is_dir():
        return FolderImages(path / split, classes)
    if (path / "rec" / f"{split}.rec").is_file():
        return RecordImages(path / "rec" / f"{split}.rec", rec_idx or path / "rec" / f"{split}.idx")
    return FolderImages(path, classes)


class _Plan(Sampler):
    """The batches the loader builds next, as ``(epoch, sample indices)`` keys (reset before each pass)."""

    def __init__(self):
        self.items: List[Tuple[int, np.ndarray]] = []

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class _Batches(Dataset):
    """One item = one whole batch, built in a worker: decode, augment or crop, stack (and finish unless the
    colour steps and normalisation are left to the device)."""

    def __init__(self, images: Images, augment: Optional[TrainAugment], input_size: int, crop_ratio: float,
                 seed: int, finish: bool, record_crop: bool = False):
        self.images, self.augment, self.input_size, self.crop_ratio = images, augment, input_size, crop_ratio
        self.seed, self.finish = seed, finish
        self.crop = record_eval_crop if record_crop else eval_crop

    def __getitem__(self, key: Tuple[int, np.ndarray]):
        epoch, chosen = key
        crops, params, labels = [], [], []
        for index in chosen.tolist():
            image, label = self.images.get(index, as_array=self.augment is None)
            if self.augment is not None:
                crop, colour = self.augment(image, sample_rng(self.seed, epoch, index))
                params.append(colour)
            else:
                crop = self.crop(image, self.input_size, self.crop_ratio)
            crops.append(crop)
            labels.append(label)
        labels = torch.tensor(labels, dtype=torch.int64)
        if self.augment is None:
            if self.finish:
                return torch.from_numpy(normalize_nhwc(np.stack(crops), *_MEAN_STD)), labels
            return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous(), labels
        pixels = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()
        params = torch.from_numpy(np.stack(params))
        if self.finish:
            return normalise(colour_lighting(pixels, params)), labels
        return pixels, params, labels


def _worker_init(_worker_id: int) -> None:
    if OPENCV is not None:
        OPENCV.setNumThreads(1)


class ImageNetData:
    """Training (``augment`` given: shuffled, sharded, full batches) or validation (``augment`` None: all images in
    order, the last batch smaller) batches of an image source; see the module docstring for the protocol."""

    def __init__(self, images: Images, batch_size: int, augment: Optional[TrainAugment] = None,
                 input_size: int = 224, crop_ratio: float = EVAL_CROP_RATIO, seed: int = 0, num_parts: int = 1,
                 part_index: int = 0, workers: int = 4, pin_memory: bool = False,
                 device: Union[None, str, torch.device] = None, limit: int = 0, record_crop: bool = False):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= part_index < num_parts:
            raise ValueError(f"part_index must be in [0, num_parts={num_parts}), got {part_index}")
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self.images, self.batch_size, self.train, self.seed = images, batch_size, augment is not None, seed
        self.num_parts, self.part_index = (num_parts, part_index) if self.train else (1, 0)
        self.classes = images.classes
        self.device = torch.device(device) if device is not None else None
        # --train-size: a fixed subset (the rule of afflib_torch.train.smalldata), indices stay the source's
        self.subset = train_subset(len(images), seed, limit if self.train else 0)
        per_shard = len(self.subset) // self.num_parts
        if self.train and per_shard < batch_size:
            raise DataFormatError(f"{images.name}: {len(self.subset)} images give {per_shard} per process "
                                  f"({num_parts} processes), fewer than one batch of {batch_size}")
        self.samples = shard_samples(len(self.subset), self.num_parts, batch_size, self.train)
        self._dataset = _Batches(images, augment, input_size, crop_ratio, seed, self.device is None, record_crop)
        self._plan = _Plan()
        self.workers, self.pin_memory = workers, pin_memory
        self._loader = None
        if workers > 0:
            self._loader = DataLoader(self._dataset, batch_size=None, sampler=self._plan, num_workers=workers,
                                      pin_memory=pin_memory, persistent_workers=True, worker_init_fn=_worker_init,
                                      prefetch_factor=2)

    def __len__(self) -> int:
        return batch_count(self.samples, self.batch_size, self.train)

    def order(self, epoch: int) -> np.ndarray:
        """Sample indices of this shard in epoch ``epoch``, in batch order (:mod:`afflib.core.dataorder`)."""
        if not self.train:
            return np.arange(len(self.images))
        return epoch_order(self.subset, self.seed, epoch, self.num_parts, self.part_index, self.samples)

    def batches(self, epoch: int, start_batch: int = 0) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        """Batches of ``epoch`` from batch ``start_batch`` on: ``(float32 NCHW normalised, int64 labels)``."""
        order = self.order(epoch)
        keys = [(epoch, order[start:start + self.batch_size])
                for start in range(start_batch * self.batch_size, len(order), self.batch_size)]
        if self._loader is None:
            produced = (self._dataset[key] for key in keys)
        else:
            self._plan.items = keys
            produced = iter(self._loader)
        for item in produced:
            if self._loader is None and self.pin_memory and torch.cuda.is_available():
                item = tuple(t.pin_memory() for t in item)
            yield self._finish(item)

    def _finish(self, item) -> Tuple[torch.Tensor, torch.Tensor]:
        if self.device is None:
            return item
        moved = [t.to(self.device, non_blocking=True) for t in item]
        if self.train:
            pixels, params, labels = moved
            return normalise(colour_lighting(pixels, params)), labels
        pixels, labels = moved
        return normalise(pixels), labels


def imagenet_train_data(source: str, batch_size: int, input_size: int = 224, seed: int = 0, num_parts: int = 1,
                        part_index: int = 0, workers: int = 4, auto_augment: bool = False, jitter: float = JITTER,
                        lighting: float = LIGHTING, pin_memory: bool = False, rec_idx: Optional[str] = None,
                        device: Union[None, str, torch.device] = None, limit: int = 0) -> ImageNetData:
    """Training batches of ImageNet ``source`` (``--rec-train`` file or ``--data-dir`` folder; ``rec_idx`` is
    ``--rec-train-idx``) with the release's augmentation (:mod:`afflib_torch.augment`); shard ``part_index`` of
    ``num_parts``; ``workers`` DataLoader processes (0: in this process); ``limit`` > 0 (``--train-size``) trains
    on that many images, the first of a shuffle seeded by ``(seed, number of images)``."""
    augment = TrainAugment(input_size, auto_augment=auto_augment, jitter=jitter, lighting=lighting)
    return ImageNetData(open_images(source, "train", rec_idx), batch_size, augment, input_size, seed=seed,
                        num_parts=num_parts, part_index=part_index, workers=workers, pin_memory=pin_memory,
                        device=device, limit=limit)


def imagenet_val_data(source: str, batch_size: int, input_size: int = 224, crop_ratio: float = EVAL_CROP_RATIO,
                      workers: int = 4, pin_memory: bool = False, rec_idx: Optional[str] = None,
                      classes: Optional[Sequence[str]] = None, device: Union[None, str, torch.device] = None,
                      record_crop: bool = False) -> ImageNetData:
    """Validation batches of ImageNet ``source`` (``--rec-val`` file or ``--data-dir`` folder; ``rec_idx`` is
    ``--rec-val-idx``): all images in order, shorter side to ``ceil(input_size / crop_ratio)``, centre crop
    ``input_size`` (:func:`afflib.core.preprocess.eval_crop`, both engines' evaluation pixels; ``record_crop``: the
    release's record-iterator resize instead, :func:`~afflib.core.preprocess.record_eval_crop`, which measured the
    published errors). ``classes`` pins the class-folder order (the training set's)."""
    return ImageNetData(open_images(source, "val", rec_idx, classes), batch_size, None, input_size, crop_ratio,
                        workers=workers, pin_memory=pin_memory, device=device, record_crop=record_crop)


def loader_rate(data: ImageNetData, batches: int, skip: Optional[int] = None) -> float:
    """Steady-state images per second that ``data`` delivers: the clock starts after ``skip`` batches (default:
    what the workers can have prefetched, 2 per worker, + 1), so a queue filled while the workers started does not
    count, then runs over ``batches`` more batches of epoch 0 (GPU work is synchronised before it stops)."""
    import time
    skip = 2 * data.workers + 1 if skip is None else skip
    produced = data.batches(0)
    for _ in range(skip):
        images, _ = next(produced)
    count = 0
    started = time.perf_counter()
    for images, _ in produced:
        count += 1
        if count >= batches:
            break
    if images.is_cuda:
        torch.cuda.synchronize()
    if count < batches:
        raise ValueError(f"only {count} batches after the {skip} skipped ones: write more images or measure fewer")
    return count * data.batch_size / max(time.perf_counter() - started, 1e-9)
