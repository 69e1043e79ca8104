"""Run the project's scripts as a user would (subprocess), with the checkout importable."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]


def script_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def run_script(name: str, *args, cwd=None, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(REPO / "scripts" / name)] + [str(a) for a in args]
    proc = subprocess.run(cmd, cwd=cwd, env=script_env(), capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"{name} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def run_script_until(name: str, *args, line_prefix: str, action: Callable[[subprocess.Popen], None],
                     timeout: int = 300) -> Tuple[int, str, str]:
    """Run a script; when a stdout line starts with ``line_prefix``, call ``action(process)`` (send a signal, break
    a folder...); then wait. Returns (exit status, rest of stdout, stderr)."""
    cmd = [sys.executable, str(REPO / "scripts" / name)] + [str(a) for a in args]
    proc = subprocess.Popen(cmd, env=script_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith(line_prefix):
            action(proc)
            break
    stdout, stderr = proc.communicate(timeout=timeout)
    return proc.returncode, stdout, stderr


FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")   # Debian's dataset-fashion-mnist (.ci/run installs it)


def read_idx(path: Path):
    """A uint8 IDX array (plain or .gz) -- numpy only, so both test environments can use it."""
    import gzip
    import struct
    import numpy as np
    raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    dims = struct.unpack(f">{raw[3]}I", raw[4:4 + 4 * raw[3]])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * raw[3]).reshape(dims)


def write_idx(path: Path, array) -> None:
    """An IDX file (the MNIST format) of a uint8 array."""
    import struct
    import numpy as np
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write_fashion_subset(root: Path, train_images: int, test_images: int) -> Path:
    """The first images of the real Fashion-MNIST training and test sets as IDX files in ``root``;
    FileNotFoundError (callers skip) when Debian's package is not installed."""
    root.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", train_images), ("t10k", test_images)):
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            source = FASHION_MNIST / f"{prefix}-{kind}.gz"
            if not source.is_file():
                raise FileNotFoundError(f"{source} not found (apt-get install dataset-fashion-mnist)")
            write_idx(root / f"{prefix}-{kind}", read_idx(source)[:n])
    return root


def fashion_subset_or_skip(tmp_path_factory, name: str, train_images: int, test_images: int) -> Path:
    """:func:`write_fashion_subset` into a fresh temp folder for a module fixture; skips the tests (with the reason)
    where Fashion-MNIST is not installed."""
    import pytest
    try:
        return write_fashion_subset(tmp_path_factory.mktemp(name), train_images, test_images)
    except FileNotFoundError as err:
        pytest.skip(f"Fashion-MNIST is not installed: {err}")


def batch_lrs(log_text: str, epoch: int) -> List[str]:
    """The lr= values of the ``Epoch[epoch] Batch [i]`` lines, as printed."""
    return re.findall(r"^Epoch\[%d\] Batch \[\d+\]\tSpeed: [\d.]+ samples/sec\tloss=[\d.]+\tlr=([\d.]+)$" % epoch,
                      log_text, flags=re.M)


def validation(log_text: str) -> Dict[int, tuple]:
    """{epoch: (err-top1, err-top5)} strings from ``[Epoch N] validation: ...`` lines."""
    return {int(e): (a, b) for e, a, b in
            re.findall(r"^\[Epoch (\d+)\] validation: err-top1=([\d.]+) err-top5=([\d.]+)$", log_text, flags=re.M)}


def help_options(help_text: str) -> Dict[str, str]:
    """{invocation: help text} of the options in an argparse ``--help`` output (wrapped lines joined)."""
    entries: Dict[str, str] = {}
    current = None
    for line in help_text.splitlines():
        if re.match(r"^  -", line):
            invocation, _, text = line.strip().partition("  ")
            current = invocation.strip()
            entries[current] = text.strip()
        elif current and re.match(r"^ {4,}\S", line):
            entries[current] = (entries[current] + " " + line.strip()).strip()
        else:
            current = None
    return entries


def undocumented_options(help_text: str) -> List[str]:
    """Options of a ``--help`` output without an explanation, or taking a value without saying its default."""
    bad = []
    for invocation, text in help_options(help_text).items():
        takes_value = any(" " in part.strip() for part in invocation.split(","))
        if not text or (takes_value and "default" not in text.lower() and "required" not in text.lower()):
            bad.append(f"{invocation}: {text!r}")
    return bad
