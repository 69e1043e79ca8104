"""Losses of the recipe: softmax cross-entropy on soft targets (mixup, label smoothing) and distillation."""
from __future__ import annotations

from mxnet import gluon

__all__ = ["SoftTargetLoss", "DistillationLoss", "make_loss"]


class SoftTargetLoss(gluon.loss.Loss):
    """Cross-entropy ``-sum(target * log_softmax(pred))`` per sample, for targets given as class distributions."""

    def __init__(self, **kwargs):
        super().__init__(weight=None, batch_axis=0, **kwargs)

    def hybrid_forward(self, F, pred, target):
        return -F.sum(target * F.log_softmax(pred, axis=-1), axis=-1)


class DistillationLoss(gluon.loss.Loss):
    """Knowledge distillation (Hinton et al. 2015): ``hard_weight * CE(pred, target) + (1 - hard_weight) * T^2 *
    KL(softmax(teacher / T) || softmax(pred / T))``.

    Parameters
    ----------
    temperature : float
        Softening temperature ``T`` of both distributions.
    hard_weight : float
        Weight of the cross-entropy with the true (possibly soft) targets.
    """

    def __init__(self, temperature: float = 20.0, hard_weight: float = 0.5, **kwargs):
        super().__init__(weight=None, batch_axis=0, **kwargs)
        if temperature <= 0 or not 0.0 <= hard_weight <= 1.0:
            raise ValueError(f"need temperature > 0 and 0 <= hard_weight <= 1, got {temperature}, {hard_weight}")
        self.temperature, self.hard_weight = temperature, hard_weight

    def hybrid_forward(self, F, pred, target, teacher_logits):
        t = self.temperature
        hard = -F.sum(target * F.log_softmax(pred, axis=-1), axis=-1)
        teacher_log_prob = F.log_softmax(teacher_logits / t, axis=-1)
        soft = F.sum(F.exp(teacher_log_prob) * (teacher_log_prob - F.log_softmax(pred / t, axis=-1)), axis=-1)
        return self.hard_weight * hard + (1 - self.hard_weight) * t * t * soft


def make_loss(teacher: bool, temperature: float = 20.0, hard_weight: float = 0.5) -> gluon.loss.Loss:
    """The loss of a run: all targets reach the loss as class distributions (one-hot, smoothed or mixed)."""
    return DistillationLoss(temperature, hard_weight) if teacher else SoftTargetLoss()
