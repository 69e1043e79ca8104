"""The MXNet engine's AFF-ResNet-18/34 in float64, for the PyTorch suite to reproduce through the converter.

usage: mxnet_resnet_basic.py OUT_DIR NAME:SIZE:BATCH...  (run in the MXNet environment, the checkout on PYTHONPATH)

For each registry NAME, a network with seeded random weights and random BatchNorm statistics (so that inference
mode is no identity), float32 values computed in float64: OUT_DIR/NAME-SIZE.params (``save_parameters``) and
OUT_DIR/NAME-SIZE.npz with ``input`` (BATCHx3xSIZExSIZE), ``output_eval``, ``output_train`` (batch statistics) and
``trainable`` (the count of trainable parameters); OUT_DIR/NAME-SIZE.names lists every array's name and shape.
"""
import sys
import zlib

import mxnet as mx
import numpy as np

import afflib


def randomise_batchnorm(net, rng: np.random.RandomState) -> None:
    """Gamma, beta and running statistics of every BatchNorm away from their initial 1/0 values."""
    for name, param in net._collect_params_with_prefix().items():
        leaf = name.rsplit(".", 1)[-1]
        shape = param.shape
        if leaf == "gamma":
            param.set_data(mx.nd.array(rng.uniform(0.5, 1.5, shape)))
        elif leaf in ("beta", "running_mean"):
            param.set_data(mx.nd.array(rng.uniform(-0.2, 0.2, shape)))
        elif leaf == "running_var":
            param.set_data(mx.nd.array(rng.uniform(0.5, 2.0, shape)))


def main(out_dir: str, *items: str) -> None:
    for item in items:
        name, size, batch = item.split(":")
        seed = zlib.crc32(item.encode())
        mx.random.seed(seed)
        rng = np.random.RandomState(seed % 2 ** 31)
        net = afflib.get_model(name)
        net.initialize(mx.init.MSRAPrelu())
        randomise_batchnorm(net, rng)
        stem = f"{out_dir}/{name}-{size}"
        net.save_parameters(stem + ".params")  # float32 values, exact in float64: half the file
        net.cast("float64")
        params = net._collect_params_with_prefix()
        with open(stem + ".names", "w") as names:
            names.writelines(f"{k} {','.join(map(str, p.shape))}\n" for k, p in params.items())
        x = rng.randn(int(batch), 3, int(size), int(size)).astype(np.float32).astype(np.float64)
        data = mx.nd.array(x, dtype="float64")
        output_eval = net(data).asnumpy()
        with mx.autograd.train_mode():
            output_train = net(data).asnumpy()
        trainable = sum(int(np.prod(p.shape)) for p in params.values() if p.grad_req != "null")
        np.savez(stem + ".npz", input=x, output_eval=output_eval, output_train=output_train, trainable=trainable)


if __name__ == "__main__":
    main(*sys.argv[1:])
