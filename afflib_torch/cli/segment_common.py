"""What the PyTorch segmentation tools share: drawing prediction overlays of the first test scenes."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from afflib.core.segoverlay import save_overlays

from ..engine import RunConfig, autocast_context
from ..train.segdata import SegmentationData

__all__ = ["predict_first", "write_overlays"]


def predict_first(model: nn.Module, data: SegmentationData, config: RunConfig, count: int) -> np.ndarray:
    """Predicted masks (argmax) of the first ``count`` scenes of ``data`` (inference mode)."""
    model.eval()
    predictions = []
    with torch.inference_mode(), autocast_context(config):
        for images, _ in data.batches(0):
            predictions.append(model(images.to(config.device)).argmax(dim=1).cpu().numpy())
            if sum(len(p) for p in predictions) >= count:
                break
    return np.concatenate(predictions)[:count]


def write_overlays(model: nn.Module, data: SegmentationData, config: RunConfig, classes: int,
                   class_names: Sequence[str], count: int, path: str, title: str) -> str:
    """The overlays PNG of the first ``count`` test scenes: image, truth, prediction."""
    count = min(count, len(data.images))
    predicted = predict_first(model, data, config, count)
    return save_overlays(path, data.images[:count], data.masks[:count], predicted, classes, class_names, title)
