"""Metrics of the loop: top-k error over samples (padding rows dropped by the caller), the evaluation result both
engines return, and a running loss."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Sequence, Tuple

import numpy as np

__all__ = ["TopKErrors", "EvalResult", "RunningLoss"]


@dataclass
class EvalResult:
    """Top-1/top-5 error over ``samples`` validation images, and the seconds of the whole pass (data included).

    A segmentation pass puts ``1 - mIoU`` and ``1 - pixel accuracy`` in the two errors (what the best checkpoint
    and the curves follow) and its own numbers in ``metrics`` (``miou``, ``pixel_accuracy``).
    """

    top1_error: float
    top5_error: float
    samples: int
    seconds: float
    metrics: Dict[str, float] = field(default_factory=dict)

    @property
    def images_per_s(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else float("nan")

    @property
    def images_per_sec(self) -> float:
        """Alias of :attr:`images_per_s` (the MXNet engine's name)."""
        return self.images_per_s


class TopKErrors:
    """Top-1 / top-k error rates accumulated over batches of logits and integer labels."""

    def __init__(self, ks: Sequence[int] = (1, 5)):
        self.ks = tuple(ks)
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.wrong = {k: 0 for k in self.ks}

    def update(self, logits: np.ndarray, labels: np.ndarray) -> None:
        logits = np.asarray(logits, dtype=np.float32)
        labels = np.asarray(labels).astype(np.int64).reshape(-1)
        if logits.shape[0] != labels.shape[0]:
            raise ValueError(f"{logits.shape[0]} predictions for {labels.shape[0]} labels")
        order = np.argsort(-logits, axis=1)
        for k in self.ks:
            hit = (order[:, :min(k, logits.shape[1])] == labels[:, None]).any(axis=1)
            self.wrong[k] += int((~hit).sum())
        self.count += labels.shape[0]

    def errors(self) -> Dict[int, float]:
        """{k: error rate}; NaN before any update."""
        return {k: (self.wrong[k] / self.count if self.count else float("nan")) for k in self.ks}

    def result(self, seconds: float) -> EvalResult:
        """The top-1/top-5 :class:`EvalResult` of the samples so far, which took ``seconds``."""
        errors = self.errors()
        return EvalResult(errors[1], errors[5], self.count, seconds)


class RunningLoss:
    """Mean loss and accuracy of the training samples seen so far in an epoch."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.total, self.correct, self.count = 0.0, 0, 0

    def update(self, losses: np.ndarray, logits: np.ndarray, labels: np.ndarray) -> None:
        self.total += float(np.sum(losses))
        self.correct += int((np.argmax(logits, axis=1) == np.asarray(labels).reshape(-1)).sum())
        self.count += int(np.asarray(losses).shape[0])

    def get(self) -> Tuple[float, float]:
        """(mean loss, accuracy)."""
        if not self.count:
            return float("nan"), float("nan")
        return self.total / self.count, self.correct / self.count
