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


from exec_guard import _no_exec_in_the_test_process  # noqa: E402,F401  (autouse: no os.exec* in the test process)
