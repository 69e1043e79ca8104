"""Optional NVIDIA DALI pipeline (``--dali``, extra ``afflib[dali]``): the same ``.rec/.idx`` files as
:mod:`afflib_torch.imagenet_data`, JPEGs decoded on the GPU (nvJPEG), the same augmentation ranges (random resized
crop 8%-100% / 3:4-4:3, flip, jitter 0.4, PCA lighting 0.1) and normalisation, batches already on the GPU.

Differences from the CPU loader, by design of DALI: the random numbers come from DALI's generator (seeded with
``seed`` and the epoch), not from ``default_rng([seed, epoch, index])``, so batches are not bit-identical to the CPU
path and do not depend on the worker count only as long as the DALI version is the same; resuming at
``start_batch`` skips batches (decoded, then dropped). Where DALI or a GPU is absent, :func:`dali_status` says why
and :func:`dali_train_data` refuses with a :class:`DaliUnavailable` naming the reason and the way out.
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Iterator, Optional, Tuple

import torch

from afflib.core.datafiles import DataFormatError
from afflib.core.datasets import DATASETS
from afflib.core.recordio import read_index

from .augment import EIGVAL, EIGVEC, JITTER, LIGHTING, RATIO, SCALE

__all__ = ["DaliUnavailable", "dali_status", "dali_train_data", "DaliImageNetData"]

INSTALL = ("pip install --extra-index-url https://pypi.nvidia.com nvidia-dali-cuda120 (or pip install "
           "'afflib[dali]'), or leave out --dali to use the DataLoader pipeline")


class DaliUnavailable(RuntimeError):
    """``--dali`` was asked for where DALI cannot run; the message says why and what to do instead."""


def dali_status() -> Tuple[bool, str]:
    """(usable, reason): DALI imports and a CUDA GPU is visible to PyTorch."""
    try:
        importlib.import_module("nvidia.dali")
    except ImportError as error:
        return False, f"NVIDIA DALI is not installed ({error}); {INSTALL}"
    if not torch.cuda.is_available():
        return False, "DALI decodes on the GPU, and PyTorch sees no CUDA GPU here; leave out --dali"
    return True, "NVIDIA DALI " + importlib.import_module("nvidia.dali").__version__


def _pipeline(rec: str, idx: str, batch_size: int, input_size: int, seed: int, num_parts: int, part_index: int,
              workers: int, jitter: float, lighting: float, device_id: int):
    from nvidia.dali import fn, pipeline_def, types

    facts = DATASETS["imagenet"]

    @pipeline_def(batch_size=batch_size, num_threads=max(1, workers), device_id=device_id, seed=seed)
    def train():
        jpegs, labels = fn.readers.mxnet(path=[rec], index_path=[idx], random_shuffle=True, shard_id=part_index,
                                         num_shards=num_parts, pad_last_batch=False, name="reader")
        images = fn.decoders.image_random_crop(jpegs, device="mixed", output_type=types.RGB,
                                               random_area=list(SCALE), random_aspect_ratio=list(RATIO),
                                               num_attempts=10)
        images = fn.resize(images, resize_x=input_size, resize_y=input_size)
        if jitter:
            images = fn.color_twist(images, brightness=fn.random.uniform(range=[1 - jitter, 1 + jitter]),
                                    contrast=fn.random.uniform(range=[1 - jitter, 1 + jitter]),
                                    saturation=fn.random.uniform(range=[1 - jitter, 1 + jitter]))
        images = fn.cast(images, dtype=types.FLOAT)
        if lighting:
            noise = fn.random.normal(shape=[3], stddev=lighting)
            shift = [sum(float(EIGVEC[c, j] * EIGVAL[j]) * noise[j] for j in range(3)) for c in range(3)]
            images = images + fn.stack(*shift, axis=0)  # broadcast over HWC's channel axis
            images = fn.clamp(images, lo=0, hi=255)
        images = fn.crop_mirror_normalize(images, dtype=types.FLOAT, output_layout="CHW",
                                          mean=[m * 255 for m in facts.mean], std=[s * 255 for s in facts.std],
                                          mirror=fn.random.coin_flip(probability=0.5))
        return images, labels.gpu()

    return train()


class DaliImageNetData:
    """Training batches from a DALI pipeline, with the data protocol's ``len``, ``batch_size``, ``samples`` and
    ``batches(epoch, start_batch)`` (images float32 NCHW normalised on the GPU, labels int64)."""

    def __init__(self, rec: str, idx: str, batch_size: int, input_size: int = 224, seed: int = 0,
                 num_parts: int = 1, part_index: int = 0, workers: int = 4, jitter: float = JITTER,
                 lighting: float = LIGHTING, device_id: Optional[int] = None):
        keys, _ = read_index(idx)
        self.batch_size, self.seed = batch_size, seed
        self.samples = (len(keys) // num_parts // batch_size) * batch_size
        if not self.samples:
            raise DataFormatError(f"{rec}: {len(keys)} records, fewer than one batch of {batch_size} per process")
        self._args = (rec, idx, batch_size, input_size, seed, num_parts, part_index, workers, jitter, lighting,
                      torch.cuda.current_device() if device_id is None else device_id)

    def __len__(self) -> int:
        return self.samples // self.batch_size

    def batches(self, epoch: int, start_batch: int = 0) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        from nvidia.dali.plugin.pytorch import DALIGenericIterator
        args = list(self._args)
        args[4] = self.seed * 1000003 + epoch  # a new shuffle and new augmentations each epoch
        pipe = _pipeline(*args)
        pipe.build()
        loader = DALIGenericIterator([pipe], ["images", "labels"], size=self.samples, auto_reset=False)
        for number, batch in enumerate(loader):
            if number >= len(self):
                break
            if number >= start_batch:
                yield batch[0]["images"], batch[0]["labels"].view(-1).long()


def dali_train_data(source: str, batch_size: int, input_size: int = 224, seed: int = 0, num_parts: int = 1,
                    part_index: int = 0, workers: int = 4, jitter: float = JITTER, lighting: float = LIGHTING,
                    rec_idx: Optional[str] = None, auto_augment: bool = False) -> DaliImageNetData:
    """The ``--dali`` counterpart of :func:`afflib_torch.imagenet_data.imagenet_train_data` (records only)."""
    usable, reason = dali_status()
    if not usable:
        raise DaliUnavailable(f"--dali: {reason}")
    if auto_augment:
        raise DaliUnavailable("--dali: AutoAugment runs on the CPU (Pillow); leave out --dali or --auto-aug")
    path = Path(os.path.expanduser(source))
    rec = path if path.suffix == ".rec" else next((p for p in (path / "train.rec", path / "rec" / "train.rec")
                                                   if p.is_file()), None)
    if rec is None or not rec.is_file():
        raise DataFormatError(f"--dali reads .rec/.idx records only; no train.rec at {path} "
                              "(afflib-prepare-imagenet writes them)")
    idx = Path(rec_idx) if rec_idx else rec.with_suffix(".idx")
    return DaliImageNetData(str(rec), str(idx), batch_size, input_size, seed, num_parts, part_index, workers,
                            jitter, lighting)
