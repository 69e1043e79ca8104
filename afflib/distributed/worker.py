"""Worker-side helpers for KVStore ``dist_*`` training: rank, sharding, and optimizer states kept on the servers.

With ``update_on_kvstore=True`` (the only setting that gives correct dist_sync weights in MXNet 1.9.1) the
optimizer runs on the servers: each worker pushes gradients and pulls weights. Consequences handled here:

* the optimizer is pickled to the servers without ``param_dict``, so per-parameter ``lr_mult``/``wd_mult``
  (``--no-wd``) would be silently lost: :func:`pin_multipliers` copies them into the optimizer's own dicts;
* ``Trainer.save_states`` raises on a dist worker: :func:`save_server_states` asks every server (afflib's
  ``server.py``) to write its optimizer and momentum, and bundles the files into one ``.states`` file;
  :func:`load_server_states` sends them back. The bundle needs the checkpoint folder on a file system that
  worker 0 and the servers share (always true with the local launcher).
"""
from __future__ import annotations

import os
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List

from afflib.core.jobs import (DIST_KVSTORES, exit_hard_on_failure, is_distributed, joined_dist_job, mark_joined,
                              require_job_environment)

from .launcher import RANK_DIR_ENV, SLOT_ENV

__all__ = ["DIST_KVSTORES", "require_job_environment", "is_distributed", "WorkerInfo", "worker_info",
           "report_rank", "pin_multipliers", "trainable_digest", "exit_hard_on_failure", "joined_dist_job",
           "mark_joined", "save_server_states", "load_server_states", "is_server_states", "STATES_FORMAT",
           "PerStepSchedule"]

STATES_FORMAT = "afflib-dist-optimizer-states/1"
CONTROLLER = 0                          # the only command head MXNet hands to a server's Python controller
SAVE_STATES = "afflib-save-states:"     # command bodies understood by afflib/distributed/server.py
LOAD_STATES = "afflib-load-states:"


class PerStepSchedule:
    """A schedule of global steps evaluated on server updates, ``updates_per_step`` of which make a step.

    In dist_async every worker's push is applied as its own update, so the servers count
    ``num_workers`` updates per global step.
    """

    def __init__(self, schedule: Any, updates_per_step: int):
        self.schedule, self.updates_per_step = schedule, updates_per_step

    def __call__(self, num_update: int) -> float:
        return self.schedule((num_update + self.updates_per_step - 1) // self.updates_per_step)


@dataclass(frozen=True)
class WorkerInfo:
    """Where this process stands in the job: its kvstore rank and the number of workers."""
    rank: int = 0
    num_workers: int = 1

    @property
    def is_chief(self) -> bool:
        """Rank 0 writes checkpoints and the log file, and talks to the servers about optimizer states."""
        return self.rank == 0

    @property
    def tag(self) -> str:
        return f"rank {self.rank}/{self.num_workers}"


def worker_info(kvstore: Any) -> WorkerInfo:
    """Rank and worker count of a KVStore (rank 0 of 1 for none or a local store)."""
    if kvstore is None or isinstance(kvstore, str) or not is_distributed(kvstore):
        return WorkerInfo()
    return WorkerInfo(kvstore.rank, kvstore.num_workers)


def report_rank(kvstore: Any) -> None:
    """Tell scripts/launch.py which kvstore rank this worker got (so it can name the rank of a dead worker)."""
    folder, slot = os.environ.get(RANK_DIR_ENV), os.environ.get(SLOT_ENV)
    if not folder or slot is None or not is_distributed(kvstore):
        return
    path = Path(folder, f"worker-{slot}.rank")
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    try:
        tmp.write_text(str(kvstore.rank))
        os.replace(tmp, path)
    except OSError:
        pass        # only a nicer launcher message is lost


def trainable_digest(net: Any) -> str:
    """SHA-1 of the trainable parameters of ``net`` (names and float bytes, first context), in name order.

    BatchNorm running statistics are left out: each worker estimates them on its own shard.
    """
    import hashlib
    digest = hashlib.sha1()
    params = net._collect_params_with_prefix()
    for name in sorted(params):
        param = params[name]
        if param.grad_req == "null":
            continue
        digest.update(name.encode())
        digest.update(param.list_data()[0].asnumpy().tobytes())
    return digest.hexdigest()


def pin_multipliers(trainer: Any) -> None:
    """Copy each parameter's lr_mult/wd_mult into the optimizer by index, before the kvstore is initialised.

    The servers get a pickled optimizer without ``param_dict``; its ``lr_mult``/``wd_mult`` dicts (keyed by the
    same indices the kvstore uses) do travel. Must run before the trainer's first step.
    """
    if getattr(trainer, "_kv_initialized", False):
        raise RuntimeError("pin_multipliers must run before the trainer's kvstore is initialised (first step)")
    optimizer = trainer._optimizer
    optimizer.lr_mult = {index: param.lr_mult for index, param in enumerate(trainer._params)}
    optimizer.wd_mult = {index: param.wd_mult for index, param in enumerate(trainer._params)}


def _num_servers() -> int:
    try:
        return int(os.environ["DMLC_NUM_SERVER"])
    except (KeyError, ValueError):
        raise RuntimeError("DMLC_NUM_SERVER is not set: dist training must be started by scripts/launch.py "
                           "(or with the DMLC_* environment)") from None


def _ensure_kvstore(trainer: Any) -> Any:
    if not trainer._kv_initialized:
        trainer._init_kvstore()
    if trainer._params_to_init:
        trainer._init_params()
    kvstore = trainer._kvstore
    if kvstore is None or not is_distributed(kvstore) or not trainer._update_on_kvstore:
        raise RuntimeError("server-side optimizer states need a dist_* kvstore with update_on_kvstore=True")
    return kvstore


def _wait_all() -> None:
    import mxnet as mx
    mx.nd.waitall()


def save_server_states(trainer: Any, path: str) -> str:
    """Write the servers' optimizer (with its update counts) and momentum to ``path``, one atomic file.

    Called by rank 0 alone, between its steps: in dist_sync the servers cannot apply the next update before rank 0
    pushes its gradients, so the states are exactly those after the last step.
    """
    kvstore = _ensure_kvstore(trainer)
    # push/pull run asynchronously in MXNet's engine; the command is not ordered after them, so finish them first
    # (the servers have then applied this worker's last update, and, in dist_sync, everyone's).
    _wait_all()
    prefix = f"{path}.part{os.getpid()}"
    kvstore._send_command_to_servers(CONTROLLER, SAVE_STATES + prefix)    # returns once every server has written
    parts: List[bytes] = []
    for server in range(_num_servers()):
        part = Path(f"{prefix}.server{server}")
        if not part.exists():
            raise RuntimeError(f"server {server} did not write its optimizer states to {part}: the servers must "
                               f"run afflib/distributed/server.py (scripts/launch.py does), and the "
                               f"checkpoint folder be on a file system shared by worker 0 and the servers")
        parts.append(part.read_bytes())
        part.unlink()
    bundle = {"format": STATES_FORMAT, "num_servers": len(parts), "servers": parts, "time": time.time()}
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as handle:
        pickle.dump(bundle, handle, protocol=4)
    os.replace(tmp, path)
    return path


def is_server_states(path: str) -> bool:
    """Whether ``path`` is a bundle written by :func:`save_server_states` (not a Trainer.save_states file)."""
    try:
        with open(path, "rb") as handle:
            bundle = pickle.load(handle)
        return isinstance(bundle, dict) and bundle.get("format") == STATES_FORMAT
    except Exception:       # noqa: BLE001 - any other file is simply not a bundle
        return False


def load_server_states(trainer: Any, path: str, global_batch_size: int) -> None:
    """Send the optimizer states in ``path`` (from :func:`save_server_states`) to the servers.

    Every worker must call it at the same point, before the first step, with the ``batch_size`` it will pass to
    ``trainer.step`` (per-worker batch x workers): it initialises the kvstore (the optimizer goes to the servers
    with that gradient scale), waits until every worker has sent its optimizer (which resets the servers'
    states), then rank 0 loads, then all continue.
    """
    if not trainer._kv_initialized:
        trainer._optimizer.rescale_grad = trainer._scale / global_batch_size
    kvstore = _ensure_kvstore(trainer)
    _wait_all()
    kvstore._barrier()
    if kvstore.rank == 0:
        with open(path, "rb") as handle:
            bundle = pickle.load(handle)
        if not isinstance(bundle, dict) or bundle.get("format") != STATES_FORMAT:
            raise ValueError(f"{path} is not a dist optimizer-states file (expected {STATES_FORMAT}); "
                             f"states of a single-machine run cannot be loaded into servers")
        servers = _num_servers()
        if bundle["num_servers"] != servers:
            raise ValueError(f"{path} holds states of {bundle['num_servers']} server(s) but this job has {servers}: "
                             f"resume with -s {bundle['num_servers']}")
        prefix = f"{path}.load{os.getpid()}"
        files = []
        for server, data in enumerate(bundle["servers"]):
            files.append(Path(f"{prefix}.server{server}"))
            files[-1].write_bytes(data)
        try:
            kvstore._send_command_to_servers(CONTROLLER, LOAD_STATES + prefix)
            failed = [server for server, file in enumerate(files) if file.exists()]
            if failed:
                raise RuntimeError(f"server(s) {failed} could not load optimizer states from {path} (see their "
                                   f"output); they must run afflib/distributed/server.py")
        finally:
            for file in files:
                if file.exists():
                    file.unlink()
    kvstore._barrier()
