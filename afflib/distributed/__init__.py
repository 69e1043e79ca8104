"""Multi-machine training on MXNet's parameter server: the job launcher and the worker-side kvstore helpers.

:class:`DistSession` and :class:`ServerStatesWriter` (``afflib.distributed.session``) build on the training engine
and MXNet; they load on first use, so the launcher (``scripts/launch.py``) starts without importing MXNet.
"""
from typing import Any

from .launcher import JobResult, ProcessSpec, dmlc_env, free_port, run_job
from .plan import Host, local_plan, parse_hostfile, remote_shell_command, ssh_plan
from .worker import WorkerInfo, is_distributed, worker_info

__all__ = ["JobResult", "ProcessSpec", "dmlc_env", "free_port", "run_job", "Host", "local_plan", "parse_hostfile",
           "remote_shell_command", "ssh_plan", "DistSession", "ServerStatesWriter", "WorkerInfo",
           "is_distributed", "worker_info"]

_SESSION = ("DistSession", "ServerStatesWriter")


def __getattr__(name: str) -> Any:
    if name in _SESSION:
        from . import session
        return getattr(session, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
