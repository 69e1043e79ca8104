"""Faster CPU inference for trained networks: oneDNN graph fusion and INT8 quantization with calibration.

Both paths work on an exported copy of the network (a ``SymbolBlock``), so the original keeps its
parameters, their released names and its own hybridization; the copy is for inference only.
"""
from __future__ import annotations

import logging
import os
import tempfile
import warnings
from typing import Iterable, Optional, Sequence, Union

import mxnet as mx
from mxnet.gluon import HybridBlock, SymbolBlock

__all__ = ["OPTIMIZE_MODES", "optimize_for_inference", "inference_copy"]

OPTIMIZE_MODES = ("fuse", "int8")
CALIB_MODES = ("naive", "entropy")
# Kept in float32 when quantizing: MXNet 1.9.1's quantized FullyConnected rejects the uint8 input the
# global-mean GEMV (FullyConnected with flatten=False) gets after a ReLU; the classifier is cheap anyway.
FLOAT32_OPERATORS = ("FullyConnected", "_sg_mkldnn_fully_connected")


def inference_copy(net: HybridBlock, example_input: mx.nd.NDArray) -> SymbolBlock:
    """An independent ``SymbolBlock`` copy of ``net`` (graph + parameter values) for input like ``example_input``."""
    net.hybridize()
    net(example_input)
    with tempfile.TemporaryDirectory() as folder:
        prefix = os.path.join(folder, "net")
        net.export(prefix, epoch=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            copy = SymbolBlock.imports(prefix + "-symbol.json", ["data"], prefix + "-0000.params",
                                       ctx=example_input.context)
    return copy


def _calibration_iter(calib_data, batch_size: int, limit: Optional[int]) -> mx.io.NDArrayIter:
    arrays = []
    for item in calib_data:
        data = item.data if hasattr(item, "data") else item
        if isinstance(data, (list, tuple)):
            data = data[0]
        arrays.append(data.as_in_context(mx.cpu()))
        if limit is not None and sum(a.shape[0] for a in arrays) >= limit:
            break
    if not arrays:
        raise ValueError("calib_data gave no batches: INT8 calibration needs representative input images")
    data = mx.nd.concat(*arrays, dim=0)
    if limit is not None:
        data = data[:limit]
    return mx.io.NDArrayIter(data, batch_size=min(batch_size, data.shape[0]), last_batch_handle="discard")


def optimize_for_inference(net: HybridBlock, example_input: mx.nd.NDArray, mode: str = "fuse",
                           calib_data: Optional[Iterable[Union[mx.nd.NDArray, Sequence]]] = None,
                           calib_mode: str = "naive", num_calib_examples: Optional[int] = None,
                           calib_batch_size: int = 8, exclude_operators: Optional[Sequence[str]] = None) -> SymbolBlock:
    """An inference-only copy of ``net`` optimised for the CPU.

    Parameters
    ----------
    net : HybridBlock
        A trained (initialised) network; it is not modified.
    example_input : NDArray
        An input of the shape inference will use (static shapes are assumed).
    mode : str
        ``'fuse'``: oneDNN graph fusion (conv+BN+ReLU+sum) via ``optimize_for(backend='MKLDNN')``, float32
        results within ~1e-5. ``'int8'``: post-training INT8 quantization with calibration, then fusion.
    calib_data : iterable of NDArray batches (or DataBatch / (data, label) tuples)
        Representative inputs for the INT8 ranges (required for ``'int8'``).
    calib_mode : str
        ``'naive'`` (min/max of the calibration outputs) or ``'entropy'`` (KL-optimal thresholds).
    num_calib_examples : int, optional
        Use at most this many calibration images.
    calib_batch_size : int
        Batch size of the calibration passes; MXNet keeps every layer's output of a pass in memory (about
        0.5 GB per image for a ResNet-50 at 224x224), so keep it small.
    exclude_operators : sequence of str, optional
        Operator names to keep in float32 when quantizing, besides :data:`FLOAT32_OPERATORS`.
    """
    if mode not in OPTIMIZE_MODES:
        raise ValueError(f"mode must be one of {OPTIMIZE_MODES}, got {mode!r}")
    if example_input.context.device_type != "cpu":
        raise ValueError(f"optimize_for_inference targets the CPU (oneDNN); the input is on {example_input.context}")
    copy = inference_copy(net, example_input)
    if mode == "fuse":
        copy.optimize_for(example_input, backend="MKLDNN", static_alloc=True, static_shape=True)
        return copy
    if calib_mode not in CALIB_MODES:
        raise ValueError(f"calib_mode must be one of {CALIB_MODES}, got {calib_mode!r}")
    if calib_data is None:
        raise ValueError("mode='int8' needs calib_data: batches of representative input images")
    from mxnet.contrib.quantization import quantize_net
    calib_iter = _calibration_iter(calib_data, calib_batch_size, num_calib_examples)
    quiet = logging.getLogger("afflib.inference.quantize")
    quiet.setLevel(logging.WARNING)
    excluded = [*FLOAT32_OPERATORS, *(exclude_operators or [])]
    quantized = quantize_net(copy, quantized_dtype="auto", quantize_mode="smart", calib_mode=calib_mode,
                             calib_data=calib_iter, num_calib_examples=num_calib_examples,
                             exclude_operators=excluded, ctx=mx.cpu(), logger=quiet)
    quantized.hybridize(static_alloc=True, static_shape=True)
    return quantized
