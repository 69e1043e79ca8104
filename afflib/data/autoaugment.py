"""AutoAugment for the MXNet engine: the core's policies and PIL operations (:mod:`afflib.core.autoaugment`), also
taking ``mx.nd.NDArray`` images."""
from __future__ import annotations

import mxnet as mx
import numpy as np

from afflib.core import autoaugment as _core
from afflib.core.autoaugment import (CIFAR10_POLICY, FILL, IMAGENET_POLICY, MAX_TRANSLATE, OPERATIONS, POLICIES,
                                     apply_operation)

__all__ = ["AutoAugment", "OPERATIONS", "POLICIES", "IMAGENET_POLICY", "CIFAR10_POLICY", "apply_operation",
           "FILL", "MAX_TRANSLATE"]


class AutoAugment(_core.AutoAugment):
    """:class:`afflib.core.autoaugment.AutoAugment`; an ``mx.nd.NDArray`` image gives an NDArray (uint8) back."""

    def __call__(self, image, rng=None):
        if isinstance(image, mx.nd.NDArray):
            return mx.nd.array(super().__call__(image.asnumpy(), rng), dtype=np.uint8)
        return super().__call__(image, rng)
