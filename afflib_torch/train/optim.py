"""The optimizer of the paper's recipe: SGD with Nesterov momentum, weight decay off on biases and BatchNorm
gamma/beta with ``--no-wd``, and the learning rate of every update from the core's schedule.

PyTorch's Nesterov SGD (``dampening=0``) performs MXNet's ``nag`` update exactly: ``g += wd * w``,
``m = momentum * m + g``, ``w -= lr * (g + momentum * m)``. Which tensors are biases or gamma/beta is read from
their MXNet names (:func:`afflib_torch.convert.name_map`), so ``--no-wd`` selects exactly MXNet's set.
"""
from __future__ import annotations

import re
from typing import Dict, List

import torch
from torch import nn

from afflib.core.schedule import LRSchedule

from ..convert import name_map

__all__ = ["NO_WD_PATTERN", "parameter_groups", "make_optimizer", "set_learning_rate"]

#: the MXNet engine's ``--no-wd`` selection (``net.collect_params(".*beta|.*gamma|.*bias")``)
NO_WD_PATTERN = re.compile(r".*beta|.*gamma|.*bias")


def parameter_groups(model: nn.Module, wd: float, no_wd: bool) -> List[Dict]:
    """The trainable parameters of ``model`` in one group with ``wd``, or, with ``no_wd``, two: biases and
    BatchNorm gamma/beta (MXNet names) without decay, the rest with ``wd``."""
    names = name_map(model)
    decay, plain = [], []
    for key, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (plain if no_wd and NO_WD_PATTERN.match(names.get(key, key)) else decay).append(param)
    groups = [{"params": decay, "weight_decay": wd}]
    if plain:
        groups.append({"params": plain, "weight_decay": 0.0})
    return groups


def make_optimizer(model: nn.Module, lr: float, momentum: float = 0.9, wd: float = 1e-4,
                   no_wd: bool = False, kind: str = "nag") -> torch.optim.Optimizer:
    """The optimizer over ``model``'s parameters (:func:`parameter_groups`); the learning rate is set before every
    update by :func:`set_learning_rate`.

    ``nag``: SGD with Nesterov momentum (``momentum`` 0 gives plain SGD); ``sgd``: heavy-ball momentum;
    ``adagrad``: AdaGrad as the segmentation recipe of the paper (eps 1e-7, MXNet's; PyTorch adds it outside the
    square root and the weight decay to the gradient, MXNet inside and after: equal without weight decay up to eps).
    """
    groups = parameter_groups(model, wd, no_wd)
    if kind == "adagrad":
        return torch.optim.Adagrad(groups, lr=lr, eps=1e-7)
    if kind not in ("nag", "sgd"):
        raise ValueError(f"optimizer must be nag, sgd or adagrad, got {kind!r}")
    return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=kind == "nag" and momentum > 0)


def set_learning_rate(optimizer: torch.optim.Optimizer, schedule: LRSchedule, update: int) -> float:
    """Set the rate of optimizer update ``update`` (1 = the first update of training) on every group; returns it.
    A pure function of the update number, so a resumed run continues exactly."""
    lr = schedule(update)
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr
