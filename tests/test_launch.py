"""The launcher: DMLC environment, hostfile and ssh command lines, and supervision of real processes.

The supervision tests run small shell/Python processes (no MXNet) in place of servers and workers, so they
exercise the real process-group, failure and streaming logic in a second or two.
"""
import io
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from afflib.distributed.launcher import ProcessSpec, dmlc_env, free_port, run_job
from afflib.distributed.plan import Host, local_plan, parse_hostfile, remote_shell_command, ssh_plan

PY = sys.executable
SLEEPER = ["sleep", "30"]      # stands in for a server that would run until told to stop


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie awaiting its reaper counts as dead)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def run(specs, timeout_dead=2.0, rank_dir=None):
    out, log = io.BytesIO(), io.StringIO()
    result = run_job(specs, timeout_dead=timeout_dead, rank_dir=rank_dir, out=out, log=log)
    return result, out.getvalue().decode(), log.getvalue()


def test_dmlc_env_and_local_plan():
    env = dmlc_env("server", "10.0.0.1", 9091, 4, 2)
    assert env == {"DMLC_ROLE": "server", "DMLC_PS_ROOT_URI": "10.0.0.1", "DMLC_PS_ROOT_PORT": "9091",
                   "DMLC_NUM_WORKER": "4", "DMLC_NUM_SERVER": "2"}
    plan = local_plan(2, 1, ["python", "train.py"], {"OMP_NUM_THREADS": "1"}, port=12345)
    assert [(p.role, p.slot) for p in plan] == [("scheduler", 0), ("server", 0), ("worker", 0), ("worker", 1)]
    assert all(p.env["DMLC_PS_ROOT_URI"] == "127.0.0.1" and p.env["DMLC_PS_ROOT_PORT"] == "12345" for p in plan)
    assert all(p.env["OMP_NUM_THREADS"] == "1" and p.env["DMLC_NUM_WORKER"] == "2" for p in plan)
    assert plan[2].argv == ["python", "train.py"] and plan[0].argv[1].endswith("server.py")
    port = free_port()
    assert 0 < port < 65536
    with pytest.raises(ValueError, match="role must be one of"):
        dmlc_env("master", "h", 1, 1, 1)
    with pytest.raises(ValueError, match="at least 1 worker"):
        local_plan(0, 1, ["x"], {})
    with pytest.raises(ValueError, match="no worker command"):
        local_plan(1, 1, [], {})


def test_parse_hostfile(tmp_path):
    path = tmp_path / "hosts"
    path.write_text("# cluster\nnode1\n\nalice@node2:2222 addr=10.0.0.12  # second\n")
    assert parse_hostfile(str(path)) == [Host("node1"), Host("node2", "alice", 2222, "10.0.0.12")]
    path.write_text("node1 slots=4\n")
    with pytest.raises(ValueError, match=r"hosts:1: unknown option 'slots=4' \(valid: addr=IP\)"):
        parse_hostfile(str(path))
    path.write_text("a@b@c\n")
    with pytest.raises(ValueError, match="hosts:1: expected"):
        parse_hostfile(str(path))
    path.write_text("# nothing\n")
    with pytest.raises(ValueError, match="lists no hosts"):
        parse_hostfile(str(path))
    with pytest.raises(ValueError, match="cannot read hostfile"):
        parse_hostfile(str(tmp_path / "missing"))


def test_ssh_plan_command_lines():
    hosts = [Host("node1", addr="10.0.0.11"), Host("node2", "alice", 2222)]
    plan = ssh_plan(hosts, 3, 2, ["python", "scripts/train_imagenet.py", "--kvstore", "dist_sync"],
                    {"OMP_NUM_THREADS": "4"}, port=9091, workdir="/shared/aff lib", python="/venv/bin/python",
                    timeout_dead=10)
    where = [(p.role, p.slot, p.host) for p in plan]
    assert where == [("scheduler", 0, "node1"), ("server", 0, "node1"), ("server", 1, "node2"),
                     ("worker", 0, "node1"), ("worker", 1, "node2"), ("worker", 2, "node1")]
    worker1 = plan[4].argv
    assert worker1[:8] == ["ssh", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=5", "-o",
                           "ServerAliveCountMax=2", "-p"]
    assert worker1[8:10] == ["2222", "alice@node2"]
    remote = worker1[10]
    assert remote.startswith("cd '/shared/aff lib' || exit 1; export ")
    for item in ("DMLC_ROLE=worker", "DMLC_PS_ROOT_URI=10.0.0.11", "DMLC_PS_ROOT_PORT=9091",
                 "DMLC_NUM_WORKER=3", "DMLC_NUM_SERVER=2", "DMLC_NODE_HOST=node2", "OMP_NUM_THREADS=4"):
        assert item in remote
    assert "setsid python scripts/train_imagenet.py --kvstore dist_sync </dev/null 3<&- &" in remote
    assert "sleep 10; kill -KILL -$p" in remote
    server = plan[1].argv[-1]
    assert "DMLC_ROLE=server" in server and "DMLC_NODE_HOST=10.0.0.11" in server
    assert "/venv/bin/python " in server and "afflib/distributed/server.py" in server
    assert all(p.stdin_pipe for p in plan)


def test_remote_command_stops_when_channel_closes(tmp_path):
    """The remote line runs its command and kills it when its stdin (the ssh channel) closes."""
    marker = tmp_path / "pid"
    line = remote_shell_command([PY, "-c", f"import os,time; open({str(marker)!r},'w').write(str(os.getpid())); "
                                 "time.sleep(60)"], {"X": "1"}, str(tmp_path), timeout_dead=2)
    shell = subprocess.Popen(["sh", "-c", line], stdin=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60           # Python may start slowly on a loaded machine
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(marker.read_text())
    assert alive(pid)
    shell.stdin.close()                           # the launcher went away
    assert shell.wait(timeout=10) in (128 + signal.SIGTERM, 128 + signal.SIGKILL)
    assert not alive(pid)
    ok = subprocess.Popen(["sh", "-c", remote_shell_command(["sh", "-c", "exit 7"], {"X": "1"}, "/", 2)],
                          stdin=subprocess.PIPE)
    assert ok.wait(timeout=30) == 7               # the command's own status while the channel stays open
    ok.stdin.close()


def test_failing_worker_stops_the_job_with_its_status():
    specs = [ProcessSpec("scheduler", 0, SLEEPER), ProcessSpec("server", 0, SLEEPER),
             ProcessSpec("worker", 0, [PY, "-c", "print('hello'); import time; time.sleep(30)"]),
             ProcessSpec("worker", 1, [PY, "-c", "import sys, time; time.sleep(0.3); print('bye'); sys.exit(3)"])]
    start = time.monotonic()
    result, out, log = run(specs)
    assert result.status == 3 and result.failed == "worker 1"
    assert time.monotonic() - start < 10
    assert "[worker 0 ] hello" in out and "[worker 1 ] bye" in out
    assert "FAILED: worker slot 1 on 127.0.0.1" in log and "exited with status 3" in log


def test_sigkilled_worker_named_by_reported_rank_and_no_orphans(tmp_path):
    """A worker killed by SIGKILL ends the job with 137; a grandchild of another worker is reaped too."""
    child_pid = tmp_path / "child"
    (tmp_path / "worker-1.rank").write_text("0")     # as afflib.distributed.worker.report_rank would write
    spawner = (f"import subprocess, time; p = subprocess.Popen(['sleep', '60']); "
               f"open({str(child_pid)!r}, 'w').write(str(p.pid)); time.sleep(60)")
    victim = "import os, signal, time; time.sleep(0.5); os.kill(os.getpid(), signal.SIGKILL)"
    specs = [ProcessSpec("scheduler", 0, SLEEPER), ProcessSpec("worker", 0, [PY, "-c", spawner]),
             ProcessSpec("worker", 1, [PY, "-c", victim])]
    result, _, log = run(specs, rank_dir=str(tmp_path))
    assert result.status == 128 + signal.SIGKILL
    assert "FAILED: worker rank 0 (slot 1) on 127.0.0.1" in log and "killed by SIGKILL" in log
    pid = int(child_pid.read_text())
    time.sleep(0.2)
    assert not alive(pid)


def test_stubborn_process_is_killed_after_timeout_dead():
    """A process that ignores SIGTERM (like a worker blocked in a kvstore pull) is SIGKILLed after the bound."""
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); " \
               "time.sleep(60)"
    specs = [ProcessSpec("server", 0, [PY, "-c", stubborn]),
             ProcessSpec("worker", 0, [PY, "-c", "import time; time.sleep(1); raise SystemExit(5)"])]
    start = time.monotonic()
    result, out, log = run(specs, timeout_dead=1.5)
    elapsed = time.monotonic() - start
    assert result.status == 5 and "[server 0] up" in out
    assert 2.0 < elapsed < 8, elapsed
    assert "SIGKILL after 1.5 s" in log


def test_job_succeeds_when_all_workers_succeed():
    specs = [ProcessSpec("scheduler", 0, ["sh", "-c", "sleep 0.5"]),
             ProcessSpec("worker", 0, ["sh", "-c", "echo $DMLC_ROLE-ok"], {"DMLC_ROLE": "worker"}),
             ProcessSpec("worker", 1, ["true"])]
    result, out, _ = run(specs)
    assert result.status == 0 and "[worker 0 ] worker-ok" in out


def test_launch_cli_errors_and_exit_status(tmp_path):
    script = Path(__file__).resolve().parents[1] / "scripts" / "launch.py"
    bad = subprocess.run([PY, str(script), "-n", "2", "--env", "NOEQUALS", "--", "true"], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "--env expects KEY=VALUE" in bad.stderr
    no_hosts = subprocess.run([PY, str(script), "-n", "1", "--launcher", "ssh", "--", "true"], capture_output=True,
                              text=True, timeout=60)
    assert no_hosts.returncode == 2 and "needs -H/--hostfile" in no_hosts.stderr
