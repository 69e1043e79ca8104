"""A wheel built from a clean clone, installed non-editable: the released table ships in it, so the MXNet
engine's ``pretrained=True`` fails offline naming the released file (not a missing table); console scripts run."""
import pytest

from wheel_helpers import check_offline_pretrained


@pytest.mark.slow
def test_installed_wheel_pretrained_offline_error_names_the_released_file(tmp_path):
    check_offline_pretrained(tmp_path, "afflib", "afflib-download-params --list", "cifar_aff_resnet32-fine-")
