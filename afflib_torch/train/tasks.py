"""What the training loop does differently per task: the targets and per-sample losses of a batch, and the
validation pass. Classification (the default) and segmentation share everything else of the loop (log lines,
checkpoints, resume, history, plots)."""
from __future__ import annotations

import time
from typing import Callable, Iterable, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from afflib.core.metrics import EvalResult
from afflib.core.segmetrics import ConfusionMatrix
from afflib.core.training import Recipe

from .. import engine
from ..engine import RunConfig, autocast_context
from .losses import batch_targets, distillation_loss

__all__ = ["Classification", "Segmentation", "segmentation_confusion"]

Batches = Iterable[Tuple[torch.Tensor, torch.Tensor]]


class Classification:
    """Image labels: smoothing/mixup targets, soft-target cross-entropy (with an optional teacher), top-k errors."""

    name = "classification"

    def targets(self, images: torch.Tensor, labels: torch.Tensor, recipe: Recipe, epoch: int, batch: int):
        return batch_targets(images, labels, recipe, epoch, batch)

    def losses(self, logits: torch.Tensor, targets: torch.Tensor, teacher_logits: Optional[torch.Tensor],
               temperature: float, hard_weight: float) -> torch.Tensor:
        return distillation_loss(logits, targets, teacher_logits, temperature, hard_weight)

    def evaluate(self, model: nn.Module, batches: Batches, config: RunConfig,
                 progress: Optional[Callable[[int], None]] = None) -> EvalResult:
        return engine.evaluate(model, batches, config, progress)


class Segmentation:
    """Per-pixel labels (N, H, W) against logits (N, classes, H, W): cross-entropy averaged over each image's
    pixels; validation by a confusion matrix (mIoU and pixel accuracy, :mod:`afflib.core.segmetrics`)."""

    name = "segmentation"

    def __init__(self, classes: int):
        self.classes = classes

    def targets(self, images: torch.Tensor, labels: torch.Tensor, recipe: Recipe, epoch: int, batch: int):
        return images, labels, labels

    def losses(self, logits: torch.Tensor, targets: torch.Tensor, teacher_logits: Optional[torch.Tensor],
               temperature: float, hard_weight: float) -> torch.Tensor:
        if teacher_logits is not None:
            raise ValueError("distillation is not defined for segmentation runs")
        return F.cross_entropy(logits.float(), targets, reduction="none").flatten(1).mean(dim=1)

    def evaluate(self, model: nn.Module, batches: Batches, config: RunConfig,
                 progress: Optional[Callable[[int], None]] = None) -> EvalResult:
        start = time.perf_counter()
        matrix, images = segmentation_confusion(model, batches, config, self.classes, progress)
        if images == 0:
            raise ValueError("no images to evaluate")
        miou, accuracy = matrix.miou(), matrix.pixel_accuracy()
        return EvalResult(1.0 - miou, 1.0 - accuracy, images, time.perf_counter() - start,
                          {"miou": miou, "pixel_accuracy": accuracy})


def segmentation_confusion(model: nn.Module, batches: Batches, config: RunConfig, classes: int,
                           progress: Optional[Callable[[int], None]] = None) -> Tuple[ConfusionMatrix, int]:
    """The confusion matrix of ``model``'s per-pixel argmax over labelled batches (inference mode), and the number
    of images."""
    model.eval()
    matrix = ConfusionMatrix(classes)
    images_seen = 0
    with torch.inference_mode(), autocast_context(config):
        for images, masks in batches:
            images = images.to(config.device, non_blocking=True)
            if config.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            predicted = model(images).argmax(dim=1).cpu().numpy()
            matrix.update(predicted, masks.numpy())
            images_seen += len(masks)
            if progress is not None:
                progress(len(masks))
    return matrix, images_seen
