"""Files afflib_torch writes carry a checkpoint record; a garbled one is refused by name, exit 2 (issue 12 §3)."""
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import afflib_torch
from afflib.core.checkpoint_record import RecordMismatch
from afflib_torch.convert import load_checkpoint, save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
SMALL = '{"layers": [1, 1, 1], "channels": [8, 8, 16, 32]}'


def _net():
    return afflib_torch.get_model("cifar_aff_resnet20", layers=[1, 1, 1], channels=[8, 8, 16, 32], classes=10)


def _garble_middle(path, size=5000):
    data = bytearray(path.read_bytes())
    start = len(data) // 2 - size // 2
    data[start:start + size] = np.random.RandomState(0).bytes(size)
    path.write_bytes(bytes(data))


def _script(name, *args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / name), *map(str, args)], capture_output=True,
                          text=True)


@pytest.mark.parametrize("suffix", [".pt", ".params"])
def test_garbled_checkpoint_with_record_is_refused_by_name(tmp_path, suffix):
    path = tmp_path / f"net{suffix}"
    save_checkpoint(_net(), path)
    record = json.loads((tmp_path / "net.json").read_text())["members"][path.name]
    assert record["size"] == path.stat().st_size and len(record["sha256"]) == 64
    load_checkpoint(_net(), path)  # intact: loads
    _garble_middle(path)
    with pytest.raises(RecordMismatch, match=f"{path.name} does not match its checkpoint record"):
        load_checkpoint(_net(), path)
    (tmp_path / "test_batch.bin").write_bytes(np.zeros((4, 3073), np.uint8).tobytes())
    result = _script("eval_torch.py", "--dataset", "cifar10", "--model", "cifar_aff_resnet20", "--model-kwargs", SMALL,
                     "--params", path, "--data-dir", tmp_path, "--threads", 1)
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        f"error: {path} does not match its checkpoint record {tmp_path / 'net.json'}: SHA-256 differs "
        "(damaged or replaced after the checkpoint was written)"]
    result = _script("convert.py", "--model", "cifar_aff_resnet20", "--classes", 10, "--model-kwargs", SMALL, path,
                     tmp_path / "out.pt")
    assert result.returncode == 2 and f"{path} does not match its checkpoint record" in result.stderr
    assert not (tmp_path / "out.pt").exists()


def test_converted_file_gets_a_record_and_the_umask_mode(tmp_path):
    saved = os.umask(0o027)
    try:
        save_checkpoint(_net(), tmp_path / "a.params")
        result = _script("convert.py", "--model", "cifar_aff_resnet20", "--classes", 10, "--model-kwargs", SMALL,
                         tmp_path / "a.params", tmp_path / "b.pt")
    finally:
        os.umask(saved)
    assert result.returncode == 0, result.stderr
    for name in ("a.params", "a.json", "b.pt", "b.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640, name
    assert "b.pt" in json.loads((tmp_path / "b.json").read_text())["members"]
    load_checkpoint(_net(), tmp_path / "b.pt")
