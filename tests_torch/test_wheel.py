"""A wheel built from a clean clone, installed non-editable: the PyTorch engine's ``pretrained=True`` goes through
the same store and hash check and fails offline naming the released file (not a missing table)."""
import subprocess

import pytest

from wheel_helpers import check_offline_pretrained


@pytest.mark.slow
def test_installed_wheel_pretrained_offline_error_names_the_released_file(tmp_path):
    target, env, work = check_offline_pretrained(tmp_path, "afflib_torch")
    converted = subprocess.run([str(target / "bin" / "afflib-convert"), "--help"], cwd=work, env=env,
                               capture_output=True, text=True, timeout=120)
    assert converted.returncode == 0 and "--model" in converted.stdout, converted.stderr[-3000:]
