"""Multi-machine training on MXNet's parameter server: the job launcher and the worker-side kvstore helpers."""
from .launcher import JobResult, ProcessSpec, dmlc_env, free_port, run_job
from .plan import Host, local_plan, parse_hostfile, remote_shell_command, ssh_plan
from .session import DistCheckpointManager, DistSession
from .worker import WorkerInfo, is_distributed, worker_info

__all__ = ["JobResult", "ProcessSpec", "dmlc_env", "free_port", "run_job", "Host", "local_plan", "parse_hostfile",
           "remote_shell_command", "ssh_plan", "DistSession", "DistCheckpointManager", "WorkerInfo",
           "is_distributed", "worker_info"]
