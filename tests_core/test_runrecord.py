"""Run records (``afflib.core.runrecord``): the network as registry name + kwargs, the dataset and the recipe,
written and read back without any CLI flag name; records of earlier versions of main still load."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from afflib.core.modelspec import ModelSpec
from afflib.core.runrecord import (RECORD_FORMAT, RUN_CONFIG, RunRecord, read_run_record, record_entries,
                                   record_from_config)

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
FMNIST_SPEC = "cifar_aff_resnet8(channels=[16,16,32,64], in_channels=1, classes=10)"


def _round_trip(record: RunRecord, tmp_path: Path, args: dict = None) -> RunRecord:
    config = dict(record_entries(record), args=args or {})
    (tmp_path / RUN_CONFIG).write_text(json.dumps(config))
    return read_run_record(str(tmp_path / "any.params"))


def test_a_cifar_record_round_trips(tmp_path):
    spec = ModelSpec.create("cifar_aff_resnet8", channels=[16, 16, 32, 64], in_channels=1, classes=10)
    read = _round_trip(RunRecord(spec, "fashion-mnist", 10, 1), tmp_path)
    assert read == RunRecord(spec, "fashion-mnist", 10, 1, str(tmp_path / RUN_CONFIG))
    assert read.spec.text() == FMNIST_SPEC and read.label_set == "fashion-mnist"


def test_an_imagenet_record_keeps_size_crop_and_recipe(tmp_path):
    spec = ModelSpec.create("iaff_resnext50_32x4d", classes=100, start_layer=2)
    record = RunRecord(spec, "imagenet", 100, 3, input_size=192, crop_ratio=0.9, recipe="imagenet-iaff-resnext50")
    entries = record_entries(record)
    assert entries["record_format"] == RECORD_FORMAT
    assert entries["network"] == {"name": "iaff_resnext50_32x4d", "kwargs": {"start_layer": 2, "classes": 100},
                                  "text": spec.text()}
    assert entries["dataset"] == {"name": "imagenet", "coarse_labels": False, "classes": 100, "in_channels": 3,
                                  "input_size": 192, "crop_ratio": 0.9}
    read = _round_trip(record, tmp_path)
    assert (read.spec, read.input_size, read.crop_ratio, read.recipe) == (spec, 192, 0.9, "imagenet-iaff-resnext50")


def test_the_record_is_read_without_flag_names(tmp_path):
    """The flat ``args`` copy is for people: flags that contradict the record (or are renamed, or missing) change
    nothing, and a record without ``args`` loads."""
    spec = ModelSpec.create("cifar_aff_resnet8", channels=[16, 16, 32, 64], in_channels=1, classes=10)
    misleading = {"model": "resnext", "askc_type": "iAFF", "blocks": 9, "channel_times": 4, "dataset": "cifar100"}
    assert _round_trip(RunRecord(spec, "fashion-mnist", 10, 1), tmp_path, misleading).spec.text() == FMNIST_SPEC
    config = record_entries(RunRecord(spec, "fashion-mnist", 10, 1))
    assert record_from_config(config, "run_config.json").spec == spec


@pytest.mark.parametrize("fixture, what", [("run_config_13122a3.json", "flags only"),
                                           ("run_config_ed509e5.json", "issue-12 model_spec")])
def test_records_of_earlier_main_still_load(fixture, what, tmp_path):
    shutil.copy(FIXTURES / fixture, tmp_path / RUN_CONFIG)
    record = read_run_record(str(tmp_path / "fashion-mnist-cifar_aff_resnet8-c1-last.params"))
    assert record.spec.text() == FMNIST_SPEC, what
    assert (record.dataset, record.classes, record.in_channels, record.coarse_labels) == ("fashion-mnist", 10, 1,
                                                                                         False)
    assert record.recipe is None


def test_bad_records_name_the_file(tmp_path):
    path = str(tmp_path / RUN_CONFIG)
    with pytest.raises(ValueError, match="run_config.json is not a run record"):
        record_from_config([1, 2], path)
    with pytest.raises(ValueError, match="has neither a 'network' record nor an 'args' record"):
        record_from_config({"model": "x"}, path)
    with pytest.raises(ValueError, match=r"run_config.json: bad run record \(KeyError: 'classes'\)"):
        record_from_config({"network": {"name": "cifar_aff_resnet20"}, "dataset": {"name": "cifar10",
                                                                                 "in_channels": 3}}, path)
    with pytest.raises(ValueError, match="run_config.json: bad run record .*unknown model 'no_such_net'"):
        record_from_config({"network": {"name": "no_such_net", "kwargs": {}},
                            "dataset": {"name": "cifar10", "classes": 10, "in_channels": 3}}, path)
    (tmp_path / RUN_CONFIG).write_text("{not json")
    with pytest.raises(ValueError, match="not a readable run record"):
        read_run_record(str(tmp_path / "a.params"))
    assert read_run_record(str(tmp_path / "elsewhere" / "a.params")) is None
