"""Export a hybridized network as MXNet symbol + params files or as ONNX, and check the exported file with
its runtime (``SymbolBlock.imports`` / onnxruntime) against the network on random input.

ONNX goes through MXNet 1.9.1's converter (``mxnet.onnx``) at opset 13, the newest it translates for. onnx
1.13+ defaults to newer opsets, where ``ReduceMean`` (our ``GlobalMean``) takes its axes as an input, and its
checker validates the converter's graph at the installed default opset; both are pinned to 13 here. The
runtimes are the optional extra ``pip install afflib[onnx]`` (onnx <= 1.18: 1.19 removed ``onnx.mapping``).
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Sequence, Tuple, Union

import mxnet as mx
import numpy as np
from mxnet.gluon import HybridBlock

from afflib.core.fileio import atomic_write

__all__ = ["ONNX_OPSET", "ExportCheck", "export_mxnet", "export_onnx", "check_mxnet_export", "check_onnx_export"]

ONNX_OPSET = 13
ONNX_IR_VERSION = 7     # the IR version of opset 13; onnxruntime refuses IR versions newer than it knows
INPUT_NAME = "data"


@dataclass
class ExportCheck:
    """Largest absolute difference between the exported model and the network for one batch size."""

    batch: int
    max_abs_diff: float
    max_abs_output: float

    @property
    def relative(self) -> float:
        return self.max_abs_diff / max(self.max_abs_output, 1e-12)


def _traced(net: HybridBlock, input_shape: Sequence[int]) -> None:
    net.hybridize(static_alloc=True, static_shape=False)
    net(mx.nd.zeros(tuple(input_shape)))


def export_mxnet(net: HybridBlock, prefix: Union[str, Path], input_shape: Sequence[int]) -> Tuple[Path, Path]:
    """Write ``prefix-symbol.json`` and ``prefix-0000.params`` (``HybridBlock.export``); the symbol takes any
    batch size. Returns both paths."""
    prefix = Path(prefix)
    _traced(net, input_shape)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".export-", dir=prefix.parent) as work:
        net.export(os.path.join(work, "net"), epoch=0)
        outputs = []
        for suffix in ("-symbol.json", "-0000.params"):
            target = Path(f"{prefix}{suffix}")
            os.replace(os.path.join(work, "net" + suffix), target)
            outputs.append(target)
    return outputs[0], outputs[1]


@contextlib.contextmanager
def _checker_at_opset(opset: int) -> Iterator[None]:
    # MXNet's converter calls onnx.checker.check_graph with onnx's default context (the newest opset).
    from onnx import checker
    saved = dict(checker.DEFAULT_CONTEXT.opset_imports)
    checker.DEFAULT_CONTEXT.opset_imports = {"": opset}
    try:
        yield
    finally:
        checker.DEFAULT_CONTEXT.opset_imports = saved


def _fixed_gammas(symbol: mx.sym.Symbol) -> List[str]:
    """Gamma inputs of BatchNorm nodes with ``fix_gamma`` (``BatchNorm(scale=False)``): MXNet uses 1 for them
    whatever the stored value, the ONNX converter uses the stored value."""
    nodes = json.loads(symbol.tojson())["nodes"]
    return [nodes[node["inputs"][1][0]]["name"] for node in nodes
            if node["op"] == "BatchNorm" and node.get("attrs", {}).get("fix_gamma", "True") == "True"]


def _require_onnx():
    try:
        import onnx  # noqa: F401
    except ImportError as err:
        raise ImportError("ONNX export needs the onnx package: pip install 'afflib[onnx]' (onnx<=1.18, "
                          "onnxruntime)") from err
    from mxnet.onnx.mx2onnx._export_onnx import MXNetGraph
    return MXNetGraph


def export_onnx(net: HybridBlock, path: Union[str, Path], input_shape: Sequence[int],
                dynamic_batch: bool = True) -> Path:
    """Write ``net`` as an ONNX file (opset 13) for inputs of ``input_shape`` (N, C, H, W); with
    ``dynamic_batch`` the batch dimension is free. Weights are initializers, not graph inputs."""
    import onnx
    from onnx import checker, helper
    graph_builder = _require_onnx()
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix=".export-") as work:
        symbol_file, params_file = export_mxnet(net, os.path.join(work, "net"), input_shape)
        symbol = mx.sym.load(str(symbol_file))
        params = {name.split(":", 1)[1]: value for name, value in mx.nd.load(str(params_file)).items()}
    for gamma in _fixed_gammas(symbol):
        params[gamma] = mx.nd.ones_like(params[gamma])
    shape = tuple(int(s) for s in input_shape)
    dynamic_shape = [(None,) + shape[1:]] if dynamic_batch else None
    with _checker_at_opset(ONNX_OPSET):
        graph = graph_builder().create_onnx_graph_proto(
            symbol, params, [shape], [helper.np_dtype_to_tensor_dtype(np.dtype("float32"))],
            opset_version=ONNX_OPSET, dynamic=dynamic_batch, dynamic_input_shapes=dynamic_shape)
    weights = {init.name for init in graph.initializer}
    kept = [value for value in graph.input if value.name not in weights]
    del graph.input[:]
    graph.input.extend(kept)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
                              ir_version=ONNX_IR_VERSION, producer_name="afflib")
    checker.check_model(model)
    atomic_write(path, lambda tmp: onnx.save(model, tmp))
    return path


def _random_batches(input_shape: Sequence[int], batches: Sequence[int], seed: int) -> List[np.ndarray]:
    rng = np.random.RandomState(seed)
    return [rng.standard_normal((b,) + tuple(input_shape[1:])).astype(np.float32) for b in batches]


def _compare(reference: mx.nd.NDArray, exported: np.ndarray, batch: int) -> ExportCheck:
    ref = reference.asnumpy()
    if exported.shape != ref.shape:
        raise RuntimeError(f"exported model returned shape {exported.shape}, the network {ref.shape}")
    return ExportCheck(batch, float(np.abs(exported - ref).max()), float(np.abs(ref).max()))


def check_mxnet_export(net: HybridBlock, symbol_file: Union[str, Path], params_file: Union[str, Path],
                       input_shape: Sequence[int], batches: Sequence[int] = (1,), seed: int = 0) -> List[ExportCheck]:
    """Load the export with ``SymbolBlock.imports`` and compare its outputs with ``net`` on random input."""
    with warnings.catch_warnings():     # "Cannot decide type for ... data": the input's type comes with the data
        warnings.simplefilter("ignore", UserWarning)
        loaded = mx.gluon.SymbolBlock.imports(str(symbol_file), [INPUT_NAME], str(params_file))
    return [_compare(net(mx.nd.array(x)), loaded(mx.nd.array(x)).asnumpy(), len(x))
            for x in _random_batches(input_shape, batches, seed)]


def check_onnx_export(net: HybridBlock, path: Union[str, Path], input_shape: Sequence[int],
                      batches: Sequence[int] = (1,), seed: int = 0) -> List[ExportCheck]:
    """Run the ONNX file with onnxruntime (CPU) and compare its outputs with ``net`` on random input."""
    try:
        import onnxruntime
    except ImportError as err:
        raise ImportError("checking an ONNX export needs onnxruntime: pip install 'afflib[onnx]'") from err
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return [_compare(net(mx.nd.array(x)), session.run(None, {name: x})[0], len(x))
            for x in _random_batches(input_shape, batches, seed)]
