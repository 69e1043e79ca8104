"""Label smoothing and mixup with soft targets, as in the GluonCV ImageNet recipe the paper trained with.

Both return dense (N, classes) target distributions for a soft-target cross-entropy
(``gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=False)``).
"""
from __future__ import annotations

import random
from typing import Tuple, Union

import mxnet as mx
import numpy as np

__all__ = ["smooth_labels", "mixup", "sample_lambda"]

RandomSource = Union[random.Random, np.random.Generator, np.random.RandomState]


def smooth_labels(label: mx.nd.NDArray, classes: int, eta: float = 0.0) -> mx.nd.NDArray:
    """One-hot targets with label smoothing.

    Row ``i`` is ``1 - eta + eta/classes`` at column ``label[i]`` and ``eta/classes`` everywhere else, so every row
    sums to 1 (``eta=0`` gives plain one-hot; ``eta=0.1`` is the recipe's smoothing).
    """
    if not 0.0 <= eta < 1.0:
        raise ValueError(f"label smoothing eta must be in [0, 1), got {eta}")
    if classes < 1:
        raise ValueError(f"classes must be >= 1, got {classes}")
    off_value = eta / classes
    return mx.nd.one_hot(label.reshape((-1,)), classes, on_value=1.0 - eta + off_value, off_value=off_value)


def sample_lambda(alpha: float, rng: RandomSource) -> float:
    """Draw the mixing weight ``lam ~ Beta(alpha, alpha)`` from ``rng`` (random.Random or a numpy generator)."""
    if alpha <= 0:
        raise ValueError(f"mixup alpha must be > 0, got {alpha}")
    if isinstance(rng, random.Random):
        return float(rng.betavariate(alpha, alpha))
    return float(rng.beta(alpha, alpha))


def mixup(data: mx.nd.NDArray, label: mx.nd.NDArray, classes: int, alpha: float, eta: float,
          rng: RandomSource) -> Tuple[mx.nd.NDArray, mx.nd.NDArray, float]:
    """Mix a batch with itself in reverse order.

    With ``lam ~ Beta(alpha, alpha)`` drawn once per batch from ``rng``::

        mixed_data   = lam * data + (1 - lam) * data[::-1]
        soft_targets = lam * smooth(label) + (1 - lam) * smooth(label[::-1])

    where ``smooth`` is :func:`smooth_labels` with ``eta`` (on-value ``1 - eta + eta/classes``, off-value
    ``eta/classes``). Row ``i`` is paired with row ``N - 1 - i``; the middle row of an odd batch pairs with itself.

    Returns
    -------
    (mixed_data, soft_targets, lam)
    """
    lam = sample_lambda(alpha, rng)
    label = label.reshape((-1,))
    mixed = lam * data + (1.0 - lam) * data[::-1]
    targets = lam * smooth_labels(label, classes, eta) + (1.0 - lam) * smooth_labels(label[::-1], classes, eta)
    return mixed, targets, lam
