"""GluonCV's segmentation datasets (Pascal VOC, ADE20K, COCO) as batches of the MXNet loop: the images and masks of
``gluoncv.data.{VOC,ADE20K,COCO}Segmentation`` with GluonCV's own crops (training: random flip, random scale of the
long side 0.5-2x ``base_size``, pad, random ``crop_size`` crop, random blur; validation: short side resized to
``crop_size`` and a centre crop), normalised with the ImageNet mean and std GluonCV uses, as
:class:`afflib.data.batches.Batch` (``data`` NCHW float32, ``label`` the masks float32 with -1 for ignored pixels,
``pad`` filler rows).

GluonCV's random crops draw from Python's ``random``; every image's draws are seeded from ``(seed, epoch, index)``
(the global state is restored afterwards), so an epoch's batches are a pure function of the run's seed, as the
generated scenes' (:mod:`afflib.core.segbatches`): training reads full batches shuffled per epoch, validation
reads every image in file order, its last batch completed with filler rows.
"""
from __future__ import annotations

import os
import random
from typing import Any, Dict, Iterator, List, Optional, Tuple

import mxnet as mx
import numpy as np

from afflib.core.dataorder import SplitOrder
from afflib.core.segmetrics import ConfusionMatrix
from .segdata import EpochBatches

__all__ = ["GLUONCV_SEGMENTATION", "IMAGENET_MEAN", "IMAGENET_STD", "base_size_of", "open_gluoncv_split",
           "GluonSegSource"]

#: ``--dataset`` -> the GluonCV class that reads it
GLUONCV_SEGMENTATION = {"voc": "VOCSegmentation", "ade20k": "ADE20KSegmentation", "coco": "COCOSegmentation"}
#: the normalisation of GluonCV's segmentation scripts (ImageNet's, on the 0..1 scale)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def base_size_of(crop_size: int) -> int:
    """GluonCV's base size for a crop: 520 for its 480 crops, in proportion otherwise."""
    return crop_size * 13 // 12


def open_gluoncv_split(dataset: str, root: str, train: bool, crop_size: int) -> Any:
    """GluonCV's dataset object of ``--dataset`` under ``root`` (split and mode ``train`` or ``val``); a
    ValueError naming ``--data-dir`` when GluonCV cannot read it."""
    import gluoncv.data
    if dataset not in GLUONCV_SEGMENTATION:
        raise ValueError(f"--dataset {dataset}: expected one of {', '.join(GLUONCV_SEGMENTATION)}")
    cls = getattr(gluoncv.data, GLUONCV_SEGMENTATION[dataset])
    split = "train" if train else "val"
    try:
        data = cls(root=os.path.abspath(root), split=split, mode=split, crop_size=crop_size,
                   base_size=base_size_of(crop_size))
    except (AssertionError, OSError, RuntimeError, ImportError) as err:
        raise ValueError(f"--data-dir {root}: GluonCV's {cls.__name__} cannot read its {split} split "
                         f"({type(err).__name__}: {err or 'a listed image or mask is missing'})") from None
    if dataset == "ade20k":   # GluonCV lists ADE20K's folders in os.listdir order: make "file order" stable
        pairs = sorted(zip(data.images, data.masks))
        data.images, data.masks = [image for image, _ in pairs], [mask for _, mask in pairs]
    return data


class GluonSegSource(EpochBatches, SplitOrder):
    """One split of a GluonCV segmentation dataset, iterated an epoch at a time like
    :class:`afflib.train.segdata.SceneSource` (:class:`~afflib.train.segdata.EpochBatches`: ``iter()`` starts
    epoch :attr:`epoch` and advances it).

    ``count`` > 0 reads only the first ``count`` images (file order); ``shard`` is ``(parts, index)``.
    """

    def __init__(self, dataset: Any, batch_size: int, train: bool, seed: int = 0, count: int = 0,
                 shard: Tuple[int, int] = (1, 0), name: str = "GluonCV segmentation"):
        self.dataset = dataset
        self.name = name
        total = len(dataset)
        if total == 0:
            raise ValueError(f"{name}: the split lists no images")
        self.setup_order(min(count, total) if count else total, batch_size, train, seed, shard, f"images ({name})")
        self.mean = np.asarray(IMAGENET_MEAN, np.float32).reshape(1, 1, 3) * 255
        self.scale = 1.0 / (np.asarray(IMAGENET_STD, np.float32).reshape(1, 1, 3) * 255)
        self.classes = int(dataset.num_class)
        self.class_names: List[str] = list(getattr(dataset, "classes", [])) or [str(k) for k in range(self.classes)]
        self.epoch = 0
        self._baseline: Optional[Dict[str, float]] = None

    def item(self, index: int, epoch: int) -> Tuple[np.ndarray, np.ndarray]:
        """Image ``index`` as GluonCV crops it in ``epoch``: uint8 (H, W, 3) and its mask int32 (-1 ignored)."""
        state = random.getstate()
        random.seed(f"afflib-gluonseg-{self.seed}-{epoch if self.train else 0}-{index}")
        try:
            image, mask = self.dataset[int(index)]
        finally:
            random.setstate(state)
        image = image.asnumpy() if isinstance(image, mx.nd.NDArray) else np.asarray(image)
        mask = mask.asnumpy() if isinstance(mask, mx.nd.NDArray) else np.asarray(mask)
        return image.astype(np.uint8), mask.astype(np.int32)

    def numpy_batches(self, epoch: int, pad: bool = True) -> Iterator[Tuple[np.ndarray, np.ndarray, int]]:
        """``(images float32 NCHW normalised, masks (N, H, W) int32, filler rows)`` of ``epoch``."""
        order = self.order(epoch)
        for start in range(0, len(order), self.batch_size):
            chosen = order[start:start + self.batch_size]
            filler = self.batch_size - len(chosen) if pad else 0
            if filler:
                chosen = np.concatenate([chosen, np.resize(order, filler)])
            pairs = [self.item(i, epoch) for i in chosen]
            images = np.stack([(image.astype(np.float32) - self.mean) * self.scale for image, _ in pairs])
            yield images.transpose(0, 3, 1, 2), np.stack([mask for _, mask in pairs]), filler

    def first(self, count: int) -> Tuple[np.ndarray, np.ndarray]:
        """The first ``count`` validation crops: images uint8 (N, 3, H, W) and masks (N, H, W), for overlays."""
        pairs = [self.item(i, 0) for i in range(min(count, self.count))]
        return (np.stack([image.transpose(2, 0, 1) for image, _ in pairs]),
                np.stack([mask for _, mask in pairs]))

    def baseline(self) -> Dict[str, float]:
        """The all-background mIoU and pixel accuracy of the split's validation crops (ignored pixels left out;
        counted mask by mask, so the split never sits in memory at once)."""
        if self._baseline is None:
            matrix = ConfusionMatrix(self.classes)
            for index in range(self.count):
                mask = self.item(index, 0)[1]
                matrix.update(np.zeros_like(mask), mask)
            self._baseline = {"miou": matrix.miou(), "pixel_accuracy": matrix.pixel_accuracy()}
        return self._baseline
