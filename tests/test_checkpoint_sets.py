"""Checkpoint sets as one unit (issue 12 §3): kill -9 between members, garbled members, umask modes, stale temps.

The library tests commit real sets in real processes; the script tests train a tiny model on a Fashion-MNIST
subset with scripts/train_cifar.py, kill it with SIGKILL between two members of its -last set (the
AFFLIB_TEST_KILL_AFTER hook of afflib.core.checkpoint_record), resume it, and garble a member in the middle.
"""
import json
import os
import re
import signal
import stat
import subprocess
import sys

import pytest

from afflib.core.checkpoint_record import RecordMismatch, commit_set, read_record, verify_member, verify_set
from afflib.core.fileio import atomic_write, remove_stale_temp
from afflib.train.checkpoint import find_resume_point
from cli_helpers import REPO, batch_lrs, fashion_subset_or_skip, run_script, script_env
from test_cli_cifar import SMALL_NET

MODEL = "cifar_aff_resnet8-c1"


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _garble_middle(path, size=5000, seed=0):
    """Overwrite ``size`` bytes in the middle of ``path`` with random bytes (same length, so no size check helps)."""
    import numpy as np
    data = bytearray(open(path, "rb").read())
    start = len(data) // 2 - size // 2
    data[start:start + size] = np.random.RandomState(seed).bytes(size)
    open(path, "wb").write(bytes(data))


# ---------------------------------------------------------------- the library, in real processes
COMMIT = """
from afflib.core.checkpoint_record import commit_set
stem = {stem!r}
for epoch in range(2):
    commit_set(stem, [(".params", lambda t, e=epoch: open(t, "wb").write(b"weights %d" % e)),
                      (".states", lambda t, e=epoch: open(t, "wb").write(b"states %d" % e))],
               {{"params": "s.params", "states": "s.states", "next_epoch": epoch + 1, "model": "m"}})
"""


@pytest.mark.parametrize("member,resumed_epoch", [("s.params", 1), ("s.states", 1), ("s.json", 2)])
def test_kill9_between_members_leaves_a_complete_set(tmp_path, member, resumed_epoch):
    """SIGKILL after any member of the second set is in place: resume gets one consistent set, never a mix."""
    stem = str(tmp_path / "s")
    env = dict(script_env(), AFFLIB_TEST_KILL_AFTER=f"{member}@2")
    proc = subprocess.run([sys.executable, "-c", COMMIT.format(repo=str(REPO), stem=stem)], env=env)
    assert proc.returncode == -signal.SIGKILL
    point = find_resume_point(stem + ".params")
    assert point.start_epoch == resumed_epoch
    epoch = resumed_epoch - 1
    assert open(point.params, "rb").read() == b"weights %d" % epoch
    assert open(point.states, "rb").read() == b"states %d" % epoch
    if member != "s.json":  # the current names are mixed: a loader refuses the file, naming it
        with pytest.raises(RecordMismatch, match=f"{member}.* does not match its checkpoint record .*s.json"):
            verify_member(tmp_path / member)
    # the next commit puts a complete set in place and removes the -prev set and (at run start) the temp files
    remove_stale_temp(tmp_path)
    commit_set(stem, [(".params", lambda t: open(t, "wb").write(b"w")), (".states", lambda t: open(t, "wb").write(b"s"))],
               {"params": "s.params", "states": "s.states", "next_epoch": 3, "model": "m"})
    assert sorted(os.listdir(tmp_path)) == ["s.json", "s.params", "s.states"]
    assert verify_set(stem + ".json")["next_epoch"] == 3


def test_files_get_the_mode_of_the_umask(tmp_path):
    """mkstemp makes 0600 files; every output gets 0666 less the umask instead (two umasks)."""
    saved = os.umask(0o022)
    try:
        for mask in (0o022, 0o077):
            os.umask(mask)
            folder = tmp_path / oct(mask)
            atomic_write(str(folder / "a.png"), lambda t: open(t, "wb").write(b"png"))
            commit_set(str(folder / "c"), [(".params", lambda t: open(t, "wb").write(b"p"))], {"params": "c.params"})
            for name in ("a.png", "c.params", "c.json"):
                assert _mode(folder / name) == 0o666 & ~mask, name
    finally:
        os.umask(saved)


def test_stale_temp_files_removed_only_by_afflib_pattern(tmp_path):
    ours = [".x-last.params.ab12_x9z.tmp", ".tmp-k3j4h5g6.params"]
    theirs = ["notes.tmp", ".hidden", "x-last.params", ".x.tmp", ".x.params.TOOLONGNAME.tmp"]
    for name in ours + theirs:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ours[0]).write_bytes(b"x")
    assert remove_stale_temp(tmp_path) == sorted(ours)
    assert sorted(os.listdir(tmp_path)) == sorted(theirs + ["sub"])
    assert os.listdir(tmp_path / "sub") == [ours[0]]


def test_damaged_record_and_missing_member_are_named(tmp_path):
    stem = str(tmp_path / "s")
    commit_set(stem, [(".params", lambda t: open(t, "wb").write(b"w" * 100))], {"params": "s.params"})
    with open(stem + ".params", "ab") as f:  # a longer file: size differs
        f.write(b"x")
    with pytest.raises(RecordMismatch, match=r"s.params does not match .*101 bytes, recorded 100"):
        verify_member(stem + ".params")
    os.remove(stem + ".params")
    with pytest.raises(RecordMismatch, match=r"s.params is missing"):
        verify_set(stem + ".json")
    open(stem + ".json", "w").write('{"members": {')
    with pytest.raises(RecordMismatch, match=r"record .*s.json is damaged"):
        read_record(stem + ".json")


# ---------------------------------------------------------------- the training script, killed and resumed
@pytest.fixture(scope="module")
def tiny_fashion(tmp_path_factory):
    """512 training and 256 test images of the real Fashion-MNIST (IDX files)."""
    return fashion_subset_or_skip(tmp_path_factory, "fmnist-tiny", 512, 256)


def _train(data, out, epochs, *extra, env=None):
    args = ["--dataset", "fashion-mnist", "--data-dir", data, "--rec-dir", out.parent / "rec", *SMALL_NET,
            "--batch-size", "32", "--num-epochs", epochs, "--lr", "0.1", "--cosine", "--warmup-epochs", "1",
            "--save-dir", out, "--logging-dir", out, "--save-plot-dir", "", "--save-period", "1", "--no-progress",
            "--log-interval", "4", *extra]
    cmd = [sys.executable, str(REPO / "scripts" / "train_cifar.py")] + [str(a) for a in args]
    return subprocess.run(cmd, env=dict(script_env(), **(env or {})), capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_training_killed_between_members_resumes_from_a_complete_set(tiny_fashion, tmp_path):
    out = tmp_path / "out"
    last = out / f"fashion-mnist-{MODEL}-last.params"
    saved = os.umask(0o027)
    try:  # killed right after epoch 1's weights replaced -last.params, before its states and record
        killed = _train(tiny_fashion, out, 2, env={"AFFLIB_TEST_KILL_AFTER": last.name + "@2"})
    finally:
        os.umask(saved)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert "[Epoch 1] training:" in killed.stdout and "[Epoch 1] validation" not in killed.stdout
    assert _mode(last) == _mode(out / "history.json") == 0o640
    stale = [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    assert stale == [f".fashion-mnist-{MODEL}-last.states.{stale[0].split('.')[-2]}.tmp"]

    resumed = _train(tiny_fashion, out, 2, "--resume-from", last)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert re.search(rf"{re.escape(str(last))} does not match its checkpoint record .*-last.json: SHA-256 differs .*; "
                     rf"falling back to the newest complete checkpoint set of this run: .*-last-prev.json "
                     rf"\(next epoch 1\)", resumed.stdout)
    assert f"removed 1 stale temporary file(s) of killed writes from {out}: {stale[0]}" in resumed.stdout
    assert f"from {out}/fashion-mnist-{MODEL}-last-prev.params at epoch 1" in resumed.stdout
    assert batch_lrs(resumed.stdout, 0) == [] and batch_lrs(resumed.stdout, 1) == batch_lrs(killed.stdout, 1)
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp") or "-prev" in p.name]
    assert verify_set(str(out / f"fashion-mnist-{MODEL}-last.json"))["next_epoch"] == 2

    # 5 kB of random bytes in the middle of the weights: eval refuses naming the file, resume falls back
    _garble_middle(last)
    common = ["--dataset", "fashion-mnist", "--data-dir", tiny_fashion, "--rec-dir", tmp_path / "rec", *SMALL_NET]
    proc = run_script("eval_cifar.py", *common, "--params", last, "--no-progress", check=False)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        f"error: {last} does not match its checkpoint record {out}/fashion-mnist-{MODEL}-last.json: SHA-256 differs "
        f"(damaged or replaced after the checkpoint was written)"]
    again = _train(tiny_fashion, out, 3, "--resume-from", last, "--allow-recipe-change")  # 2 -> 3 epochs
    assert again.returncode == 0, again.stderr[-2000:]
    assert re.search(r"-last.params does not match its checkpoint record .*; falling back to the newest complete "
                     rf"checkpoint set of this run: .*/fashion-mnist-{MODEL}-1.json \(next epoch 2\)", again.stdout)
    assert [h["epoch"] for h in json.loads((out / "history.json").read_text())["epochs"]] == [0, 1, 2]
