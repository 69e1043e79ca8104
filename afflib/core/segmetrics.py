"""Segmentation metrics both engines share: a confusion matrix over integer label maps, per-class IoU, mIoU, pixel
accuracy, and the all-background baseline that puts a score in scale (framework-free: NumPy only).

mIoU is the mean IoU over the classes that occur in the prediction or the target (union > 0), background
included, as in the paper's StopSign numbers (a binary task: the mean of background and stop-sign IoU).

Negative targets are **ignored** (GluonCV's datasets mark void and boundary pixels -1): those pixels count in no
cell of the matrix, whatever was predicted there.
"""
from __future__ import annotations

from typing import Dict, List, Union

import numpy as np

__all__ = ["ConfusionMatrix", "background_baseline", "segmentation_result"]


class ConfusionMatrix:
    """Pixel counts ``matrix[target, prediction]`` accumulated over batches of integer label maps."""

    def __init__(self, classes: int):
        if int(classes) != classes or classes < 2:
            raise ValueError(f"classes must be an integer >= 2, got {classes!r}")
        self.classes = int(classes)
        self.matrix = np.zeros((self.classes, self.classes), np.int64)

    def reset(self) -> None:
        self.matrix[:] = 0

    def _labels(self, name: str, values: np.ndarray, ignore_negative: bool = False) -> np.ndarray:
        values = np.asarray(values)
        if values.dtype.kind not in "iub":
            raise ValueError(f"{name} must hold integer class labels (argmax the logits first), got {values.dtype}")
        low = 0 if values.size == 0 or not ignore_negative else min(int(values.min()), 0)
        if values.size and (values.min() < low or values.max() >= self.classes):
            raise ValueError(f"{name} labels must be in 0..{self.classes - 1}, got {values.min()}..{values.max()}")
        return values.astype(np.int64, copy=False).ravel()

    def update(self, pred: np.ndarray, target: np.ndarray) -> "ConfusionMatrix":
        """Count the pixels of one batch: ``pred`` and ``target`` integer arrays of the same shape; pixels whose
        target is negative (the ignore label, -1) are not counted."""
        pred, target = np.asarray(pred), np.asarray(target)
        if pred.shape != target.shape:
            raise ValueError(f"pred and target must have the same shape, got {pred.shape} and {target.shape}")
        pred, target = self._labels("pred", pred), self._labels("target", target, ignore_negative=True)
        if target.size and target.min() < 0:
            valid = target >= 0
            pred, target = pred[valid], target[valid]
        self.matrix += np.bincount(target * self.classes + pred, minlength=self.classes ** 2).reshape(
            self.classes, self.classes)
        return self

    def merge(self, other: "ConfusionMatrix") -> "ConfusionMatrix":
        """Add ``other``'s counts (e.g. another worker's) into this one."""
        if not isinstance(other, ConfusionMatrix) or other.classes != self.classes:
            raise ValueError(f"can only merge a ConfusionMatrix of {self.classes} classes, got {other!r}")
        self.matrix += other.matrix
        return self

    def __add__(self, other: "ConfusionMatrix") -> "ConfusionMatrix":
        total = ConfusionMatrix(self.classes)
        return total.merge(self).merge(other)

    def __repr__(self) -> str:
        return f"ConfusionMatrix(classes={self.classes}, pixels={self.pixels})"

    @property
    def pixels(self) -> int:
        return int(self.matrix.sum())

    def _check_counted(self) -> None:
        if not self.pixels:
            raise ValueError("no pixels counted yet: call update(pred, target) first")

    def iou(self) -> np.ndarray:
        """Per-class IoU = true positives / (target + predicted - true positives); NaN where the class occurs in
        neither prediction nor target."""
        self._check_counted()
        hits = np.diag(self.matrix).astype(np.float64)
        union = self.matrix.sum(0) + self.matrix.sum(1) - hits
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, hits / union, np.nan)

    def miou(self) -> float:
        """Mean IoU over the classes with union > 0."""
        return float(np.nanmean(self.iou()))

    def pixel_accuracy(self) -> float:
        """Fraction of pixels whose predicted class is the target class."""
        self._check_counted()
        return float(np.trace(self.matrix) / self.pixels)

    def result(self) -> Dict[str, Union[float, List[float]]]:
        """``{'miou', 'pixel_accuracy', 'iou'}`` (``iou`` a list, NaN for absent classes)."""
        return {"miou": self.miou(), "pixel_accuracy": self.pixel_accuracy(), "iou": self.iou().tolist()}


def segmentation_result(pred: np.ndarray, target: np.ndarray, classes: int) -> Dict[str, Union[float, List[float]]]:
    """The :meth:`ConfusionMatrix.result` of one pair of label arrays."""
    return ConfusionMatrix(classes).update(pred, target).result()


def background_baseline(targets: np.ndarray, classes: int) -> Dict[str, float]:
    """mIoU and pixel accuracy of predicting background (class 0) everywhere: the trivial score a segmenter must
    beat (its mIoU is the background fraction divided by the number of classes present in ``targets``); negative
    targets (ignored pixels) count nowhere."""
    targets = np.asarray(targets)
    result = segmentation_result(np.zeros_like(targets), targets, classes)
    return {"miou": result["miou"], "pixel_accuracy": result["pixel_accuracy"]}
