"""Tests of the framework-free core (``afflib.core``): run in both environments, `.venv` and `.venv-torch`."""


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: end-to-end test of a minute or more (still run in CI)")


from exec_guard import _no_exec_in_the_test_process  # noqa: E402,F401  (autouse: no os.exec* in the test process)
