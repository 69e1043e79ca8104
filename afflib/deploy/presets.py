"""What a trained classifier expects at inference: its dataset's evaluation preprocessing and class names."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Tuple, Union

import mxnet as mx
import numpy as np

from afflib.core.datasets import DATASETS as DATASET_FACTS, EVAL_CROP_RATIO, LABEL_SETS, class_names

__all__ = ["DATASETS", "DatasetPreset", "dataset_preset", "dataset_class_names", "read_class_names"]

# label set -> (preprocessing key of afflib.data.transforms, input channels), from afflib.core.datasets
DATASETS = {name: (dataset, DATASET_FACTS[dataset].channels) for name, dataset in LABEL_SETS.items()}


@dataclass
class DatasetPreset:
    """Preprocessing (HWC uint8 RGB -> normalised (1, C, H, W) NDArray), class names and input channels."""

    name: str
    preprocess: Callable[[np.ndarray], mx.nd.NDArray]
    class_names: List[str]
    channels: int
    input_size: int
    mean: Tuple[float, ...]
    std: Tuple[float, ...]

    def network_view(self, data: mx.nd.NDArray) -> np.ndarray:
        """The preprocessed image (1, C, H, W) back as H x W x C uint8: what the network sees (crop included)."""
        pixels = data[0].asnumpy().transpose(1, 2, 0) * np.asarray(self.std) + np.asarray(self.mean)
        return np.clip(np.rint(pixels * 255), 0, 255).astype(np.uint8)


def _check_dataset(dataset: str) -> str:
    key = dataset.strip().lower().replace("_", "-")
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(DATASETS)}")
    return key


def dataset_class_names(dataset: str) -> List[str]:
    """Class names in label order: ImageNet from GluonCV's ``ImageNet1kAttr`` (offline), CIFAR and
    Fashion-MNIST from :mod:`afflib.core.datasets`."""
    key = _check_dataset(dataset)
    if key == "imagenet":
        from gluoncv.data import ImageNet1kAttr
        return list(ImageNet1kAttr().classes)
    return class_names(key)


def read_class_names(path: Union[str, Path]) -> List[str]:
    """One class name per line (blank lines ignored)."""
    try:
        names = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as err:
        raise ValueError(f"cannot read the class-names file {path}: {err.strerror}") from err
    if not names:
        raise ValueError(f"the class-names file {path} has no names (expected one per line)")
    return names


def dataset_preset(dataset: str, input_size: Optional[int] = None,
                   crop_ratio: float = EVAL_CROP_RATIO) -> DatasetPreset:
    """The evaluation preprocessing of ``dataset`` (ImageNet: resize the shorter side to
    ``input_size / crop_ratio``, center crop ``input_size`` (224); CIFAR: 32 px; Fashion-MNIST: 28 px grey)
    with its mean/std, and its class names."""
    from afflib.data.transforms import eval_preprocess
    key = _check_dataset(dataset)
    stats_key, channels = DATASETS[key]
    facts = DATASET_FACTS[stats_key]
    size = input_size or facts.input_size
    return DatasetPreset(key, eval_preprocess(stats_key, size, crop_ratio), dataset_class_names(key), channels, size,
                         tuple(facts.mean), tuple(facts.std))
