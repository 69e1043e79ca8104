"""A wheel built from a clean clone, installed non-editable: the PyTorch engine's ``pretrained=True`` goes through
the same store and hash check and fails offline naming the released file (not a missing table)."""
import pytest

from wheel_helpers import check_offline_pretrained


@pytest.mark.slow
def test_installed_wheel_pretrained_offline_error_names_the_released_file(tmp_path):
    check_offline_pretrained(tmp_path, "afflib_torch", "afflib-convert --help", "--model")
