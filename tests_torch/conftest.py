"""Test setup of the PyTorch twin (run in .venv-torch, never beside MXNet: `make test-torch`)."""
import os

import pytest

# afflib and afflib_torch are the installed ones (`make` installs the checkout editable with the [torch] extra);
# the MXNet suite's torch-free reference helpers (tests/reference.py) come through pytest.ini's `pythonpath`.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: end-to-end test of a minute or more (still run in CI)")


@pytest.fixture(autouse=True)
def _seeded_single_thread():
    import torch
    torch.manual_seed(0)
    torch.set_num_threads(1)
    yield


@pytest.fixture(autouse=True)
def _no_exec_in_the_test_process(monkeypatch):
    """A tool that re-runs itself in the other environment (os.execve) would replace pytest and end it with the
    tool's status; in-process calls must not get there (subprocess calls may)."""
    import os

    def refuse(*args, **kwargs):
        raise AssertionError(f"os.exec* called inside the test process: {args[:2]}")
    for name in ("execv", "execve", "execvp", "execvpe"):
        monkeypatch.setattr(os, name, refuse)
