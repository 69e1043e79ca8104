"""Build afflib's wheel from a clean clone of the committed tree and install it non-editable (framework-free).

Used by tests/test_wheel.py (MXNet environment) and tests_torch/test_wheel.py (PyTorch environment): each runs
its engine's ``get_model(..., pretrained=True)`` from the installed wheel, in another folder, against a closed
port, and expects the store's offline error naming the released file.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

from afflib.core.released import resolve_released
from params_server import closed_port
from reference import REPO


def _can_build_without_isolation() -> bool:
    """setuptools >= 70.1 builds wheels itself; older ones need the ``wheel`` package."""
    try:
        import setuptools
    except ImportError:
        return False
    major, minor = (int(part) for part in setuptools.__version__.split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


def install_wheel_from_clone(tmp: Path) -> Path:
    """Clone this checkout's HEAD into ``tmp``, ``pip wheel`` it and ``pip install --target`` the wheel; returns
    the target folder (skips when git, the checkout's history or pip is unavailable)."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs git and a git checkout")
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip(f"not a git checkout: {head.stderr.strip()}")
    clone, dist, target = tmp / "clone", tmp / "dist", tmp / "site"
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(REPO), str(clone)], check=True, timeout=300)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", head.stdout.strip()], check=True, timeout=300)
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(clone)]
    if _can_build_without_isolation():
        build.insert(5, "--no-build-isolation")
    done = subprocess.run(build, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    wheels = sorted(dist.glob("afflib-*.whl"))
    assert len(wheels) == 1, wheels
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                           str(wheels[0])], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return target


def offline_env(target: Path, cache: Path, port: int) -> Dict[str, str]:
    """Only the installed wheel on PYTHONPATH (the environment's site-packages come from the interpreter), an
    empty cache and downloads pointed at a closed port, without retries."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AFFLIB_PARAMS_URL")}
    env.update(PYTHONPATH=str(target), MXNET_HOME=str(cache), AFFLIB_PARAMS_URL=f"http://127.0.0.1:{port}/",
               AFFLIB_DOWNLOAD_RETRIES="0", AFFLIB_DOWNLOAD_TIMEOUT="10", NO_PROXY="127.0.0.1,localhost")
    return env


# Run in the child: the packages come from the wheel, and pretrained=True fails only for want of a network.
PROBE = """
import sys, afflib, {engine} as engine
for module in (afflib, engine):
    assert module.__file__.startswith({target!r}), module.__file__
from afflib.core.store import DownloadError
try:
    engine.get_model("cifar_aff_resnet32", pretrained=True, root={root!r})
except DownloadError as err:
    print(err)
    sys.exit(3)
"""


def check_offline_pretrained(tmp: Path, engine: str, script: str, expected: str) -> None:
    """Install the wheel, run ``<engine>.get_model('cifar_aff_resnet32', pretrained=True)`` from it in another
    folder with no reachable server, and check the error names the released file and where to put it; then run
    the installed console script ``script`` (a command line) and look for ``expected`` in its output."""
    target = install_wheel_from_clone(tmp)
    assert (target / "afflib" / "core" / "released.json").is_file()
    env = offline_env(target, tmp / "home", closed_port())
    root, work = tmp / "cache", tmp / "elsewhere"
    work.mkdir()
    probe = PROBE.format(engine=engine, target=str(target), root=str(root))
    done = subprocess.run([sys.executable, "-c", probe], cwd=work, env=env, capture_output=True, text=True,
                          timeout=300)
    entry = resolve_released("cifar_aff_resnet32", True)
    assert done.returncode == 3, done.stderr[-3000:]
    assert entry.original_name in done.stdout and str(root / entry.cache_name) in done.stdout, done.stdout
    assert "table of released checkpoints" not in done.stdout + done.stderr
    name, *args = script.split()
    ran = subprocess.run([str(target / "bin" / name), *args], cwd=work, env=env, capture_output=True, text=True,
                         timeout=120)
    assert ran.returncode == 0 and expected in ran.stdout, ran.stderr[-3000:]
