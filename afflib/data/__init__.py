"""Datasets, transforms, AutoAugment, mixup and RecordIO tools behind one batch interface (:class:`BatchSource`).

Sources: ``imagenet.record_source`` / ``imagenet.folder_source``, ``cifar.cifar_source`` and
``fashion_mnist.record_source``; each yields :class:`Batch` tuples ``(data, label, pad)``.
"""
from .batches import Batch, BatchSource, LoaderSource, RecordIterSource, ShardedBatchSampler, measure_throughput
from .mixup import mixup, smooth_labels

__all__ = ["Batch", "BatchSource", "LoaderSource", "RecordIterSource", "ShardedBatchSampler", "measure_throughput",
           "mixup", "smooth_labels"]
