"""Checkpoint names and resume resolution of the core (framework-free): real sets written by ``commit_set``."""
from __future__ import annotations

import logging
import os

import pytest

from afflib.core.checkpoint_record import RecordMismatch, commit_set
from afflib.core.checkpoints import best_stem, find_resume_point, last_stem, periodic_stem


def test_names_sort_and_read_as_the_release_wrote_them():
    assert last_stem("cifar100", "cifar_aff_resnet32") == "cifar100-cifar_aff_resnet32-last"
    assert periodic_stem("imagenet", "aff_resnet50", 9) == "imagenet-aff_resnet50-9"
    assert best_stem(0.20301, "imagenet", "aff_resnet50", 230) == "0.2030-imagenet-aff_resnet50-230-best"


def _write_set(folder, stem: str, payload: bytes, next_epoch: int) -> str:
    path = os.path.join(folder, stem)

    def writer(data):
        return lambda tmp: open(tmp, "wb").write(data)

    commit_set(path, [(".params", writer(payload)), (".states", writer(b"states" + payload))],
               {"model": "tiny", "params": stem + ".params", "states": stem + ".states", "next_epoch": next_epoch})
    return path


def test_resume_reads_states_and_next_epoch_beside_the_params(tmp_path):
    stem = _write_set(str(tmp_path), last_stem("toy", "tiny"), b"weights-2", next_epoch=2)
    point = find_resume_point(stem + ".params")
    assert (point.params, point.states, point.start_epoch) == (stem + ".params", stem + ".states", 2)
    assert find_resume_point(stem + ".params", epoch=0).start_epoch == 0


def test_a_damaged_set_falls_back_to_the_newest_complete_one_and_says_so(tmp_path, caplog):
    older = _write_set(str(tmp_path), periodic_stem("toy", "tiny", 0), b"weights-1", next_epoch=1)
    last = _write_set(str(tmp_path), last_stem("toy", "tiny"), b"weights-2", next_epoch=2)
    with open(last + ".params", "ab") as f:
        f.write(b"torn")
    log = logging.getLogger("test-resume")
    with caplog.at_level(logging.WARNING, logger="test-resume"):
        point = find_resume_point(last + ".params", log=log)
    assert (point.params, point.start_epoch) == (older + ".params", 1)
    assert "falling back" in caplog.text and os.path.basename(older) in caplog.text
    with pytest.raises(RecordMismatch, match="tiny-last.params"):
        find_resume_point(last + ".params", epoch=2)    # explicit epoch: no silent fallback


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.params"):
        find_resume_point(str(tmp_path / "nope.params"))
