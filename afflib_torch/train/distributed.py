"""Data-parallel training on ``torch.distributed``, in processes started by ``torchrun`` (no launcher of our own).

:func:`make_session` reads torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``). Outside torchrun it returns the single-process :class:`TorchSession`; under torchrun a
:class:`DDPSession`, which joins the process group (NCCL on GPUs, process ``i`` of a node on ``cuda:i``; gloo on
CPUs) and answers what differs on one process of the job:

* ``wrap`` puts the model in :class:`~torch.nn.parallel.DistributedDataParallel`, which averages the gradients
  over the ranks: with every shard of equal size, each update is the one of the global batch
  (per-process batch x ``world_size``), so the learning rate is the global batch's (``docs/distributed.md``);
  with ``sync_bn`` BatchNorm layers become ``SyncBatchNorm`` (GPUs only, see :func:`check_sync_bn`);
* ``shard`` is ``(world_size, rank)`` for the training data; ``all_sum`` sums metrics over the ranks;
* only rank 0 (``is_chief``) writes the log file, checkpoints and run records, and validates (``validates``)
  over the full split while the others wait at their next collective;
* every collective has a timeout (``timeout_s``, default :data:`DEFAULT_TIMEOUT_S`, or ``$AFFLIB_DDP_TIMEOUT_S``):
  a peer that hangs or whose machine vanished ends the job instead of blocking it forever. A rank that dies is
  seen by torchrun itself at once, which stops the others (SIGTERM, SIGKILL after 30 s) and exits non-zero.
"""
from __future__ import annotations

import argparse
import datetime
import inspect
import os
import warnings
from dataclasses import dataclass
from typing import List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from afflib.core.checkpoints import last_stem

from ..engine import select_device
from .session import TorchSession

__all__ = ["DDPSession", "SilentSetWriter", "DistributedSetupError", "TorchrunEnv", "torchrun_env", "job_device",
           "check_sync_bn", "make_session", "resume_after_restart", "DEFAULT_TIMEOUT_S", "TIMEOUT_ENV"]

# Rank 0 validates and writes checkpoints while the other ranks wait in their next collective: the timeout must
# exceed the longest of these (a full ImageNet validation on one GPU takes a minute or two).
DEFAULT_TIMEOUT_S = 600.0
TIMEOUT_ENV = "AFFLIB_DDP_TIMEOUT_S"
RANK_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
TORCHRUN_VARIABLES = RANK_VARIABLES + ("MASTER_ADDR", "MASTER_PORT")
LAUNCH_HINT = ("start the job with torchrun, e.g. `torchrun --nproc_per_node 2 scripts/train_cifar.py --engine torch "
               "...` (or unset these variables for a single-process run)")


# torch >= 2.13 names it forward_sync_buffers (buffers still copied from rank 0 at wrapping); before, broadcast_buffers.
_NO_FORWARD_BUFFER_SYNC = ({"forward_sync_buffers": False}
                           if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
                           else {"broadcast_buffers": False})


class DistributedSetupError(ValueError):
    """A distributed run that cannot start as asked (environment, device, backend): the message says why."""


@dataclass(frozen=True)
class TorchrunEnv:
    """This process's place in a torchrun job, from its environment."""
    rank: int
    world_size: int
    local_rank: int
    master_addr: str
    master_port: int
    restart_count: int = 0      # TORCHELASTIC_RESTART_COUNT: how often torchrun restarted the workers


def _int_var(environ: Mapping[str, str], name: str, low: int, high: Optional[int] = None) -> int:
    raw = environ[name]
    try:
        value = int(raw)
    except ValueError:
        raise DistributedSetupError(f"environment variable {name}={raw!r} is not an integer") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise DistributedSetupError(f"environment variable {name}={value} must be {bound}")
    return value


def torchrun_env(environ: Optional[Mapping[str, str]] = None) -> Optional[TorchrunEnv]:
    """The torchrun job this process belongs to, or ``None`` when none of RANK/WORLD_SIZE/LOCAL_RANK is set.

    A partial set (e.g. ``WORLD_SIZE`` exported by hand) is an error naming what is missing: guessing a rank
    would start a job whose processes wait for each other forever.
    """
    environ = os.environ if environ is None else environ
    present = [name for name in RANK_VARIABLES if name in environ]
    if not present:
        return None
    missing = [name for name in TORCHRUN_VARIABLES if name not in environ]
    if missing:
        raise DistributedSetupError(f"{', '.join(f'{n}={environ[n]}' for n in present)} "
                                    f"{'is' if len(present) == 1 else 'are'} set but {', '.join(missing)} "
                                    f"{'is' if len(missing) == 1 else 'are'} not: this is not a torchrun job; "
                                    f"{LAUNCH_HINT}")
    world_size = _int_var(environ, "WORLD_SIZE", 1)
    rank = _int_var(environ, "RANK", 0, world_size - 1)
    local_rank = _int_var(environ, "LOCAL_RANK", 0, world_size - 1)
    port = _int_var(environ, "MASTER_PORT", 1, 65535)
    if not environ["MASTER_ADDR"].strip():
        raise DistributedSetupError(f"environment variable MASTER_ADDR is empty; {LAUNCH_HINT}")
    restarts = environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    return TorchrunEnv(rank, world_size, local_rank, environ["MASTER_ADDR"], port,
                       int(restarts) if restarts.isdigit() else 0)


def job_device(device: str, local_rank: int) -> torch.device:
    """The device of process ``local_rank`` of a node: ``cuda:LOCAL_RANK`` for ``auto`` on a GPU machine and for
    ``cuda``; ``cpu`` for ``cpu`` (and ``auto`` without GPUs). Other requests are refused with the reason."""
    name = str(device)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        chosen = torch.device(name)
    except RuntimeError:
        raise DistributedSetupError(f"--device {device!r} is not a device (valid in a torchrun job: auto, cuda, "
                                    f"cpu)") from None
    if chosen.type == "cpu":
        return torch.device("cpu")
    if chosen.type != "cuda":
        raise DistributedSetupError(f"--device {device!r}: a torchrun job trains on cuda (NCCL) or cpu (gloo)")
    if not torch.cuda.is_available():
        raise DistributedSetupError(f"--device {device!r} in a torchrun job needs NCCL on CUDA GPUs, but this "
                                    f"PyTorch build (torch {torch.__version__}) sees none; use --device cpu "
                                    f"(gloo)")
    if chosen.index is not None:
        raise DistributedSetupError(f"--device {device!r}: each process of a torchrun job uses cuda:LOCAL_RANK; "
                                    f"give --device cuda (or auto) and choose the GPUs with CUDA_VISIBLE_DEVICES")
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise DistributedSetupError(f"LOCAL_RANK={local_rank} but this node has {count} visible GPU(s): start at "
                                    f"most {count} processes per node (torchrun --nproc_per_node {count})")
    return torch.device("cuda", local_rank)


def check_sync_bn(device: torch.device) -> None:
    """Refuse ``--sync-bn`` where torch's SyncBatchNorm cannot run: its forward raises on CPU tensors
    ("SyncBatchNorm expected input tensor to be on GPU", checked in torch 2.13), so gloo jobs on CPUs cannot use it.
    """
    if device.type != "cuda":
        raise DistributedSetupError(f"--sync-bn: torch's SyncBatchNorm runs on GPUs only (torch "
                                    f"{torch.__version__} refuses CPU tensors), and this job trains on {device}; "
                                    f"drop --sync-bn (each process then normalises with its own batch statistics)")


class SilentSetWriter:
    """The checkpoint writer of ranks other than 0 (the protocol of ``afflib.core.checkpoint_manager.SetWriter``):
    they write no checkpoint, ``run_config.json`` nor ``history.json`` -- rank 0's weights are theirs."""

    writes = False
    saves_interrupted = True

    def members(self, net: nn.Module, trainer: object) -> list:
        return []

    def settle(self) -> None:
        """Nothing to wait for: nothing is written."""

    def record_extra(self) -> dict:
        return {}


def _timeout(timeout_s: Optional[float], environ: Mapping[str, str]) -> float:
    if timeout_s is None:
        raw = environ.get(TIMEOUT_ENV)
        if raw is None:
            return DEFAULT_TIMEOUT_S
        try:
            timeout_s = float(raw)
        except ValueError:
            raise DistributedSetupError(f"environment variable {TIMEOUT_ENV}={raw!r} is not a number of "
                                        f"seconds") from None
    if not timeout_s > 0:
        raise DistributedSetupError(f"collective timeout {timeout_s} s must be positive")
    return float(timeout_s)


class DDPSession(TorchSession):
    """One process of a torchrun job: joins the process group on creation; :meth:`finish` leaves it.

    Parameters
    ----------
    env : TorchrunEnv
        This process's rank, world size and local rank (:func:`torchrun_env`).
    device : torch.device
        ``cuda:LOCAL_RANK`` (NCCL) or ``cpu`` (gloo), from :func:`job_device`.
    sync_bn : bool
        Convert BatchNorm layers to SyncBatchNorm in :meth:`wrap` (GPUs only).
    timeout_s : float
        Seconds a collective may wait for the other ranks before the job fails.
    """

    def __init__(self, env: TorchrunEnv, device: torch.device, sync_bn: bool = False,
                 timeout_s: float = DEFAULT_TIMEOUT_S):
        if sync_bn:
            check_sync_bn(device)
        backend = "nccl" if device.type == "cuda" else "gloo"
        available = dist.is_nccl_available() if backend == "nccl" else dist.is_gloo_available()
        if not available:
            raise DistributedSetupError(f"this PyTorch build (torch {torch.__version__}) has no {backend} backend, "
                                        f"which a torchrun job on {device.type} needs")
        super().__init__(device)
        self.env = env
        self.rank = env.rank
        self.world_size = env.world_size
        self.local_rank = env.local_rank
        self.is_chief = env.rank == 0
        self.sync_bn = sync_bn
        self.backend = backend
        self.timeout_s = timeout_s
        if device.type == "cuda":
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group(backend, init_method="env://", rank=env.rank, world_size=env.world_size,
                                    timeout=datetime.timedelta(seconds=timeout_s),
                                    device_id=device if device.type == "cuda" else None)

    def wrap(self, model: nn.Module) -> nn.Module:
        """``model`` on this process's device (with SyncBatchNorm if asked) inside DistributedDataParallel.

        DDP copies rank 0's parameters and buffers to every rank here and averages the gradients over the ranks
        in ``backward``; the trained weights are ``wrapped.module``. Buffers are not broadcast before each forward
        (``forward_sync_buffers=False``): each rank keeps the BatchNorm running statistics of its shard (checkpoints
        hold rank 0's, which broadcasting would give too), and a forward without gradients runs no collective,
        so rank 0 can validate through the wrapper alone. With broadcasting, its first such forward would
        broadcast to ranks that are waiting elsewhere, and the job would hang until the collective timeout.
        """
        model = model.to(self.device)
        if self.sync_bn:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids, **_NO_FORWARD_BUFFER_SYNC)

    @property
    def shard(self) -> Tuple[int, int]:
        return self.world_size, self.rank

    def all_sum(self, values: Sequence[float]) -> List[float]:
        """``values`` summed over all ranks (every rank must call it with as many values)."""
        if not len(values):
            return []
        total = torch.tensor([float(v) for v in values], dtype=torch.float64, device=self.device)
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return [float(v) for v in total.tolist()]

    def barrier(self) -> None:
        """Wait until every rank gets here (or the collective timeout ends the job)."""
        if self.device.type == "cuda":
            dist.barrier(device_ids=[self.device.index])
        else:
            dist.barrier()

    @property
    def validates(self) -> bool:
        """Rank 0 evaluates the full validation split; the others skip it."""
        return self.is_chief

    def checkpoint_writer(self) -> Optional[SilentSetWriter]:
        """Who writes the run's files: rank 0 with the engine's own writer (``None``: the default), the other
        ranks nothing (:class:`SilentSetWriter`)."""
        return None if self.is_chief else SilentSetWriter()

    def finish(self) -> None:
        """Leave the process group (nothing waits for the other ranks: torchrun ends the job when all have left)."""
        if dist.is_initialized():
            dist.destroy_process_group()


def make_session(device: Union[str, torch.device, argparse.Namespace] = "auto", sync_bn: bool = False,
                 timeout_s: Optional[float] = None, environ: Optional[Mapping[str, str]] = None) -> TorchSession:
    """The session of this process: a :class:`DDPSession` under torchrun, else the single-process session.

    ``device``: ``auto``/``cuda``/``cpu`` (in one process also ``cuda:N``...), or a training tool's parsed flags,
    whose ``--device`` and ``--sync-bn`` are read. ``sync_bn`` in one process has nothing to synchronise: it is
    ignored with a warning. ``timeout_s`` (default ``$AFFLIB_DDP_TIMEOUT_S`` or :data:`DEFAULT_TIMEOUT_S`) bounds
    every collective of a job. Raises :class:`DistributedSetupError` (a ValueError) with the reason when the job
    cannot start as asked, and a ValueError for a device this machine lacks.
    """
    if isinstance(device, argparse.Namespace):
        sync_bn = sync_bn or bool(getattr(device, "sync_bn", False))
        device = getattr(device, "device", "auto")
    environ = os.environ if environ is None else environ
    env = torchrun_env(environ)
    if env is None:
        if sync_bn:
            warnings.warn("--sync-bn ignored: a single-process run already normalises with its whole batch's "
                          "statistics (SyncBatchNorm applies to torchrun jobs)", stacklevel=2)
        try:
            return TorchSession(device if isinstance(device, torch.device) else select_device(device))
        except RuntimeError as err:
            raise ValueError(f"--device {device}: {err}") from None
    return DDPSession(env, job_device(str(device), env.local_rank), sync_bn, _timeout(timeout_s, environ))


def resume_after_restart(folder: str, tag: str, model: str,
                         environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The ``-last`` params of the run in ``folder`` when torchrun restarted this job's workers (``--max-restarts``).

    torchrun restarts every worker with the same command line; the run then continues from its last complete
    checkpoint set instead of starting over (``None``: a first start, or no set written before the failure).
    """
    env = torchrun_env(environ)
    if env is None or env.restart_count == 0 or not folder:
        return None
    params = os.path.join(folder, last_stem(tag, model) + ".params")
    return params if os.path.isfile(params) else None
