"""Build a network and make it ready to run, in one place: build, load, cast, hybridize.

Training (its network and a distillation teacher), evaluation, prediction, export and Grad-CAM all start from a
registry model with released weights, a ``.params`` file or fresh initialisation; :func:`build_net` and
:func:`ready_net` are the one way they do it.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import mxnet as mx
from mxnet import gluon

from afflib.core.modelspec import ModelSpec
from afflib.model_zoo.registry import get_model

from .params_check import load_checked

__all__ = ["ready_net", "build_net"]

Contexts = Union[mx.Context, Sequence[mx.Context]]


def ready_net(net: gluon.HybridBlock, ctx: Contexts, params: Optional[str] = None, pretrained: bool = False,
              init: Optional[mx.init.Initializer] = None, dtype: str = "float32", hybridize: bool = True,
              static_shape: bool = True, model_name: str = "the model") -> gluon.HybridBlock:
    """Put the weights of ``net`` on ``ctx`` and make it ready to run; returns ``net``.

    ``pretrained``: ``net`` already holds released weights, only moved; else ``init`` (if given) initialises it.
    ``params`` is then loaded over them after a fit check (:func:`afflib.train.load_checked`). The network is cast
    to ``dtype`` and, if ``hybridize``, hybridized with static memory (``static_shape=False`` for varying batches).
    """
    contexts = [ctx] if isinstance(ctx, mx.Context) else list(ctx)
    if pretrained:
        net.collect_params().reset_ctx(contexts)
    elif init is not None:
        net.initialize(init, ctx=contexts)
    if params:
        load_checked(net, str(params), ctx=contexts, model_name=model_name)
    if dtype != "float32":
        net.cast(dtype)
    if hybridize:
        net.hybridize(static_alloc=True, static_shape=static_shape)
    return net


def build_net(model: Union[str, ModelSpec], ctx: Contexts, params: Optional[str] = None, pretrained: bool = False,
              init: Optional[mx.init.Initializer] = None, dtype: str = "float32", hybridize: bool = True,
              static_shape: bool = True, **kwargs: Any) -> gluon.HybridBlock:
    """``afflib.get_model(model, pretrained=..., **kwargs)`` (a registry name, spec text or :class:`ModelSpec`),
    made ready by :func:`ready_net`; errors about ``params`` name the model as given."""
    model = model.text() if isinstance(model, ModelSpec) else model.strip()
    net = get_model(model, pretrained=pretrained, **kwargs)
    return ready_net(net, ctx, params, pretrained, init, dtype, hybridize, static_shape, model_name=model)
