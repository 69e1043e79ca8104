"""Small-image datasets (CIFAR-10/100, Fashion-MNIST) and the CIFAR networks named by the original flags.

Shared by ``scripts/train_cifar.py`` and ``scripts/eval_cifar.py`` so both build the same model and data.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional, Tuple

from mxnet.gluon import HybridBlock

from afflib.model_zoo import get_model
from afflib.core.datasets import SMALL_IMAGE_DATASETS
from afflib.core.modelspec import ModelSpec, cifar_spec
from afflib.core.trainflags import DEFAULT_FMNIST_REC_DIR

__all__ = ["DATASETS", "dataset_classes", "cifar_model", "registry_model", "small_image_source",
           "DEFAULT_FMNIST_REC_DIR"]

DATASETS = SMALL_IMAGE_DATASETS   # name -> (classes, channels), from the core's dataset table


def dataset_classes(dataset: str, coarse_labels: bool = False) -> Tuple[int, int]:
    """(classes, input channels) of ``dataset``; CIFAR-100 has 20 classes with ``coarse_labels``."""
    if dataset not in DATASETS:
        raise ValueError(f"--dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
    if coarse_labels and dataset != "cifar100":
        raise ValueError(f"--coarse-labels only applies to cifar100 (20 superclasses), not {dataset}")
    classes, channels = DATASETS[dataset]
    return (20 if coarse_labels else classes), channels


def cifar_model(model: str, askc_type: str, blocks: int, channel_times: int, start_layer: int, classes: int,
                in_channels: int, deep_stem: bool = False) -> Tuple[HybridBlock, ModelSpec]:
    """The original CIFAR script's network: ``--model resnet|resnext --blocks B --channel-times C``.

    Widths are ``16*C`` (stem) and ``16*C, 32*C, 64*C`` (stages; x4 outputs for ResNeXt); the release used
    C = 4. Returns the network and its spec (printed as ``cifar_aff_resnet8(channels=[16,16,32,64], ...)``,
    which ``afflib.get_model`` accepts; ``spec.tag()`` is the short form in file names, ``cifar_aff_resnet8-c1``).
    """
    spec = cifar_spec(model, askc_type, blocks, channel_times, start_layer, classes, in_channels, deep_stem)
    return get_model(spec.text()), spec


def registry_model(name: str, classes: int, in_channels: int) -> Tuple[HybridBlock, ModelSpec]:
    """``--model-name NAME`` (a registry name or a printed spec) for ``classes`` outputs and ``in_channels`` inputs.

    The architecture flags are not read here: the scripts refuse, while parsing, an explicit one that contradicts
    ``NAME`` (:func:`afflib.core.flagtable.model_name_conflicts`)."""
    spec = ModelSpec.create(name, classes=classes, in_channels=in_channels)
    return get_model(spec.text()), spec


def small_image_source(dataset: str, train: bool, batch_size: int, data_dir: Optional[str], rec_dir: str,
                       coarse_labels: bool = False, auto_augment: bool = False, num_workers: int = 2,
                       num_parts: int = 1, part_index: int = 0, seed: int = 0,
                       log: Optional[logging.Logger] = None):
    """The batch source of a split. Fashion-MNIST trains from RecordIO files in ``rec_dir`` (packed from the IDX
    files in ``data_dir`` on first use); CIFAR through Gluon's dataset files in ``data_dir``."""
    dataset_classes(dataset, coarse_labels)
    if dataset == "fashion-mnist":
        from afflib.data import fashion_mnist
        rec_path = Path(os.path.expanduser(rec_dir))
        if not (rec_path / ("train.rec" if train else "test.rec")).is_file():
            if log is not None:
                log.info("packing Fashion-MNIST into RecordIO files in %s (one-off)", rec_path)
            fashion_mnist.pack_fashion_mnist(data_dir, rec_path)
        if auto_augment and log is not None:
            log.warning("WARNING: --auto_aug has no Fashion-MNIST policy; using crop + flip only")
        return fashion_mnist.record_source(rec_path, train=train, batch_size=batch_size, num_workers=num_workers,
                                           augment=True, num_parts=num_parts, part_index=part_index, seed=seed)
    from afflib.data import cifar
    return cifar.cifar_source(dataset, root=data_dir, train=train, batch_size=batch_size, coarse_labels=coarse_labels,
                              auto_augment=auto_augment and train, num_workers=num_workers, num_parts=num_parts,
                              part_index=part_index, seed=seed)
