"""Targets and losses of the recipe: label smoothing, mixup with its off epochs, soft-target cross-entropy and
knowledge distillation, as the MXNet engine computes them (:mod:`afflib.data.mixup`, :mod:`afflib.train.losses`).

Mixup's ``lam ~ Beta(alpha, alpha)`` is drawn from ``numpy.random.default_rng([seed, epoch, batch])``: a pure
function of the batch's position, so a run resumed mid-epoch mixes exactly as an uninterrupted one.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from afflib.core.training import Recipe

__all__ = ["smooth_labels", "mixup_lambda", "batch_targets", "soft_target_loss", "distillation_loss"]


def smooth_labels(labels: torch.Tensor, classes: int, eta: float = 0.0) -> torch.Tensor:
    """One-hot rows with label smoothing: ``1 - eta + eta/classes`` at the label, ``eta/classes`` elsewhere."""
    if not 0.0 <= eta < 1.0:
        raise ValueError(f"label smoothing eta must be in [0, 1), got {eta}")
    off = eta / classes
    targets = torch.full((labels.shape[0], classes), off, dtype=torch.float32, device=labels.device)
    return targets.scatter_(1, labels.view(-1, 1), 1.0 - eta + off)


def mixup_lambda(alpha: float, seed: int, epoch: int, batch: int) -> float:
    """The mixing weight of batch ``batch`` of ``epoch``: ``Beta(alpha, alpha)`` from ``default_rng([seed, epoch,
    batch])``."""
    if alpha <= 0:
        raise ValueError(f"mixup alpha must be > 0, got {alpha}")
    return float(np.random.default_rng([seed, epoch, batch]).beta(alpha, alpha))


def batch_targets(images: torch.Tensor, labels: torch.Tensor, recipe: Recipe, epoch: int,
                  batch: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(inputs, class-distribution targets, labels scored for accuracy) of one batch.

    With mixup active (:meth:`Recipe.mixup_active`) row ``i`` is mixed with row ``N - 1 - i``:
    ``lam * x + (1 - lam) * x[::-1]``, targets likewise, and accuracy counts the dominant label.
    """
    targets = smooth_labels(labels, recipe.classes, recipe.label_smoothing)
    if not recipe.mixup_active(epoch):
        return images, targets, labels
    lam = mixup_lambda(recipe.mixup_alpha, recipe.seed, epoch, batch)
    mixed = lam * images + (1.0 - lam) * images.flip(0)
    targets = lam * targets + (1.0 - lam) * targets.flip(0)
    return mixed, targets, (labels if lam >= 0.5 else labels.flip(0))


def soft_target_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy ``-sum(target * log_softmax(logits))`` on class-distribution targets (float32)."""
    return -(targets * F.log_softmax(logits.float(), dim=-1)).sum(dim=-1)


def distillation_loss(logits: torch.Tensor, targets: torch.Tensor, teacher_logits: Optional[torch.Tensor],
                      temperature: float = 20.0, hard_weight: float = 0.5) -> torch.Tensor:
    """Per-sample knowledge distillation (Hinton et al. 2015) as the MXNet engine's ``DistillationLoss``:
    ``hard_weight * CE(logits, targets) + (1 - hard_weight) * T^2 * KL(softmax(teacher/T) || softmax(logits/T))``;
    without a teacher the soft-target cross-entropy alone."""
    hard = soft_target_loss(logits, targets)
    if teacher_logits is None:
        return hard
    if temperature <= 0 or not 0.0 <= hard_weight <= 1.0:
        raise ValueError(f"need temperature > 0 and 0 <= hard_weight <= 1, got {temperature}, {hard_weight}")
    t = temperature
    teacher_log_prob = F.log_softmax(teacher_logits.float() / t, dim=-1)
    soft = (teacher_log_prob.exp() * (teacher_log_prob - F.log_softmax(logits.float() / t, dim=-1))).sum(dim=-1)
    return hard_weight * hard + (1 - hard_weight) * t * t * soft
