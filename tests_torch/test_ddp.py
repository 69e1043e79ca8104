"""Data-parallel training under torchrun (afflib_torch.train.distributed): real `python -m torch.distributed.run`
jobs of 2 CPU processes talking gloo over 127.0.0.1, and the session's refusals of environments it cannot run in.

The equivalence job trains a tiny CIFAR AFF net for a few SGD steps on fixed data, each rank on its shard
(``session.shard``) of the same global batches. DDP averages the per-rank gradients, so the update equals the
global batch's only when one sample's loss does not depend on the others in its batch. BatchNorm in training mode
breaks that (each rank normalises with its own shard's statistics; SyncBatchNorm would fix it but torch runs it on
GPUs only). Two sound comparisons, both exact up to float rounding:

* BatchNorm in eval mode (fixed running statistics: per channel an affine map, so every sample's loss stands
  alone): the job's weights equal one process trained on the whole global batch;
* BatchNorm in training mode: the job equals one process whose loss is the mean of the shards' losses, each shard
  normalised with its own statistics ("ghost batches") -- what DDP without SyncBatchNorm computes.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Sequence, Tuple

import pytest
import torch
import torch.distributed as dist
from torch import nn

from afflib_torch.train.distributed import (DEFAULT_TIMEOUT_S, DistributedSetupError, check_sync_bn, job_device,
                                            make_session, resume_after_restart, torchrun_env)
from afflib_torch.train.session import TorchSession

REPO = Path(__file__).resolve().parents[1]
GLOBAL_BATCH, STEPS, LR = 8, 3, 0.1
NET = dict(name="cifar_aff_resnet8", channels=[8, 8, 16, 16], in_channels=1, classes=10)
# Without SyncBatchNorm each rank keeps the running statistics of its shard (DDPSession.wrap does not broadcast them).
BN_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "LOCAL_WORLD_SIZE",
                "GROUP_RANK", "TORCHELASTIC_RESTART_COUNT", "TORCHELASTIC_RUN_ID")

# The training both sides run: the job (through DDPSession.wrap/shard) and the single-process reference.
COMMON = textwrap.dedent(f"""
    import torch
    from torch import nn
    import afflib_torch

    def build():
        torch.manual_seed(0)
        return afflib_torch.get_model(**{NET!r})

    def batches():
        gen = torch.Generator().manual_seed(1)
        images = torch.randn({STEPS}, {GLOBAL_BATCH}, 1, 28, 28, generator=gen)
        labels = torch.randint(0, 10, ({STEPS}, {GLOBAL_BATCH}), generator=gen)
        return list(zip(images, labels))

    def train(model, step_loss, bn_train):
        model.train(bn_train)
        opt = torch.optim.SGD(model.parameters(), lr={LR}, momentum=0.9, nesterov=True, weight_decay=1e-4)
        for images, labels in batches():
            opt.zero_grad()
            step_loss(model, images, labels).backward()
            opt.step()
        return model
""")

JOB = COMMON + textwrap.dedent("""
    import hashlib, os, sys
    from afflib_torch.train.distributed import DDPSession, make_session

    out = sys.argv[1]
    session = make_session("cpu", timeout_s=30)
    assert isinstance(session, DDPSession), type(session)
    parts, index = session.shard

    def shard_loss(model, images, labels):
        return nn.functional.cross_entropy(model(images[index::parts]), labels[index::parts])

    for bn_train in (False, True):
        wrapped = train(session.wrap(build()), shard_loss, bn_train)
        model = wrapped.module
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        digest = hashlib.sha1(b"".join(p.detach().numpy().tobytes() for p in model.parameters())).hexdigest()
        print(f"rank {session.rank} bn_train={bn_train} sha1={digest}", flush=True)
        if session.is_chief:
            torch.save(state, os.path.join(out, f"bn_train={bn_train}.pt"))
        if session.validates:   # rank 0 alone, through the wrapper, as the loop validates: no collective may run
            with torch.no_grad():
                wrapped.eval()
                wrapped(batches()[0][0])
        session.barrier()
    print(f"rank {session.rank} of {session.world_size} chief={session.is_chief} validates={session.validates} "
          f"sum={session.all_sum([1.0, session.rank])}", flush=True)
    session.barrier()
    session.finish()
""")

# Trains until killed; each rank writes its pid (the files are the test's handle on the workers).
ENDLESS = textwrap.dedent("""
    import os, sys, torch
    from afflib_torch.train.distributed import make_session

    session = make_session("cpu", timeout_s=float(sys.argv[2]))
    model = session.wrap(torch.nn.Linear(4, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    step = 0
    while True:
        model(torch.randn(4, 4)).sum().backward()
        opt.step()
        session.all_sum([1.0])
        step += 1
        if step == 3:
            with open(os.path.join(sys.argv[1], f"pid{session.rank}"), "w") as f:
                f.write(str(os.getpid()))
""")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def torchrun(target: Sequence[str], cwd: Path, max_restarts: int = 0) -> subprocess.Popen:
    """Start ``python -m torch.distributed.run`` with 2 CPU processes over 127.0.0.1 on a free port; ``target``:
    a script and its arguments, or ``-m module ...``. Output: one pipe. Restarts need the c10d rendezvous:
    with the static one (``--master_addr/--master_port``) the restarted gloo group reads the first attempt's
    addresses and fails ("connectFullMesh failed ... Connection refused", torch 2.13)."""
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_ENV}
    env.update(OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo", PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join([str(REPO)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    rendezvous = (["--max-restarts", str(max_restarts), "--rdzv-backend", "c10d", "--rdzv-endpoint",
                   f"127.0.0.1:{_free_port()}"] if max_restarts else
                  ["--master_addr", "127.0.0.1", "--master_port", str(_free_port())])
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", *rendezvous,
           *[str(a) for a in target]]
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def finish(job: subprocess.Popen, timeout_s: float) -> str:
    try:
        out, _ = job.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(job.pid, signal.SIGKILL)
        out, _ = job.communicate()
        pytest.fail(f"torchrun job still running after {timeout_s} s:\n{out[-4000:]}")
    return out


# --- the environment and refusals (no process group) -------------------------------------------------------------

def test_outside_torchrun_the_session_is_the_single_process_one():
    session = make_session("cpu", environ={})
    assert type(session) is TorchSession
    assert (session.rank, session.world_size, session.is_chief, session.validates) == (0, 1, True, True)
    assert session.shard == (1, 0) and session.all_sum([2.0, 3.5]) == [2.0, 3.5]
    assert session.device == torch.device("cpu")
    with pytest.warns(UserWarning, match="--sync-bn ignored"):
        flags = argparse.Namespace(device="cpu", sync_bn=True)      # a training tool's parsed flags
        assert make_session(flags, environ={}).device == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="--device cuda: .*sees no CUDA GPU"):
            make_session("cuda", environ={})


@pytest.mark.parametrize("environ, message", [
    ({"WORLD_SIZE": "2"}, "WORLD_SIZE=2 is set but RANK, LOCAL_RANK, MASTER_ADDR, MASTER_PORT are not"),
    ({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1"}, "MASTER_PORT is not"),
    ({"RANK": "2", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "h", "MASTER_PORT": "1"},
     "RANK=2 must be between 0 and 1"),
    ({"RANK": "x", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "h", "MASTER_PORT": "1"},
     "RANK='x' is not an integer"),
    ({"RANK": "0", "WORLD_SIZE": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "h", "MASTER_PORT": "1"},
     "WORLD_SIZE=0 must be at least 1"),
])
def test_a_partial_or_bad_torchrun_environment_is_refused(environ, message):
    with pytest.raises(DistributedSetupError, match=message.replace("(", r"\(")) as err:
        make_session("cpu", environ=environ)
    assert isinstance(err.value, ValueError)    # the CLIs turn ValueErrors into exit status 2


def test_the_environment_of_a_torchrun_worker_is_read():
    env = torchrun_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "MASTER_ADDR": "node0",
                        "MASTER_PORT": "29500", "TORCHELASTIC_RESTART_COUNT": "2"})
    assert (env.rank, env.world_size, env.local_rank, env.master_addr, env.master_port, env.restart_count) == \
        (3, 4, 1, "node0", 29500, 2)


def test_a_restarted_job_resumes_from_the_last_set(tmp_path):
    environ = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "h", "MASTER_PORT": "1",
               "TORCHELASTIC_RESTART_COUNT": "0"}
    last = tmp_path / "fashion-mnist-cifar_aff_resnet8-last.params"
    assert resume_after_restart(str(tmp_path), "fashion-mnist", "cifar_aff_resnet8", environ) is None
    environ["TORCHELASTIC_RESTART_COUNT"] = "1"
    assert resume_after_restart(str(tmp_path), "fashion-mnist", "cifar_aff_resnet8", environ) is None  # none yet
    last.write_bytes(b"")
    assert resume_after_restart(str(tmp_path), "fashion-mnist", "cifar_aff_resnet8", environ) == str(last)
    assert resume_after_restart(str(tmp_path), "fashion-mnist", "cifar_aff_resnet8", {}) is None


def test_devices_of_a_job():
    assert job_device("cpu", 1) == torch.device("cpu")
    with pytest.raises(DistributedSetupError, match="not a device"):
        job_device("gpu0", 0)
    if torch.cuda.is_available():
        assert job_device("auto", 0) == torch.device("cuda", 0)
        with pytest.raises(DistributedSetupError, match="cuda:LOCAL_RANK"):
            job_device("cuda:0", 0)
    else:
        assert job_device("auto", 1) == torch.device("cpu")
        with pytest.raises(DistributedSetupError, match="needs NCCL on CUDA GPUs.*use --device cpu"):
            job_device("cuda", 0)


def test_the_collective_timeout_comes_from_the_environment_when_not_given():
    environ = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1",
               "AFFLIB_DDP_TIMEOUT_S": "soon"}
    with pytest.raises(DistributedSetupError, match="AFFLIB_DDP_TIMEOUT_S='soon' is not a number"):
        make_session("cpu", environ=environ)
    assert DEFAULT_TIMEOUT_S >= 300


def test_sync_batchnorm_is_refused_on_cpu_because_torch_cannot_run_it_there():
    """The refusal stays honest: torch's own SyncBatchNorm still fails on CPU tensors in a gloo group."""
    with pytest.raises(DistributedSetupError, match="--sync-bn: torch's SyncBatchNorm runs on GPUs only"):
        check_sync_bn(torch.device("cpu"))
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        bn = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.BatchNorm2d(3)))
        with pytest.raises(ValueError, match="expected input tensor to be on GPU"):
            bn(torch.randn(2, 3, 4, 4))
    finally:
        dist.destroy_process_group()


# --- real torchrun jobs ---------------------------------------------------------------------------------------------

def _reference(bn_train: bool) -> dict:
    """One process, the whole global batch per step (BN eval) or the mean of the two shards' losses (BN train)."""
    scope: dict = {}
    exec(COMMON, scope)     # noqa: S102 - the same training code the job runs

    def global_loss(model, images, labels):
        if not bn_train:
            return nn.functional.cross_entropy(model(images), labels)
        return sum(nn.functional.cross_entropy(model(images[k::2]), labels[k::2]) for k in range(2)) / 2

    return scope["train"](scope["build"](), global_loss, bn_train).state_dict()


@pytest.mark.slow
def test_two_ranks_end_with_identical_weights_equal_to_one_process_with_the_global_batch(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(JOB)
    out = tmp_path / "out"
    out.mkdir()
    started = time.monotonic()
    job = torchrun([script, out], tmp_path)
    log = finish(job, 240)
    print(f"torchrun equivalence job: {time.monotonic() - started:.1f} s")
    assert job.returncode == 0, log[-4000:]
    digests = re.findall(r"rank (\d) bn_train=(\w+) sha1=([0-9a-f]{40})", log)
    assert len(digests) == 4, log[-3000:]
    for bn_train in ("False", "True"):     # the parameters, bit for bit
        assert len({d for _, b, d in digests if b == bn_train}) == 1, f"ranks differ (bn_train={bn_train})"
    assert "rank 0 of 2 chief=True validates=True sum=[2.0, 1.0]" in log
    assert "rank 1 of 2 chief=False validates=False sum=[2.0, 1.0]" in log
    assert sorted(p.name for p in out.iterdir()) == ["bn_train=False.pt", "bn_train=True.pt"]   # rank 0 only

    for bn_train in (False, True):
        job_state = torch.load(out / f"bn_train={bn_train}.pt")
        reference = _reference(bn_train)
        initial = _initial()
        names = [n for n in reference if not (bn_train and n.rsplit(".", 1)[-1] in BN_BUFFERS)]
        moved = max(float((reference[n] - initial[n]).abs().max()) for n in names if reference[n].is_floating_point())
        assert moved > 1e-3, "the steps changed nothing: the comparison would be empty"
        for name in names:
            torch.testing.assert_close(job_state[name], reference[name], rtol=1e-5, atol=1e-6, msg=name)


def _initial() -> dict:
    scope: dict = {}
    exec(COMMON, scope)     # noqa: S102
    return scope["build"]().state_dict()


def _kill_workers(folder: Path) -> None:
    """SIGKILL the workers this test started that are still there (a failed assertion must not leave them)."""
    for pid_file in folder.glob("pid[01]"):
        try:
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def _wait_for(paths, job: subprocess.Popen, timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while not all(p.exists() and p.read_text() for p in paths):
        if job.poll() is not None:
            pytest.fail(f"job ended before its workers started:\n{job.stdout.read()[-4000:]}")
        if time.monotonic() > end:
            os.killpg(job.pid, signal.SIGKILL)
            pytest.fail(f"workers not started after {timeout_s} s")
        time.sleep(0.2)


def _signal_rank_1(folder: Path, sig: signal.Signals, timeout_s: str) -> Tuple[int, str, float]:
    """Run the endless job, send ``sig`` to rank 1 once both train; (exit status, output, seconds it took to end)."""
    script = folder / "endless.py"
    script.write_text(ENDLESS)
    job = torchrun([script, folder, timeout_s], folder)
    _wait_for([folder / "pid0", folder / "pid1"], job, 180)
    sent = time.monotonic()
    try:
        os.kill(int((folder / "pid1").read_text()), sig)
        log = finish(job, 180)
    finally:
        _kill_workers(folder)
    took = time.monotonic() - sent
    print(f"job ended {took:.1f} s after {sig.name} of rank 1 (collective timeout {timeout_s} s)")
    return job.returncode, log, took


@pytest.mark.slow
def test_a_killed_rank_ends_the_whole_job_with_a_clear_message(tmp_path):
    status, log, took = _signal_rank_1(tmp_path, signal.SIGKILL, "60")
    assert status != 0
    assert took < 60, log[-3000:]
    # torchrun names the dead rank as the root cause, then the rank it stopped
    assert re.search(r"Root Cause.*?rank\s*: 1 \(local_rank: 1\).*?Signal 9 \(SIGKILL\)", log, re.S), log[-3000:]


@pytest.mark.slow
def test_a_hung_rank_ends_the_job_after_the_collective_timeout(tmp_path):
    """A stopped (not dead) rank, like a machine gone silent: torchrun sees it alive; the collective timeout
    fails rank 0, and torchrun then stops the job (SIGTERM, SIGKILL after its 30 s grace)."""
    status, log, took = _signal_rank_1(tmp_path, signal.SIGSTOP, "5")
    assert status != 0
    assert took < 90, log[-3000:]
    assert re.search(r"Root Cause.*?rank\s*: 0 \(local_rank: 0\)", log, re.S), log[-3000:]
    assert "Timed out waiting 5000ms" in log, log[-3000:]
