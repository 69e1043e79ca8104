"""Tests of the framework-free core (``afflib.core``): run in both environments, `.venv` and `.venv-torch`."""
import pytest



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
