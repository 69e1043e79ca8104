import os

# Helpers of this folder are importable through pytest.ini's `pythonpath`; afflib is the installed one
# (`make` installs the checkout editable).
os.environ.setdefault("MXNET_ENFORCE_DETERMINISM", "1")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: end-to-end test of a minute or more (still run in CI)")


from exec_guard import _no_exec_in_the_test_process  # noqa: E402,F401  (autouse: no os.exec* in the test process)
