"""Test helper: a small plain-Gluon dist_sync worker (run under scripts/launch.py), not a library training loop.

Each worker fits a linear model on its own shard of a fixed regression problem with SGD + momentum on the
servers, prints ``step N loss L``, and at the end saves its parameters to ``OUT/params-rank{R}.npy``. Rank 0
writes a checkpoint (params + server-side optimizer states) every ``--save-every`` steps; ``--resume`` loads it.
"""
import argparse
import os
import sys
import time

import numpy as np


import mxnet as mx  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402

from afflib.distributed.worker import (exit_hard_on_failure, load_server_states, pin_multipliers,  # noqa: E402
                                       report_rank, save_server_states, worker_info)

SAMPLES, FEATURES = 512, 8


def data_shard(rank: int, num_workers: int):
    rng = np.random.RandomState(0)
    x = rng.randn(SAMPLES, FEATURES).astype("float32")
    y = x @ np.arange(1, FEATURES + 1, dtype="float32") + 0.5
    return x[rank::num_workers], y[rank::num_workers]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=16, help="per worker")
    parser.add_argument("--save-every", type=int, default=0)
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds per step (to kill a worker mid-run)")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--kvstore", default="dist_sync")
    args = parser.parse_args()

    kv = mx.kv.create(args.kvstore)
    report_rank(kv)
    info = worker_info(kv)
    mx.random.seed(1)
    net = gluon.nn.Dense(1, in_units=FEATURES)
    net.initialize(mx.init.Normal(0.1))
    net.bias.wd_mult = 0.0
    checkpoint = os.path.join(args.out, "ckpt")
    start = 0
    if args.resume:
        net.load_parameters(checkpoint + ".params")
        start = int(open(checkpoint + ".step").read())
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.02, "momentum": 0.9, "wd": 1e-3},
                            kvstore=kv, update_on_kvstore=True)
    pin_multipliers(trainer)
    if args.resume:
        load_server_states(trainer, checkpoint + ".states", args.batch_size * info.num_workers)
    x, y = data_shard(info.rank, info.num_workers)
    loss_fn = gluon.loss.L2Loss()
    batches = len(x) // args.batch_size
    for step in range(start, args.steps):
        i = step % batches
        xb = mx.nd.array(x[i * args.batch_size:(i + 1) * args.batch_size])
        yb = mx.nd.array(y[i * args.batch_size:(i + 1) * args.batch_size])
        with autograd.record():
            loss = loss_fn(net(xb), yb)
        loss.backward()
        trainer.step(args.batch_size * info.num_workers)
        print(f"{info.tag} step {step} loss {loss.mean().asscalar():.6f}", flush=True)
        if args.save_every and (step + 1) % args.save_every == 0:
            if info.is_chief:
                save_server_states(trainer, checkpoint + ".states")
                for suffix, write in ((".params", net.save_parameters),
                                      (".step", lambda p: open(p, "w").write(str(step + 1)))):
                    tmp = checkpoint + suffix + ".tmp"
                    write(tmp)
                    os.replace(tmp, checkpoint + suffix)
                print(f"{info.tag} checkpoint at step {step + 1}", flush=True)
        time.sleep(args.sleep)
    weights = np.concatenate([p.data().asnumpy().ravel() for p in net.collect_params().values()])
    np.save(os.path.join(args.out, f"params-rank{info.rank}.npy"), weights)
    return 0


if __name__ == "__main__":
    sys.exit(exit_hard_on_failure(main))
