"""Locate the original release's reference data (../shared/reference or $AFF_REFERENCE_DIR) for tests."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def reference_dir() -> Optional[Path]:
    """The reference folder, or None when neither $AFF_REFERENCE_DIR nor ../shared/reference exists."""
    env = os.environ.get("AFF_REFERENCE_DIR")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "reference", REPO / "shared" / "reference"]
    for path in candidates:
        if (path / "vectors").is_dir() and (path / "released_format").is_dir():
            return path
    return None


def require_reference() -> Path:
    path = reference_dir()
    if path is None:
        pytest.skip("reference data of the original release not found: set AFF_REFERENCE_DIR or place it at "
                    "../shared/reference beside the checkout")
    return path


def vector_names() -> List[str]:
    path = reference_dir()
    return sorted(p.stem for p in (path / "vectors").glob("*.json")) if path else []


def load_vector(name: str) -> Tuple[dict, Dict[str, np.ndarray]]:
    path = require_reference() / "vectors"
    config = json.loads((path / f"{name}.json").read_text())
    arrays = dict(np.load(path / config["io_file"]))
    return config, arrays


def regenerate_params(config: dict) -> Dict[str, np.ndarray]:
    """The vector's parameter values, drawn exactly as the reference README prescribes."""
    rng = np.random.RandomState(config["seed"])
    values = {}
    for name, shape in config["params"]:
        shape = tuple(shape)
        if name.endswith("running_var"):
            v = rng.uniform(0.5, 2.0, size=shape)
        elif name.endswith(("running_mean", "beta", "bias")):
            v = rng.normal(0.0, 0.1, size=shape)
        elif name.endswith("gamma"):
            v = rng.uniform(0.5, 1.5, size=shape)
        else:
            v = rng.normal(0.0, np.sqrt(2.0 / np.prod(shape[1:])), size=shape)
        values[name] = v.astype(np.float32)
    return values


RELEASED = {  # released_format file -> (registry name, classes)
    "AFF-ResNet-50": ("aff_resnet50", 1000),
    "iAFF-ResNet-50": ("iaff_resnet50", 1000),
    "AFF-ResNeXt-50-32x4d": ("aff_resnext50_32x4d", 1000),
    "iAFF-ResNeXt-50-32x4d": ("iaff_resnext50_32x4d", 1000),
    "CIFAR-AFF-ResNet-32": ("cifar_aff_resnet32", 100),
    "CIFAR-AFF-ResNeXt-38-32x4d": ("cifar_aff_resnext38_32x4d", 100),
    "CIFAR-AFF-ResNeXt-47-32x4d": ("cifar_aff_resnext47_32x4d", 100),
}


def load_released_format(stem: str) -> dict:
    return json.loads((require_reference() / "released_format" / f"{stem}.json").read_text())


def vector_network(config: dict, families: dict):
    """Build the network a vector describes from ``families`` (class name -> class of either framework)."""
    fusion, family = config["fusion"], config["family"]
    kw = dict(start_layer=config["start_layer"], classes=config["classes"])
    if family == "cifar_resnet":
        return families["CIFARAFFResNet"](fusion, config["layers"], config["channels"], **kw)
    if family == "cifar_resnext":
        return families["CIFARAFFResNeXt"](fusion, config["layers"], config["channels"],
                                           cardinality=config["cardinality"],
                                           bottleneck_width=config["bottleneck_width"], **kw)
    if family == "imagenet_resnet":
        return families["AFFResNet"](fusion, config["layers"], **kw)
    if family == "imagenet_resnext":
        return families["AFFResNeXt"](fusion, config["layers"], cardinality=config["cardinality"],
                                      bottleneck_width=config["bottleneck_width"], **kw)
    raise AssertionError(f"unknown family {family}")
