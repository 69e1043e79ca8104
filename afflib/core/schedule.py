"""Learning-rate schedules stepped per iteration: linear warmup, then cosine, step or poly decay.

The values follow GluonCV's ``LRSequential([LRScheduler('linear', ...), LRScheduler(mode, ...)])``: the rate of
optimizer update ``n`` (1-based) is a pure function of ``n``, so resuming at epoch ``e`` continues exactly with
``n = e * iters_per_epoch + 1``.
"""
from __future__ import annotations

import math
from typing import List, Sequence

__all__ = ["LRSchedule", "MODES"]

MODES = ("cosine", "step", "poly", "linear", "constant")


class LRSchedule:
    """Warmup from ``warmup_lr`` to ``base_lr`` over ``warmup_epochs``, then ``mode`` decay until ``num_epochs``.

    Parameters
    ----------
    mode : str
        ``cosine`` / ``poly`` / ``linear`` decay to ``target_lr``; ``step`` multiplies by ``step_factor`` at each
        epoch of ``step_epochs`` (absolute epoch numbers, counted from the start of training, warmup included),
        or every ``step_period`` epochs if that is > 0; ``constant`` keeps ``base_lr``.
    base_lr, target_lr, warmup_lr : float
    num_epochs, warmup_epochs, iters_per_epoch : int
    power : float
        Exponent of ``poly`` (GluonCV's train_imagenet uses 2).
    """

    def __init__(self, mode: str, base_lr: float, num_epochs: int, iters_per_epoch: int, warmup_epochs: int = 0,
                 warmup_lr: float = 0.0, target_lr: float = 0.0, step_epochs: Sequence[int] = (),
                 step_factor: float = 0.1, step_period: int = 0, power: float = 2.0):
        if mode not in MODES:
            raise ValueError(f"unknown learning-rate mode {mode!r}; valid: {', '.join(MODES)}")
        if iters_per_epoch < 1:
            raise ValueError(f"iters_per_epoch must be >= 1, got {iters_per_epoch}")
        if not 0 <= warmup_epochs <= num_epochs:
            raise ValueError(f"warmup epochs ({warmup_epochs}) must be between 0 and num_epochs ({num_epochs})")
        self.mode, self.base_lr, self.target_lr, self.warmup_lr = mode, base_lr, target_lr, warmup_lr
        self.iters_per_epoch = iters_per_epoch
        self.warmup_iters = warmup_epochs * iters_per_epoch
        self.total_iters = num_epochs * iters_per_epoch
        self.power, self.step_factor = power, step_factor
        if step_period > 0:
            self.step_iters: List[int] = [e * iters_per_epoch for e in range(step_period, num_epochs, step_period)]
        else:
            self.step_iters = sorted(int(e) * iters_per_epoch for e in step_epochs)

    def __call__(self, num_update: int) -> float:
        """Learning rate of optimizer update ``num_update`` (1 = first update of training)."""
        if num_update <= self.warmup_iters:
            return self._ramp(self.warmup_lr, self.base_lr, num_update, self.warmup_iters, 1.0)
        if self.mode == "constant":
            return self.base_lr
        if self.mode == "step":
            return self.base_lr * self.step_factor ** sum(1 for s in self.step_iters if s < num_update)
        span = self.total_iters - self.warmup_iters
        done = num_update - self.warmup_iters
        if self.mode == "cosine":
            factor = (1 + math.cos(math.pi * min(done, span) / max(span, 1))) / 2
            return self.target_lr + (self.base_lr - self.target_lr) * factor
        return self._ramp(self.base_lr, self.target_lr, done, span, self.power if self.mode == "poly" else 1.0)

    @staticmethod
    def _ramp(start: float, end: float, done: int, span: int, power: float) -> float:
        progress = min(max(done, 0), span) / max(span, 1)
        return end + (start - end) * (1 - progress) ** power if power != 1.0 else start + (end - start) * progress

    def epoch_values(self, epoch: int) -> List[float]:
        """The rates of every update of ``epoch`` (0-based); handy for plots and tests."""
        first = epoch * self.iters_per_epoch + 1
        return [self(n) for n in range(first, first + self.iters_per_epoch)]
