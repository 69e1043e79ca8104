"""Which process runs where, with which command line: the local (loopback) and ssh plans of a job.

Hostfile format (one machine per line; blank lines and ``#`` comments are ignored)::

    # [user@]host[:ssh_port] [addr=IP]
    gpu-node-1
    alice@gpu-node-2:2222 addr=10.0.0.12

``host`` is what ssh connects to; ``addr`` (default: ``host``) is the address the other machines reach this
one at, which ps-lite binds to and advertises. The scheduler runs on the first machine; workers and servers are
placed round-robin over the machines in file order (worker slot i on machine i mod N).
"""
from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from .launcher import ProcessSpec, dmlc_env, free_port

__all__ = ["Host", "parse_hostfile", "server_command", "local_plan", "ssh_plan", "remote_shell_command"]

SERVER_SCRIPT = Path(__file__).with_name("server.py")
_HOST_RE = re.compile(r"^(?:(?P<user>[^@\s:]+)@)?(?P<host>[^@\s:]+)(?::(?P<port>\d+))?$")


@dataclass(frozen=True)
class Host:
    """One machine of a hostfile."""
    host: str
    user: Optional[str] = None
    ssh_port: Optional[int] = None
    addr: Optional[str] = None

    @property
    def address(self) -> str:
        return self.addr or self.host

    @property
    def target(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host


def parse_hostfile(path: str) -> List[Host]:
    """Read a hostfile (format in the module docstring); errors name the file, line and what was expected."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as err:
        raise ValueError(f"cannot read hostfile {path}: {err.strerror}") from None
    hosts = []
    for number, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        first, *options = line.split()
        match = _HOST_RE.match(first)
        if not match:
            raise ValueError(f"{path}:{number}: expected '[user@]host[:ssh_port] [addr=IP]', got {raw.strip()!r}")
        addr = None
        for option in options:
            key, sep, value = option.partition("=")
            if key != "addr" or not sep or not value:
                raise ValueError(f"{path}:{number}: unknown option {option!r} (valid: addr=IP)")
            addr = value
        port = int(match["port"]) if match["port"] else None
        hosts.append(Host(match["host"], match["user"], port, addr))
    if not hosts:
        raise ValueError(f"hostfile {path} lists no hosts")
    return hosts


def server_command(python: str = sys.executable) -> List[str]:
    """argv of a scheduler or server process: afflib's kvstore server (MXNet's, plus optimizer-state commands)."""
    return [python, str(SERVER_SCRIPT)]


def _check_counts(num_workers: int, num_servers: int) -> None:
    if num_workers < 1:
        raise ValueError(f"need at least 1 worker, got {num_workers}")
    if num_servers < 1:
        raise ValueError(f"need at least 1 server, got {num_servers}")


def local_plan(num_workers: int, num_servers: int, command: Sequence[str], extra_env: Dict[str, str],
               port: Optional[int] = None, server_argv: Optional[Sequence[str]] = None) -> List[ProcessSpec]:
    """All processes on this machine over 127.0.0.1, the scheduler on ``port`` (default: a free one)."""
    _check_counts(num_workers, num_servers)
    if not command:
        raise ValueError("no worker command given (put it after --)")
    port = port or free_port()
    server_argv = list(server_argv or server_command())

    def spec(role: str, slot: int, argv: Sequence[str]) -> ProcessSpec:
        env = dict(extra_env)
        env.update(dmlc_env(role, "127.0.0.1", port, num_workers, num_servers, node_host="127.0.0.1"))
        return ProcessSpec(role, slot, list(argv), env)

    return ([spec("scheduler", 0, server_argv)] + [spec("server", i, server_argv) for i in range(num_servers)]
            + [spec("worker", i, command) for i in range(num_workers)])


def remote_shell_command(argv: Sequence[str], env: Dict[str, str], workdir: str, timeout_dead: float) -> str:
    """The shell line run on a remote machine.

    It starts ``argv`` in its own session and watches its stdin (the ssh channel): when the channel closes
    (the launcher stopped the job, or died), the command's process group gets SIGTERM, then SIGKILL after
    ``timeout_dead`` seconds, so no remote process outlives the job. The line exits with the command's status.
    """
    exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in sorted(env.items()))
    command = " ".join(shlex.quote(arg) for arg in argv)
    grace = max(1, int(round(timeout_dead)))
    # A background list's stdin is /dev/null in sh, hence the channel is handed to the watchdog as fd 3.
    return (f"cd {shlex.quote(workdir)} || exit 1; export {exports}; exec 3<&0; "
            f"setsid {command} </dev/null 3<&- & p=$!; "
            f"( cat <&3 >/dev/null; kill -TERM -$p || kill -TERM $p; sleep {grace}; kill -KILL -$p || kill -KILL $p ) "
            f">/dev/null 2>&1 & "
            f"w=$!; wait $p; s=$?; kill $w 2>/dev/null; exit $s")


def ssh_plan(hosts: Sequence[Host], num_workers: int, num_servers: int, command: Sequence[str],
             extra_env: Dict[str, str], port: int, workdir: Optional[str] = None, python: str = sys.executable,
             timeout_dead: float = 10.0, ssh: Sequence[str] = ("ssh",)) -> List[ProcessSpec]:
    """One ssh process per job process: scheduler on ``hosts[0]``, servers and workers round-robin.

    Remote machines must see the same ``workdir`` (default: the current directory) and ``python`` paths, e.g.
    through a shared file system or identical installs.
    """
    _check_counts(num_workers, num_servers)
    if not hosts:
        raise ValueError("the ssh launcher needs at least one host (-H hostfile)")
    if not command:
        raise ValueError("no worker command given (put it after --)")
    workdir = workdir or os.getcwd()
    root = hosts[0].address
    keepalive = max(1, int(round(timeout_dead / 2)))
    server_argv = server_command(python)

    def spec(role: str, slot: int, host: Host, argv: Sequence[str]) -> ProcessSpec:
        env = dict(extra_env)
        env.update(dmlc_env(role, root, port, num_workers, num_servers, node_host=host.address))
        ssh_argv = list(ssh) + ["-o", "BatchMode=yes", "-o", f"ServerAliveInterval={keepalive}",
                                "-o", "ServerAliveCountMax=2"]
        if host.ssh_port:
            ssh_argv += ["-p", str(host.ssh_port)]
        ssh_argv += [host.target, remote_shell_command(argv, env, workdir, timeout_dead)]
        return ProcessSpec(role, slot, ssh_argv, {}, host=host.host, stdin_pipe=True)

    plan = [spec("scheduler", 0, hosts[0], server_argv)]
    plan += [spec("server", i, hosts[i % len(hosts)], server_argv) for i in range(num_servers)]
    plan += [spec("worker", i, hosts[i % len(hosts)], command) for i in range(num_workers)]
    return plan
