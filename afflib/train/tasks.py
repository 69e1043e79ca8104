"""What the MXNet training loop does differently per task: a batch's inputs and targets, the loss, the training
accuracy meter and the validation pass. Classification (the default) and segmentation share everything else of
the loop (log lines, checkpoints, resume, history, plots); the PyTorch engine's twin is
:mod:`afflib_torch.train.tasks`."""
from __future__ import annotations

import time
from typing import Callable, Iterable, Optional, Sequence, Tuple

import mxnet as mx
import numpy as np
from mxnet import gluon

from afflib.core.metrics import EvalResult, RunningLoss, TopKErrors
from afflib.core.segmetrics import ConfusionMatrix
from afflib.core.training import Recipe

from .devices import split_batch
from .logs import progress_bar
from .losses import make_loss

__all__ = ["Classification", "Segmentation", "PixelMeter", "PixelCrossEntropy", "predicted_masks",
           "segmentation_confusion"]


class Classification:
    """Image labels: smoothing/mixup targets as class distributions, soft-target cross-entropy (with an optional
    teacher), top-1/top-5 errors."""

    name = "classification"

    def targets(self, data: mx.nd.NDArray, label: mx.nd.NDArray, recipe: Recipe, epoch: int,
                rng: np.random.RandomState):
        """Inputs and class-distribution targets of one batch (mixup, label smoothing); labels for accuracy."""
        from afflib.data.mixup import mixup, smooth_labels
        if recipe.mixup_active(epoch):
            data, targets, lam = mixup(data, label, recipe.classes, recipe.mixup_alpha, recipe.label_smoothing, rng)
            dominant = label if lam >= 0.5 else label[::-1]
            return data, targets, dominant
        return data, smooth_labels(label, recipe.classes, recipe.label_smoothing), label

    def drop_padding(self, targets: mx.nd.NDArray, real: int, pad: int) -> mx.nd.NDArray:
        """Targets whose filler rows (they repeat real samples to keep shapes static) weigh nothing."""
        mask = mx.nd.array([1.0] * real + [0.0] * pad, ctx=targets.context)
        return targets * mask.reshape((-1, 1))

    def loss(self, teacher: bool, temperature: float = 20.0, hard_weight: float = 0.5) -> gluon.loss.Loss:
        return make_loss(teacher, temperature, hard_weight)

    def meter(self) -> RunningLoss:
        """The training meter: mean loss and accuracy per image."""
        return RunningLoss()

    def evaluate(self, net: gluon.Block, source: Iterable, contexts: Sequence[mx.Context], dtype: str = "float32",
                 show_progress: bool = False) -> EvalResult:
        """Top-1/top-5 error of ``net`` over one pass of ``source`` (filler rows dropped)."""
        meter = TopKErrors((1, 5))
        tic = time.time()
        bar = progress_bar(len(source), "validation", show_progress)
        try:
            for batch in source:
                real = batch.data.shape[0] - int(batch.pad)
                outputs = [net(x.astype(dtype, copy=False)) for x in split_batch(batch.data, contexts)]
                logits = np.concatenate([o.astype("float32").asnumpy() for o in outputs])[:real]
                meter.update(logits, batch.label.asnumpy()[:real])
                bar.update(1)
        finally:
            bar.close()
        return meter.result(time.time() - tic)


class PixelCrossEntropy(gluon.loss.Loss):
    """Softmax cross-entropy of logits (N, classes, H, W) against masks (N, H, W), averaged over each image's
    labelled pixels: negative labels (GluonCV's ignore label -1) weigh nothing; an image without one gives 0.
    Equal to ``SoftmaxCrossEntropyLoss(axis=1)`` when every pixel is labelled."""

    def __init__(self, **kwargs):
        super().__init__(None, 0, **kwargs)

    def hybrid_forward(self, F, pred, label):
        valid = label >= 0
        logp = F.log_softmax(pred, axis=1)
        picked = F.pick(logp, F.relu(label), axis=1)   # ignored pixels pick class 0, then weigh nothing
        total = F.sum(-picked * valid, axis=0, exclude=True)
        return total / F.maximum(F.sum(valid, axis=0, exclude=True), 1.0)


class PixelMeter:
    """Mean per-image loss and pixel accuracy of the training batches of an epoch (the interface of
    :class:`afflib.core.metrics.RunningLoss`); pixels with a negative label (ignored) do not count."""

    def __init__(self):
        self.total, self.correct, self.count, self.pixels = 0.0, 0, 0, 0

    def update(self, losses: np.ndarray, logits: np.ndarray, labels: np.ndarray) -> None:
        labels = np.asarray(labels)
        valid = labels >= 0
        self.total += float(np.sum(losses))
        self.correct += int(((np.argmax(logits, axis=1) == labels) & valid).sum())
        self.count += int(np.asarray(losses).shape[0])
        self.pixels += int(valid.sum())

    def get(self) -> Tuple[float, float]:
        """(mean loss per image, pixel accuracy)."""
        if not self.count:
            return float("nan"), float("nan")
        return self.total / self.count, (self.correct / self.pixels if self.pixels else float("nan"))


class Segmentation:
    """Per-pixel labels (N, H, W) against logits (N, classes, H, W): softmax cross-entropy averaged over each
    image's labelled pixels (:class:`PixelCrossEntropy`; label -1 is ignored everywhere), pixel accuracy while
    training, and validation by a confusion matrix (mIoU and pixel accuracy, :mod:`afflib.core.segmetrics`)
    returned as ``EvalResult(1 - mIoU, 1 - pixel accuracy, ...)``."""

    name = "segmentation"

    def __init__(self, classes: int):
        if int(classes) != classes or classes < 2:
            raise ValueError(f"classes must be an integer >= 2, got {classes!r}")
        self.classes = int(classes)

    def targets(self, data: mx.nd.NDArray, label: mx.nd.NDArray, recipe: Recipe, epoch: int,
                rng: np.random.RandomState):
        return data, label, label

    def drop_padding(self, targets: mx.nd.NDArray, real: int, pad: int) -> mx.nd.NDArray:
        raise ValueError(f"a segmentation training batch came with {pad} filler rows; the scene batches of "
                         f"afflib.train.segdata train on full batches only")

    def loss(self, teacher: bool, temperature: float = 20.0, hard_weight: float = 0.5) -> gluon.loss.Loss:
        if teacher:
            raise ValueError("distillation is not defined for segmentation runs")
        return PixelCrossEntropy()

    def meter(self) -> PixelMeter:
        return PixelMeter()

    def evaluate(self, net: gluon.Block, source: Iterable, contexts: Sequence[mx.Context], dtype: str = "float32",
                 show_progress: bool = False) -> EvalResult:
        """mIoU and pixel accuracy of ``net`` over one pass of ``source`` (filler rows dropped)."""
        tic = time.time()
        bar = progress_bar(len(source), "validation", show_progress)
        try:
            matrix, images = segmentation_confusion(net, source, contexts, self.classes, dtype,
                                                    lambda: bar.update(1))
        finally:
            bar.close()
        if images == 0:
            raise ValueError("no images to evaluate")
        miou, accuracy = matrix.miou(), matrix.pixel_accuracy()
        return EvalResult(1.0 - miou, 1.0 - accuracy, images, time.time() - tic,
                          {"miou": miou, "pixel_accuracy": accuracy})


def predicted_masks(net: gluon.Block, data: mx.nd.NDArray, contexts: Sequence[mx.Context],
                    dtype: str = "float32") -> np.ndarray:
    """The per-pixel argmax (N, H, W) int64 of ``net`` on a batch, split over ``contexts``."""
    outputs = [net(x.astype(dtype, copy=False)).argmax(axis=1) for x in split_batch(data, contexts)]
    return np.concatenate([o.asnumpy() for o in outputs]).astype(np.int64)


def segmentation_confusion(net: gluon.Block, source: Iterable, contexts: Sequence[mx.Context], classes: int,
                           dtype: str = "float32", progress: Optional[Callable[[], None]] = None
                           ) -> Tuple[ConfusionMatrix, int]:
    """The confusion matrix of ``net``'s per-pixel argmax over the labelled batches of ``source``, and the number
    of images (filler rows dropped)."""
    matrix = ConfusionMatrix(classes)
    images = 0
    for batch in source:
        real = batch.data.shape[0] - int(batch.pad)
        predicted = predicted_masks(net, batch.data, contexts, dtype)[:real]
        matrix.update(predicted, batch.label.asnumpy()[:real].astype(np.int64))
        images += real
        if progress is not None:
            progress()
    return matrix, images
