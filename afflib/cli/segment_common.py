"""What the MXNet segmentation tools share: the devices of ``--gpus``, GluonCV's datasets (the check of their
folder, their training and validation batches) and the prediction overlays PNG of the first test scenes."""
from __future__ import annotations

import os
from typing import List, Optional, Sequence, Tuple, Union

import mxnet as mx
import numpy as np
from mxnet import gluon

from afflib.core.segoverlay import save_overlays
from afflib.train.devices import select_contexts
from afflib.train.gluonseg import GluonSegSource, open_gluoncv_split
from afflib.train.segdata import SceneSource
from afflib.train.tasks import predicted_masks

__all__ = ["GLUONCV_LAYOUTS", "check_gluoncv_dataset", "gluoncv_sources", "segmentation_contexts", "predict_first",
           "write_overlays"]

#: what GluonCV's segmentation datasets read under their root (``--data-dir``)
GLUONCV_LAYOUTS = {
    "voc": ("VOC2012/JPEGImages", "VOC2012/SegmentationClass", "VOC2012/ImageSets/Segmentation"),
    "ade20k": ("ADEChallengeData2016/images", "ADEChallengeData2016/annotations"),
    "coco": ("annotations", "train2017", "val2017"),
}


def check_gluoncv_dataset(dataset: str, data_dir: Optional[str]) -> None:
    """GluonCV's datasets (``--dataset voc|ade20k|coco``): a clear ValueError naming ``--data-dir`` and the
    layout GluonCV expects when the folders are missing."""
    layout = GLUONCV_LAYOUTS.get(dataset)
    if layout is None:
        raise ValueError(f"--dataset {dataset}: expected fashion-mnist-scenes, {', '.join(GLUONCV_LAYOUTS)}")
    expected = ", ".join(f"<data-dir>/{entry}" for entry in layout)
    if not data_dir:
        raise ValueError(f"--dataset {dataset} reads GluonCV's {dataset} folder: give --data-dir (expected "
                         f"{expected})")
    missing = [entry for entry in layout if not os.path.isdir(os.path.join(data_dir, entry))]
    if missing:
        raise ValueError(f"--data-dir {data_dir}: not GluonCV's {dataset} layout, missing "
                         f"{', '.join(missing)} (expected {expected})")


def gluoncv_sources(dataset: str, data_dir: Optional[str], crop_size: int, batch_size: int, seed: int,
                    train_size: int, test_size: int, shard: Tuple[int, int] = (1, 0),
                    train: bool = True) -> Tuple[Optional[GluonSegSource], GluonSegSource]:
    """The training (None when ``train`` is False) and validation batches of a GluonCV dataset under ``data_dir``
    (checked first); ``train_size``/``test_size`` > 0 keep the first images only."""
    check_gluoncv_dataset(dataset, data_dir)
    train_source = None
    if train:
        train_source = GluonSegSource(open_gluoncv_split(dataset, data_dir, True, crop_size), batch_size, True,
                                      seed, train_size, shard, name=f"{dataset} train")
    test_source = GluonSegSource(open_gluoncv_split(dataset, data_dir, False, crop_size), batch_size, False, seed,
                                 test_size, name=f"{dataset} val")
    return train_source, test_source


def segmentation_contexts(gpus: str) -> List[mx.Context]:
    """``--gpus 0,1`` as MXNet contexts; one CPU when empty (the default)."""
    return select_contexts(gpus)


def predict_first(net: gluon.Block, data: Union[SceneSource, GluonSegSource], contexts: Sequence[mx.Context],
                  count: int) -> np.ndarray:
    """Predicted masks (argmax) of the first ``count`` scenes of ``data`` (in file order)."""
    predictions: List[np.ndarray] = []
    for batch in data.batches(0):
        real = batch.data.shape[0] - int(batch.pad)
        predictions.append(predicted_masks(net, batch.data, contexts)[:real])
        if sum(len(p) for p in predictions) >= count:
            break
    return np.concatenate(predictions)[:count]


def write_overlays(net: gluon.Block, data: Union[SceneSource, GluonSegSource], contexts: Sequence[mx.Context],
                   classes: int, class_names: Sequence[str], count: int, path: str, title: str) -> str:
    """The overlays PNG of the first ``count`` test scenes (or GluonCV validation crops, in colour; ignored
    pixels drawn as background): image, truth, prediction; a legend up to 12 classes (more would cover them)."""
    if isinstance(data, GluonSegSource):
        count = min(count, data.count)
        images, truths = data.first(count)
    else:
        count = min(count, len(data.images))
        images, truths = data.images[:count], data.masks[:count]
    predicted = predict_first(net, data, contexts, count)
    names = class_names if classes <= 12 else None
    return save_overlays(path, images, truths, predicted, classes, names, title)
