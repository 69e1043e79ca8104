"""Devices, data type and KVStore of a run, checked before any computation starts."""
from __future__ import annotations

import logging
from typing import List, Optional, Sequence

import mxnet as mx

from afflib.core.jobs import require_job_environment

__all__ = ["select_contexts", "resolve_dtype", "make_kvstore", "split_batch"]

KVSTORES = ("local", "device", "nccl", "dist_sync", "dist_device_sync", "dist_async")


def select_contexts(gpus: str = "", num_gpus: int = 0, cpus: int = 0) -> List[mx.Context]:
    """The devices of a run: ``gpus='0,1'``, or the first ``num_gpus`` GPUs, or ``cpus`` CPU contexts.

    ``cpus=N`` gives N CPU contexts (data parallelism without GPUs). Without any of them: one CPU.
    Asking for GPUs that this MXNet cannot see is refused here, before anything is built.
    """
    gpu_ids: List[int] = []
    if gpus.strip():
        try:
            gpu_ids = [int(g) for g in gpus.split(",") if g.strip()]
        except ValueError:
            raise ValueError(f"--gpus expects comma-separated GPU ids like '0,1', got {gpus!r}") from None
        if num_gpus and num_gpus != len(gpu_ids):
            raise ValueError(f"--gpus {gpus} names {len(gpu_ids)} GPUs but --num-gpus is {num_gpus}; give one of them")
    elif num_gpus > 0:
        gpu_ids = list(range(num_gpus))
    if gpu_ids and cpus:
        raise ValueError("--cpus cannot be combined with --gpus/--num-gpus; choose CPU or GPU training")
    if gpu_ids:
        available = mx.context.num_gpus()
        if available == 0:
            raise RuntimeError(
                f"GPUs {gpu_ids} were requested (--gpus/--num-gpus) but this MXNet sees no GPU (CPU build of mxnet, "
                f"or no CUDA device). Train on the CPU with --cpus N (and --dtype float32), or install a GPU build "
                f"(pip install '.[cu112]').")
        missing = [g for g in gpu_ids if g >= available]
        if missing:
            raise RuntimeError(f"GPU ids {missing} requested but only {available} GPU(s) are visible")
        return [mx.gpu(g) for g in gpu_ids]
    if cpus < 0:
        raise ValueError(f"--cpus must be >= 0, got {cpus}")
    return [mx.cpu(i) for i in range(max(cpus, 1))]


def resolve_dtype(dtype: str, contexts: Sequence[mx.Context], log: Optional[logging.Logger] = None) -> str:
    """The data type to train in: ``float16`` needs GPUs; on CPU contexts it falls back to float32 with a warning.

    MXNet has no float16 GEMM on CPU, so a float16 CPU run would fail deep inside the first convolution.
    """
    if dtype not in ("float32", "float16"):
        raise ValueError(f"--dtype must be float32 or float16, got {dtype!r}")
    if dtype == "float16" and any(ctx.device_type == "cpu" for ctx in contexts):
        (log or logging.getLogger(__name__)).warning(
            "WARNING: --dtype float16 needs GPUs (MXNet has no float16 GEMM on CPU); training in float32 instead")
        return "float32"
    return dtype


def make_kvstore(name: str, contexts: Sequence[mx.Context]):
    """The KVStore that aggregates gradients across ``contexts`` (``local`` by default; ``device`` on GPUs)."""
    if name not in KVSTORES:
        raise ValueError(f"--kvstore {name!r} is not supported; valid: {', '.join(KVSTORES)}")
    if name == "nccl" and all(ctx.device_type == "cpu" for ctx in contexts):
        raise ValueError("--kvstore nccl needs GPUs; use local or device on CPU")
    require_job_environment(name)
    return mx.kv.create(name)


def split_batch(array: mx.nd.NDArray, contexts: Sequence[mx.Context]) -> List[mx.nd.NDArray]:
    """Split a batch along axis 0 over ``contexts`` (uneven splits allowed)."""
    if len(contexts) == 1:
        return [array.as_in_context(contexts[0])]
    return mx.gluon.utils.split_and_load(array, contexts, batch_axis=0, even_split=False)
