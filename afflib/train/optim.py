"""The optimizers of the paper's recipes: SGD with Nesterov momentum (classification; weight decay off on biases
and BN if asked) and AdaGrad (segmentation)."""
from __future__ import annotations

from typing import Any

from mxnet import gluon

__all__ = ["make_trainer", "disable_weight_decay_on_bias_and_bn"]


def disable_weight_decay_on_bias_and_bn(net: gluon.Block) -> int:
    """Set ``wd_mult = 0`` on every bias and BatchNorm gamma/beta of ``net`` (``--no-wd``); returns their count."""
    params = net.collect_params(".*beta|.*gamma|.*bias")
    for param in params.values():
        param.wd_mult = 0.0
    return len(list(params.keys()))


def make_trainer(net: gluon.Block, lr: float, momentum: float = 0.9, wd: float = 1e-4, no_wd: bool = False,
                 dtype: str = "float32", optimizer: str = "nag", kvstore: Any = "local") -> gluon.Trainer:
    """A Gluon Trainer for ``net``; float16 runs keep float32 master weights (``multi_precision``).

    The learning rate is set by the training loop before every update (see :class:`afflib.train.LRSchedule`).
    ``optimizer``: any MXNet optimizer name; ``nag``/``sgd`` take ``momentum``, ``adagrad`` (the segmentation
    recipe of the paper) keeps MXNet's eps 1e-7.
    """
    if no_wd:
        disable_weight_decay_on_bias_and_bn(net)
    params = {"learning_rate": lr, "wd": wd}
    if optimizer in ("nag", "sgd"):
        params["momentum"] = momentum
    if dtype == "float16":
        params["multi_precision"] = True
    return gluon.Trainer(net.collect_params(), optimizer, params, kvstore=kvstore)
