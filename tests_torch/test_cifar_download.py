"""The PyTorch engine downloads CIFAR as the MXNet engine does (afflib.core.cifar_files), here from a mirror on
127.0.0.1: ``scripts/train_cifar.py --engine torch --dataset cifar10`` fetches the archive into --data-dir, trains,
and a second run reads the files without a request."""
from __future__ import annotations

import functools
import http.server
import io
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import script_env

REPO = Path(__file__).resolve().parents[1]
PER_FILE = 16


def _cifar10_archive(folder: Path) -> dict:
    """A tiny cifar-10-binary.tar.gz (PER_FILE records per .bin) in ``folder``; {name: labels}."""
    rng = np.random.default_rng(0)
    labels = {}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
            label = rng.integers(0, 10, PER_FILE, dtype=np.uint8)
            pixels = rng.integers(0, 256, (PER_FILE, 3072), dtype=np.uint8)
            body = np.concatenate([label[:, None], pixels], axis=1).tobytes()
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
            labels[name] = label
    (folder / "cifar-10-binary.tar.gz").write_bytes(buffer.getvalue())
    return labels


class _Quiet(http.server.SimpleHTTPRequestHandler):
    requests = []

    def log_message(self, *args):
        _Quiet.requests.append(self.path)


@pytest.fixture
def mirror(tmp_path):
    served = tmp_path / "mirror"
    served.mkdir()
    labels = _cifar10_archive(served)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(served)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    _Quiet.requests.clear()
    yield f"http://127.0.0.1:{httpd.server_port}", labels
    httpd.shutdown()
    httpd.server_close()


def _train(data: Path, out: Path, url: str) -> subprocess.CompletedProcess:
    env = dict(script_env(), AFFLIB_CIFAR_URL=url)
    cmd = [sys.executable, str(REPO / "scripts" / "train_cifar.py"), "--engine", "torch", "--dataset", "cifar10",
           "--data-dir", str(data), "--blocks", "1", "--channel-times", "1", "--num-epochs", "1", "--batch-size", "16",
           "--device", "cpu", "--threads", "1", "--no-progress", "--save-dir", str(out), "--save-plot-dir", ""]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def test_torch_engine_downloads_cifar_then_reads_it_offline(tmp_path, mirror):
    url, labels = mirror
    first = _train(tmp_path / "cifar10", tmp_path / "run1", url)
    assert first.returncode == 0, first.stderr[-2000:]
    assert _Quiet.requests and all(r.endswith("cifar-10-binary.tar.gz") for r in _Quiet.requests)
    folder = tmp_path / "cifar10"
    assert sorted(p.name for p in folder.glob("*.bin")) == sorted(labels)
    test_labels = np.frombuffer((folder / "test_batch.bin").read_bytes(), np.uint8)[::3073]
    assert np.array_equal(test_labels, labels["test_batch.bin"])
    assert not [p for p in folder.iterdir() if "partial" in p.name or p.name.startswith(".extract")]
    assert "final test accuracy" in first.stdout
    _Quiet.requests.clear()
    second = _train(tmp_path / "cifar10", tmp_path / "run2", "http://127.0.0.1:9")   # closed port: must not be asked
    assert second.returncode == 0, second.stderr[-2000:]
    assert _Quiet.requests == []


def test_an_unreachable_mirror_is_one_clear_line(tmp_path):
    done = _train(tmp_path / "cifar10", tmp_path / "run", "http://127.0.0.1:9")
    assert done.returncode == 2
    assert "cannot download http://127.0.0.1:9/cifar-10-binary.tar.gz" in done.stderr
    assert "Traceback" not in done.stderr
    assert not any((tmp_path / "cifar10").glob("*partial*"))
