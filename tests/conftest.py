import os
import sys
from pathlib import Path

# Tests import helpers from this folder and the package from the checkout, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("MXNET_ENFORCE_DETERMINISM", "1")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: end-to-end test of a minute or more (still run in CI)")
