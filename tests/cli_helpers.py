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
