"""What the MXNet segmentation tools share: the devices of ``--gpus``, the check of a GluonCV dataset's folder,
and the prediction overlays PNG of the first test scenes."""
from __future__ import annotations

import os
from typing import List, Optional, Sequence

import mxnet as mx
import numpy as np
from mxnet import gluon

from afflib.core.segoverlay import save_overlays
from afflib.train.devices import select_contexts
from afflib.train.segdata import SceneSource
from afflib.train.tasks import predicted_masks

__all__ = ["GLUONCV_LAYOUTS", "refuse_gluoncv_dataset", "segmentation_contexts", "predict_first", "write_overlays"]

#: what GluonCV's segmentation datasets read under their root (``--data-dir``)
GLUONCV_LAYOUTS = {
    "voc": ("VOC2012/JPEGImages", "VOC2012/SegmentationClass", "VOC2012/ImageSets/Segmentation"),
    "ade20k": ("ADEChallengeData2016/images", "ADEChallengeData2016/annotations"),
    "coco": ("annotations", "train2017", "val2017"),
}


def refuse_gluoncv_dataset(dataset: str, data_dir: Optional[str]) -> None:
    """GluonCV's datasets (``--dataset voc|ade20k|coco``): a clear ValueError naming ``--data-dir`` and the
    layout GluonCV expects when the folders are missing, and, when they are there, that training on them is not
    wired to the MXNet engine yet (their ignore label and crops need a loss and metric this version lacks)."""
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
    raise ValueError(f"--dataset {dataset}: GluonCV's datasets are not wired to the MXNet segmentation engine yet "
                     f"(their ignore label and crops); train on --dataset fashion-mnist-scenes")


def segmentation_contexts(gpus: str) -> List[mx.Context]:
    """``--gpus 0,1`` as MXNet contexts; one CPU when empty (the default)."""
    return select_contexts(gpus)


def predict_first(net: gluon.Block, data: SceneSource, contexts: Sequence[mx.Context], count: int) -> np.ndarray:
    """Predicted masks (argmax) of the first ``count`` scenes of ``data`` (in file order)."""
    predictions: List[np.ndarray] = []
    for batch in data.batches(0):
        real = batch.data.shape[0] - int(batch.pad)
        predictions.append(predicted_masks(net, batch.data, contexts)[:real])
        if sum(len(p) for p in predictions) >= count:
            break
    return np.concatenate(predictions)[:count]


def write_overlays(net: gluon.Block, data: SceneSource, contexts: Sequence[mx.Context], classes: int,
                   class_names: Sequence[str], count: int, path: str, title: str) -> str:
    """The overlays PNG of the first ``count`` test scenes: image, truth, prediction."""
    count = min(count, len(data.images))
    predicted = predict_first(net, data, contexts, count)
    return save_overlays(path, data.images[:count], data.masks[:count], predicted, classes, class_names, title)
