"""Start and supervise the processes of a ps-lite job: scheduler, servers and workers.

Every process runs in its own process group with its output streamed line by line behind a role prefix. The
first process that fails (non-zero exit or a signal) ends the job: the others get SIGTERM, then SIGKILL after
``timeout_dead`` seconds, and the launcher returns the failing process's status. This bound is what keeps a
worker blocked in a kvstore push/pull of a dead peer from hanging forever.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, IO, List, Optional, Sequence

__all__ = ["ProcessSpec", "JobResult", "dmlc_env", "free_port", "run_job", "exit_status",
           "RANK_DIR_ENV", "SLOT_ENV"]

ROLES = ("scheduler", "server", "worker")
# The scheduler, not launch order, assigns kvstore ranks. A worker that knows its rank writes it to
# $AFFLIB_LAUNCH_RANK_DIR/worker-<slot>.rank (see afflib.distributed.worker.report_rank), so that the
# launcher can name the rank of a worker that died.
RANK_DIR_ENV = "AFFLIB_LAUNCH_RANK_DIR"
SLOT_ENV = "AFFLIB_LAUNCH_SLOT"
POLL_SECONDS = 0.2
FINISH_GRACE_SECONDS = 30.0     # how long servers/scheduler may take to exit after all workers succeeded


@dataclass
class ProcessSpec:
    """One process of the job: its role, its slot among that role (launch order), argv and extra environment."""
    role: str
    slot: int
    argv: List[str]
    env: Dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    # ssh processes read a pipe from the launcher; the remote side stops its command when that pipe closes.
    stdin_pipe: bool = False

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {self.role!r}")

    @property
    def name(self) -> str:
        return "scheduler" if self.role == "scheduler" else f"{self.role} {self.slot}"


@dataclass
class JobResult:
    """Outcome of a job: the exit status to return and, on failure, which process failed and why."""
    status: int
    failed: Optional[str] = None
    reason: str = ""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def dmlc_env(role: str, root_uri: str, root_port: int, num_workers: int, num_servers: int,
             node_host: Optional[str] = None) -> Dict[str, str]:
    """The ``DMLC_*`` variables ps-lite reads to join a job as ``role``."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    env = {"DMLC_ROLE": role, "DMLC_PS_ROOT_URI": root_uri, "DMLC_PS_ROOT_PORT": str(root_port),
           "DMLC_NUM_WORKER": str(num_workers), "DMLC_NUM_SERVER": str(num_servers)}
    if node_host:
        env["DMLC_NODE_HOST"] = node_host       # the address this node advertises to the others
    return env


def exit_status(returncode: int) -> int:
    """Shell-style status: a process killed by signal N reports 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"


class _Running:
    """A started process plus the thread that copies its output."""

    def __init__(self, spec: ProcessSpec, popen: subprocess.Popen, pump: threading.Thread):
        self.spec, self.popen, self.pump = spec, popen, pump

    def close_stdin(self) -> None:
        if self.popen.stdin is not None and not self.popen.stdin.closed:
            try:
                self.popen.stdin.close()
            except OSError:
                pass

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _pump(stream: IO[bytes], prefix: bytes, out: IO[bytes], lock: threading.Lock) -> None:
    for line in iter(stream.readline, b""):
        if not line.endswith(b"\n"):
            line += b"\n"
        with lock:
            out.write(prefix + line)
            out.flush()
    stream.close()


class Job:
    """The processes of one job, started in order (scheduler, servers, workers) and supervised together."""

    def __init__(self, specs: Sequence[ProcessSpec], timeout_dead: float = 10.0, rank_dir: Optional[str] = None,
                 out: Optional[IO[bytes]] = None, log: Optional[IO[str]] = None):
        if timeout_dead <= 0:
            raise ValueError(f"timeout_dead must be positive seconds, got {timeout_dead}")
        self.specs = list(specs)
        self.timeout_dead = timeout_dead
        self.rank_dir = rank_dir
        self.out = out if out is not None else sys.stdout.buffer
        self.log = log if log is not None else sys.stderr
        self.lock = threading.Lock()
        self.running: List[_Running] = []

    def message(self, text: str) -> None:
        with self.lock:
            self.out.flush()
            print(f"[launch] {text}", file=self.log, flush=True)

    def start(self) -> None:
        width = max(len(spec.name) for spec in self.specs)
        for spec in self.specs:
            env = dict(os.environ)
            env.update(spec.env)
            if self.rank_dir and spec.role == "worker":
                env[RANK_DIR_ENV] = self.rank_dir
                env[SLOT_ENV] = str(spec.slot)
            # stdin: a pipe, kept open for ssh processes (their remote side watches it), closed at once for the
            # others (they read end-of-file, as from /dev/null)
            popen = subprocess.Popen(spec.argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.PIPE, start_new_session=True)
            if not spec.stdin_pipe:
                popen.stdin.close()
            prefix = f"[{spec.name:<{width}}] ".encode()
            pump = threading.Thread(target=_pump, args=(popen.stdout, prefix, self.out, self.lock), daemon=True)
            pump.start()
            self.running.append(_Running(spec, popen, pump))

    def worker_rank(self, slot: int) -> Optional[int]:
        """The kvstore rank the worker in ``slot`` reported, if it did."""
        if not self.rank_dir:
            return None
        try:
            return int(Path(self.rank_dir, f"worker-{slot}.rank").read_text().strip())
        except (OSError, ValueError):
            return None

    def label(self, spec: ProcessSpec) -> str:
        """How messages name a process: role, slot, host and, for workers that reported it, the kvstore rank."""
        text = spec.name
        if spec.role == "worker":
            rank = self.worker_rank(spec.slot)
            text = f"worker rank {rank} (slot {spec.slot})" if rank is not None else f"worker slot {spec.slot}"
        return f"{text} on {spec.host}"

    def stop(self, reason: str) -> None:
        """SIGTERM every live process group, SIGKILL what is left after ``timeout_dead`` seconds, reap all."""
        live = [r for r in self.running if r.popen.poll() is None]
        if live:
            self.message(f"{reason}: stopping {len(live)} process(es) (SIGTERM, SIGKILL after "
                         f"{self.timeout_dead:g} s)")
        for proc in self.running:
            proc.close_stdin()
        for proc in live:
            proc.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + self.timeout_dead
        for proc in live:
            try:
                proc.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in self.running:
            # SIGKILL the group even when its leader exited: children it forked (data loaders) may live on.
            proc.signal_group(signal.SIGKILL)
            proc.popen.wait()
        for proc in self.running:
            proc.pump.join(timeout=2.0)

    def supervise(self) -> JobResult:
        """Wait until every worker succeeded or any process failed; stop the rest; return the job's status."""
        workers = [r for r in self.running if r.spec.role == "worker"]
        finished_at: Optional[float] = None
        while True:
            for proc in self.running:
                code = proc.popen.poll()
                if code is not None and code != 0:
                    what = f"{self.label(proc.spec)} (pid {proc.popen.pid}) {describe_exit(code)}"
                    self.message(f"FAILED: {what}")
                    self.stop(f"{proc.spec.name} failed")
                    return JobResult(exit_status(code), proc.spec.name, what)
            if all(w.popen.poll() == 0 for w in workers):
                if all(r.popen.poll() is not None for r in self.running):
                    self.stop("done")
                    return JobResult(0)
                finished_at = finished_at or time.monotonic()
                if time.monotonic() - finished_at > FINISH_GRACE_SECONDS:
                    self.stop("all workers finished but servers/scheduler did not exit")
                    return JobResult(0)
            time.sleep(POLL_SECONDS)


def run_job(specs: Sequence[ProcessSpec], timeout_dead: float = 10.0, rank_dir: Optional[str] = None,
            out: Optional[IO[bytes]] = None, log: Optional[IO[str]] = None) -> JobResult:
    """Start ``specs``, stream their output, and supervise them until the job succeeds or fails.

    SIGINT/SIGTERM sent to the launcher stop the whole job the same way a failed process does (status 130/143).
    """
    job = Job(specs, timeout_dead=timeout_dead, rank_dir=rank_dir, out=out, log=log)
    interrupted: List[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        interrupted.append(signum)
        raise KeyboardInterrupt

    in_main = threading.current_thread() is threading.main_thread()
    previous = {}
    if in_main:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        job.start()
        return job.supervise()
    except KeyboardInterrupt:
        signum = interrupted[0] if interrupted else signal.SIGINT
        job.stop(f"launcher received {signal.Signals(signum).name}")
        return JobResult(128 + signum, "launcher", f"interrupted by {signal.Signals(signum).name}")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        # Whatever happened above (even an error while starting), leave no process behind.
        for proc in job.running:
            if proc.popen.poll() is None:
                proc.signal_group(signal.SIGKILL)
                proc.popen.wait()
