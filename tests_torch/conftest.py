"""Test setup of the PyTorch twin (run in .venv-torch, never beside MXNet: `make test-torch`)."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The package from the checkout, and the MXNet suite's torch-free reference helpers (tests/reference.py).
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: end-to-end test of a minute or more (still run in CI)")


@pytest.fixture(autouse=True)
def _seeded_single_thread():
    import torch
    torch.manual_seed(0)
    torch.set_num_threads(1)
    yield
