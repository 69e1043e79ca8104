"""Run the project's scripts as a user would (subprocess), with the checkout importable."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

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


def batch_lrs(log_text: str, epoch: int) -> List[str]:
    """The lr= values of the ``Epoch[epoch] Batch [i]`` lines, as printed."""
    return re.findall(r"^Epoch\[%d\] Batch \[\d+\]\tSpeed: [\d.]+ samples/sec\tloss=[\d.]+\tlr=([\d.]+)$" % epoch,
                      log_text, flags=re.M)


def validation(log_text: str) -> Dict[int, tuple]:
    """{epoch: (err-top1, err-top5)} strings from ``[Epoch N] validation: ...`` lines."""
    return {int(e): (a, b) for e, a, b in
            re.findall(r"^\[Epoch (\d+)\] validation: err-top1=([\d.]+) err-top5=([\d.]+)$", log_text, flags=re.M)}
