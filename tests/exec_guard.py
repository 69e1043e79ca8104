"""Test helper (framework-free): an autouse fixture the three suites' conftests import. A tool that re-runs itself
in the other environment (os.execve) would replace pytest and end it with the tool's status; in-process calls must
not get there (subprocess calls may)."""
import os

import pytest


@pytest.fixture(autouse=True)
def _no_exec_in_the_test_process(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"os.exec* called inside the test process: {args[:2]}")
    for name in ("execv", "execve", "execvp", "execvpe"):
        monkeypatch.setattr(os, name, refuse)
