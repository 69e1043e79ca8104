"""One MXNet training-mode step per network, for the PyTorch suite to compare against (run in the MXNet env).

usage: mxnet_train_step.py CONFIGS.json OUT_DIR

CONFIGS.json is a list of network descriptions as tests/reference.vector_network reads them, each with a
``name``, an ``input_shape`` and a ``seed``. For each, the parameters are drawn as the reference vectors'
(regenerate_params) and written to OUT_DIR/<name>.params; then one forward (training mode) and backward of
a fixed head gradient runs, and OUT_DIR/<name>.npz holds the input, the head gradient, the output, the
input's gradient and every parameter's value and gradient after the step (running statistics included,
which MXNet updates in the backward pass).
"""
import json
import sys
from pathlib import Path


import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from mxnet import autograd  # noqa: E402

from afflib.model_zoo import AFFResNet, AFFResNeXt, CIFARAFFResNet, CIFARAFFResNeXt  # noqa: E402
from reference import regenerate_params, vector_network  # noqa: E402

FAMILIES = {cls.__name__: cls for cls in (AFFResNet, AFFResNeXt, CIFARAFFResNet, CIFARAFFResNeXt)}


def train_step(config: dict, out: Path) -> None:
    """Write ``<name>.params`` (before the step) and ``<name>.npz`` (the step's results) for one network."""
    net = vector_network(config, FAMILIES)
    net.initialize()
    shape = tuple(config["input_shape"])
    net(mx.nd.zeros(shape))  # shape inference in predict mode: running statistics untouched
    params = net._collect_params_with_prefix()
    values = regenerate_params({"seed": config["seed"], "params": [(k, p.shape) for k, p in params.items()]})
    for name, param in params.items():
        param.set_data(mx.nd.array(values[name]))
    net.save_parameters(str(out / f"{config['name']}.params"))
    rng = np.random.RandomState(config["seed"] + 1)
    x = mx.nd.array(rng.randn(*shape).astype(np.float32))
    x.attach_grad()
    with autograd.record(train_mode=True):
        y = net(x)
    head = rng.randn(*y.shape).astype(np.float32)
    y.backward(mx.nd.array(head))
    arrays = {"input": x.asnumpy(), "head": head, "output": y.asnumpy(), "input_grad": x.grad.asnumpy()}
    for name, param in params.items():
        arrays["value:" + name] = param.data().asnumpy()
        if param.grad_req != "null":
            arrays["grad:" + name] = param.grad().asnumpy()
    np.savez(out / f"{config['name']}.npz", **arrays)


def main() -> None:
    configs = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    for config in configs:
        train_step(config, out)


if __name__ == "__main__":
    main()
