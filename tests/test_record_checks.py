"""Damaged .rec/.idx pairs: named in one line before epoch 0 (exit 2), never a traceback or a C++ abort.

Real Fashion-MNIST images (a small subset) packed into real record files, then truncated, garbled or mis-indexed;
the training script and the packer run as subprocesses.
"""
import shutil
import struct

import cv2
import mxnet as mx
import numpy as np
import pytest

from afflib.data import fashion_mnist as fm
from afflib.data import imagenet
from afflib.data.ilsvrc import prepare_imagenet
from afflib.data.records import MAGIC, OutputsExistError, RecordFileError, RecordWriter, check_record_file
from afflib.data.synthetic import make_tiny_imagenet
from cli_helpers import run_script
from test_cli_cifar import fashion_subset  # noqa: F401  (the fixture)

SMALL_NET = ["--model", "resnet", "--askc-type", "ASKCFuse", "--blocks", "1", "--channel-times", "1"]


@pytest.fixture(scope="module")
def packed(fashion_subset):
    """IDX files of the first 3,000 training / 1,000 test images of the real Fashion-MNIST, and their records."""
    fm.pack_fashion_mnist(fashion_subset, fashion_subset / "rec")
    return fashion_subset


@pytest.fixture
def rec(packed, tmp_path):
    """A private copy of the packed records, to damage."""
    return shutil.copytree(packed / "rec", tmp_path / "rec")


def _offsets(idx):
    return [int(line.split("\t")[1]) for line in idx.read_text().splitlines()]


def _train(packed, rec, out):
    return run_script("train_cifar.py", "--dataset", "fashion-mnist", "--data-dir", packed, "--rec-dir", rec,
                      *SMALL_NET, "--batch-size", "32", "--num-epochs", "1", "--save-dir", out, "--logging-dir", "",
                      "--save-plot-dir", "", "--no-progress", check=False)


def _assert_named_exit(proc, path, out=None):
    """Exit 2 with one ``error:`` line naming ``path``; no traceback, no abort, no epoch run, no checkpoint."""
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "terminate called" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and str(path) in errors[0] and proc.stderr.rstrip().endswith(errors[0]), proc.stderr
    assert "[Epoch 0]" not in proc.stdout
    if out is not None:
        assert not [p for p in out.glob("*") if p.suffix in (".params", ".states", ".json")]
    return errors[0]


def test_truncated_train_rec_stops_before_epoch_0(packed, rec, tmp_path):
    path = rec / "train.rec"
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 2)
    line = _assert_named_exit(_train(packed, rec, tmp_path / "out"), path, tmp_path / "out")
    assert "offset outside train.rec" in line and "pack_fashion_mnist.py" in line and "--force" in line


def test_random_bytes_in_the_middle_of_train_rec_are_named_not_an_abort(packed, rec, tmp_path):
    path = rec / "train.rec"
    with open(path, "r+b") as handle:
        handle.seek(path.stat().st_size // 2)
        handle.write(np.random.RandomState(0).bytes(4096))
    line = _assert_named_exit(_train(packed, rec, tmp_path / "out"), path, tmp_path / "out")
    assert "record" in line and "train.idx" in line


def test_idx_offset_past_the_end_is_named(packed, rec, tmp_path):
    idx = rec / "train.idx"
    lines = idx.read_text().splitlines()
    size = (rec / "train.rec").stat().st_size
    lines[100] = f"100\t{size + 1000}"
    idx.write_text("".join(line + "\n" for line in lines))
    line = _assert_named_exit(_train(packed, rec, tmp_path / "out"), rec / "train.rec", tmp_path / "out")
    assert f"record 100 (line 101 of train.idx, byte offset {size + 1000}): offset outside train.rec" in line


def test_truncated_test_rec_stops_at_start_naming_test_rec(packed, rec, tmp_path):
    path = rec / "test.rec"
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size - 100)  # only the last record is cut
    line = _assert_named_exit(_train(packed, rec, tmp_path / "out"), path, tmp_path / "out")
    assert "record 999 " in line and "runs past the end of test.rec" in line


def test_packer_reports_a_half_size_rec_and_repacks_only_with_force(packed, rec):
    path = rec / "train.rec"
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 2)
    proc = run_script("pack_fashion_mnist.py", "--data-dir", packed, "--out", rec, check=False)
    line = _assert_named_exit(proc, path)
    assert "--force" in line and "3000 images" not in proc.stdout
    assert path.stat().st_size < (packed / "rec" / "train.rec").stat().st_size  # left alone
    proc = run_script("pack_fashion_mnist.py", "--data-dir", packed, "--out", rec, "--force")
    assert "train: 3000 images" in proc.stdout
    assert path.read_bytes() == (packed / "rec" / "train.rec").read_bytes()
    assert len(check_record_file(path, rec / "train.idx")) == 3000


def test_check_accepts_good_pairs_and_multi_part_records(packed, tmp_path):
    assert check_record_file(packed / "rec" / "train.rec", packed / "rec" / "train.idx") == list(range(3000))
    magic = MAGIC.to_bytes(4, "little")
    payloads = [b"abc", magic, b"1234" + magic + b"xy", magic * 3 + b"z", bytes(range(256))]
    with RecordWriter(tmp_path / "a.rec", tmp_path / "a.idx") as writer:
        for key, payload in enumerate(payloads):
            writer.write(key, payload)
    assert check_record_file(tmp_path / "a.rec", tmp_path / "a.idx", image_header=False) == [0, 1, 2, 3, 4]
    with pytest.raises(RecordFileError, match="record 0 .*too short for the image header"):
        check_record_file(tmp_path / "a.rec", tmp_path / "a.idx")


def test_check_names_bad_index_lines_and_records_out_of_step(rec):
    idx = rec / "test.idx"
    good = idx.read_text()
    idx.write_text(good.replace("5\t", "5 x\t", 1))
    with pytest.raises(RecordFileError, match=r"test.idx: line 6 is '5 x\\t\d+', expected"):
        check_record_file(rec / "test.rec", idx)
    lines = good.splitlines()
    lines[3] = f"3\t{int(lines[3].split()[1]) + 4}"  # inside record 3, not at its start
    idx.write_text("".join(line + "\n" for line in lines))
    with pytest.raises(RecordFileError, match=r"record 2 .*cut off by the next record's offset"):
        check_record_file(rec / "test.rec", idx)
    idx.write_text("")
    with pytest.raises(RecordFileError, match="lists no records"):
        check_record_file(rec / "test.rec", idx)


def _garble_payload(rec_path, idx_path, key):
    """Random bytes over the PNG data of record ``key``; its RecordIO and image headers stay intact."""
    offset = _offsets(idx_path)[key]
    with open(rec_path, "r+b") as handle:
        handle.seek(offset)
        length = struct.unpack("<II", handle.read(8))[1] & ((1 << 29) - 1)
        handle.seek(offset + 8 + 24 + 8)
        handle.write(np.random.RandomState(1).bytes(length - 24 - 8))


def test_garbled_image_payload_is_caught_by_the_packers_digest_before_epoch_0(packed, rec, tmp_path):
    """Headers intact, PNG bytes garbled: MXNet's decoder would only print 'libpng error' and train on; the SHA-256
    in the digest record the packer wrote (train.json) names the file at start."""
    assert (rec / "train.json").is_file() and (rec / "test.json").is_file()
    _garble_payload(rec / "train.rec", rec / "train.idx", 128)
    line = _assert_named_exit(_train(packed, rec, tmp_path / "out"), rec / "train.rec", tmp_path / "out")
    assert "SHA-256 differs" in line and "--force" in line
    proc = run_script("pack_fashion_mnist.py", "--data-dir", packed, "--out", rec, check=False)
    assert "SHA-256 differs" in _assert_named_exit(proc, rec / "train.rec")


def test_an_image_that_does_not_decode_is_named_by_the_dataset(rec):
    (rec / "test.json").unlink()  # records packed before digests existed: the read-time check is what remains
    _garble_payload(rec / "test.rec", rec / "test.idx", 7)
    dataset = imagenet.RecordImageDataset(rec / "test.rec", rec / "test.idx")
    assert dataset[6][0].shape == (28, 28, 3)
    with pytest.raises(RecordFileError, match=r"test.rec: record 7: cannot decode the image data"):
        dataset[7]


def test_mxnet_error_at_read_time_becomes_the_named_error(tmp_path):
    """Records that pass the opening check but that ImageRecordIter refuses (two labels per image)."""
    ok, png = cv2.imencode(".png", np.zeros((28, 28), np.uint8))
    for split in ("train", "test"):
        with RecordWriter(tmp_path / f"{split}.rec", tmp_path / f"{split}.idx") as writer:
            for key in range(8):
                writer.write(key, mx.recordio.pack(mx.recordio.IRHeader(2, [1.0, 2.0], key, 0), png.tobytes()))
    source = fm.record_source(tmp_path, train=False, batch_size=4)
    with pytest.raises(RecordFileError, match=r"test.rec: cannot read a record \(.*label"):
        list(source)


def test_prepare_imagenet_verifies_finished_outputs(tmp_path):
    tiny = make_tiny_imagenet(tmp_path / "tiny", classes=2, per_class=3, val_per_class=2, size=32, seed=2)
    out = tmp_path / "rec"
    quiet = dict(resize=0, progress=False, log=lambda message: None)
    prepare_imagenet(out, train_dir=tiny["train"], val_dir=tiny["val"], **quiet)
    with pytest.raises(OutputsExistError):
        prepare_imagenet(out, train_dir=tiny["train"], val_dir=tiny["val"], **quiet)
    good = (out / "val.rec").read_bytes()
    (out / "val.rec").write_bytes(good[:len(good) // 2])
    with pytest.raises(RecordFileError, match=r"val.rec: record \d+ .*pass --force to rebuild it"):
        prepare_imagenet(out, train_dir=tiny["train"], val_dir=tiny["val"], **quiet)
    proc = run_script("prepare_imagenet.py", "--train-dir", tiny["train"], "--val-dir", tiny["val"], "--out", out,
                      "--resize", "0", "--no-progress", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "val.rec" in proc.stderr.splitlines()[-1]
    prepare_imagenet(out, train_dir=tiny["train"], val_dir=tiny["val"], force=True, **quiet)
    assert len(check_record_file(out / "val.rec", out / "val.idx")) == 4


def test_train_imagenet_with_a_truncated_val_rec_stops_before_epoch_0(tmp_path):
    from test_cli_imagenet import MODEL, _rec_flags
    tiny = make_tiny_imagenet(tmp_path / "tiny", classes=4, per_class=4, val_per_class=2, size=40, seed=3)
    rec = tmp_path / "rec"
    prepare_imagenet(rec, train_dir=tiny["train"], val_dir=tiny["val"], resize=0, progress=False, log=lambda m: None)
    with open(rec / "val.rec", "r+b") as handle:
        handle.truncate((rec / "val.rec").stat().st_size - 8)
    out = tmp_path / "out"
    proc = run_script("train_imagenet.py", *MODEL, *_rec_flags(rec), "--batch-size", "4", "--num-epochs", "1",
                      "-j", "1", "--no-progress", "--save-dir", out, "--logging-file", "", check=False)
    line = _assert_named_exit(proc, rec / "val.rec", out)
    assert "runs past the end of val.rec" in line and "prepare_imagenet.py --force" in line
