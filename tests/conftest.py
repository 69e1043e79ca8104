import pytest
import os

# Helpers of this folder are importable through pytest.ini's `pythonpath`; afflib is the installed one
# (`make` installs the checkout editable).
os.environ.setdefault("MXNET_ENFORCE_DETERMINISM", "1")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: end-to-end test of a minute or more (still run in CI)")


@pytest.fixture(autouse=True)
def _no_exec_in_the_test_process(monkeypatch):
    """A tool that re-runs itself in the other environment (os.execve) would replace pytest and end it with the
    tool's status; in-process calls must not get there (subprocess calls may)."""
    import os

    def refuse(*args, **kwargs):
        raise AssertionError(f"os.exec* called inside the test process: {args[:2]}")
    for name in ("execv", "execve", "execvp", "execvpe"):
        monkeypatch.setattr(os, name, refuse)
