import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import cv2
import mxnet as mx
import numpy as np
import pytest

from afflib.data import imagenet
from afflib.data.batches import LoaderSource, RecordIterSource
from afflib.data.ilsvrc import prepare_imagenet
from afflib.data.records import MAGIC, ImageEncoder, OutputsExistError, RecordWriter, class_folder_entries, \
    read_files, write_records
from afflib.data.synthetic import make_tiny_imagenet

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return make_tiny_imagenet(root, classes=3, per_class=5, val_per_class=3, size=40, seed=1)


def test_record_framing_round_trips_payloads_containing_the_magic(tmp_path):
    magic = MAGIC.to_bytes(4, "little")
    payloads = [b"", b"abc", magic, b"1234" + magic + b"xy", b"12" + magic + b"34", magic * 3 + b"z", bytes(range(256))]
    with RecordWriter(tmp_path / "a.rec", tmp_path / "a.idx") as writer:
        for key, payload in enumerate(payloads):
            writer.write(key, payload)
    reader = mx.recordio.MXIndexedRecordIO(str(tmp_path / "a.idx"), str(tmp_path / "a.rec"), "r")
    assert [reader.read_idx(k) for k in range(len(payloads))] == payloads


def test_record_writer_resumes_after_a_record_cut_short(tmp_path):
    rec, idx = tmp_path / "a.rec", tmp_path / "a.idx"
    with RecordWriter(rec, idx) as writer:
        for key in range(5):
            writer.write(key, bytes([key]) * (10 + key))
    with open(idx) as handle:
        last_offset = int(handle.read().splitlines()[-1].split("\t")[1])
    os.truncate(rec, last_offset + 6)  # the 5th record is cut in the middle
    with open(idx, "a") as handle:
        handle.write("5\t99")  # and the index has a half-written line
    with RecordWriter(rec, idx, resume=True) as writer:
        assert writer.keys == [0, 1, 2, 3] and rec.stat().st_size == last_offset
        writer.write(4, b"again")
    reader = mx.recordio.MXIndexedRecordIO(str(idx), str(rec), "r")
    assert reader.keys == [0, 1, 2, 3, 4] and reader.read_idx(4) == b"again" and reader.read_idx(3) == b"\3" * 13


def _labels_of(source):
    labels = []
    for batch in source:
        labels.extend(batch.label.asnumpy()[:batch.data.shape[0] - batch.pad].astype(int).tolist())
    return labels


def test_pack_folders_and_read_back_through_record_and_folder_sources(tiny, tmp_path):
    out = tmp_path / "rec"
    results = prepare_imagenet(out, train_dir=tiny["train"], val_dir=tiny["val"], resize=0, workers=2,
                               progress=False, log=lambda message: None)
    assert results["train"]["written"] == 15 and results["val"]["written"] == 9
    assert (out / "classes.txt").read_text().split() == sorted(p.name for p in tiny["train"].iterdir())
    lst = [line.split("\t") for line in (out / "val.lst").read_text().splitlines()]
    expected = [int(label) for _, label, _ in lst]
    assert all(Path(path).parts[0] == (out / "classes.txt").read_text().split()[int(label)] for _, label, path in lst)
    records = imagenet.record_source(out / "val.rec", out / "val.idx", batch_size=4, train=False, input_size=32,
                                     num_workers=1)
    folders = imagenet.folder_source(tiny["val"], batch_size=4, train=False, input_size=32, num_workers=0)
    assert isinstance(records, RecordIterSource) and isinstance(folders, LoaderSource)
    assert _labels_of(records) == expected == _labels_of(folders)
    # Same images through both paths: the JPEG re-encoding (quality 95) and resizing differ only slightly.
    first_record, first_folder = next(iter(records)).data.asnumpy(), next(iter(folders)).data.asnumpy()
    assert first_record.shape == first_folder.shape == (4, 3, 32, 32)
    assert np.abs(first_record - first_folder).mean() < 0.2
    dataset = imagenet.RecordImageDataset(out / "train.rec", out / "train.idx")
    first_path = (out / "train.lst").read_text().splitlines()[0].split("\t")[2]
    original = cv2.cvtColor(cv2.imread(str(tiny["train"] / first_path)), cv2.COLOR_BGR2RGB)
    assert np.abs(dataset[0][0].astype(int) - original).mean() < 3


def test_training_sources_shuffle_augment_and_shard(tiny, tmp_path):
    out = tmp_path / "rec"
    prepare_imagenet(out, train_dir=tiny["train"], resize=0, progress=False, log=lambda m: None)
    rec, idx = out / "train.rec", out / "train.idx"
    plain = imagenet.record_source(rec, idx, 4, True, input_size=32, num_workers=1)
    assert isinstance(plain, RecordIterSource) and len(plain) == 4 and plain.num_samples == 15
    assert sorted(_labels_of(plain)) == sorted([0] * 5 + [1] * 5 + [2] * 5)
    augmented = imagenet.record_source(rec, idx, 4, True, input_size=32, num_workers=0, auto_augment=True)
    assert isinstance(augmented, LoaderSource)
    batch = next(iter(augmented))
    assert batch.data.shape == (4, 3, 32, 32) and batch.data.dtype == np.float32
    with pytest.warns(UserWarning, match="AutoAugment is NOT applied"):
        faithful = imagenet.record_source(rec, idx, 4, True, input_size=32, num_workers=1, auto_augment=True,
                                          faithful_aug=True)
    assert isinstance(faithful, RecordIterSource)
    shards = [imagenet.record_source(rec, idx, 4, True, input_size=32, num_workers=1, num_parts=2, part_index=k)
              for k in range(2)]
    assert [s.num_samples for s in shards] == [8, 7] and [len(list(s)) for s in shards] == [2, 2]
    short = imagenet.record_source(rec, idx, 3, True, input_size=32, num_workers=1, num_parts=4, part_index=3)
    assert short.num_samples == 3 and len(short) == 2 and len(list(short)) == 2, "as many steps as the larger parts"
    with pytest.raises(ValueError, match="part 5 of 6 gets no records"):
        imagenet.record_source(rec, idx, 3, True, num_parts=6, part_index=5)
    folder_shards = [imagenet.folder_source(tiny["train"], 4, True, input_size=32, num_workers=0, num_parts=2,
                                            part_index=k, seed=3) for k in range(2)]
    assert [s.num_samples for s in folder_shards] == [8, 8] and [len(s) for s in folder_shards] == [2, 2]


def test_refuses_to_overwrite_finished_outputs_without_force(tiny, tmp_path, capsys):
    out = tmp_path / "rec"
    args = ["--train-dir", str(tiny["train"]), "--out", str(out), "--resize", "0", "--no-progress"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    script = subprocess.run([sys.executable, str(REPO / "scripts" / "prepare_imagenet.py")] + args, env=env,
                            capture_output=True, text=True)
    assert script.returncode == 0 and "train: 15 records written" in script.stdout, script.stderr
    before = (out / "train.rec").read_bytes()
    from afflib.cli import prepare_imagenet as cli
    assert cli.main(args + ["--resize", "24"]) == 2
    message = capsys.readouterr().err
    assert "already exist" in message and "--force" in message and str(out / "train.rec") in message
    assert (out / "train.rec").read_bytes() == before
    assert cli.main(args + ["--resize", "24", "--force"]) == 0
    assert len((out / "train.rec").read_bytes()) < len(before)
    assert not list(out.glob("*.partial"))
    rebuilt = (out / "train.rec").read_bytes()
    # Adding the val split later keeps the finished train split and packs only val.
    assert cli.main(args + ["--val-dir", str(tiny["val"])]) == 0
    assert (out / "train.rec").read_bytes() == rebuilt and (out / "val.idx").read_text().count("\n") == 9
    assert "train.rec is finished, kept" in capsys.readouterr().out


def test_interrupted_pack_resumes_to_the_same_files(tiny, tmp_path):
    classes, entries = class_folder_entries(tiny["train"])
    encoder = ImageEncoder(resize=0, quality=90)
    write_records(tmp_path / "full" / "train", entries, read_files(tiny["train"]), encoder, progress=False)

    def interrupted(selection):
        for count, data in enumerate(read_files(tiny["train"])(selection)):
            if count == 7:
                raise KeyboardInterrupt
            yield data

    with pytest.raises(KeyboardInterrupt):
        write_records(tmp_path / "part" / "train", entries, interrupted, encoder, workers=2, progress=False, chunk=2)
    assert not (tmp_path / "part" / "train.rec").exists() and (tmp_path / "part" / "train.rec.partial").exists()
    with open(tmp_path / "part" / "train.rec.partial", "ab") as handle:
        handle.write(b"\x0a\x23\xd7\xce\x10\x00")  # a record header torn by the interruption
    result = write_records(tmp_path / "part" / "train", entries, read_files(tiny["train"]), encoder, progress=False)
    assert result["resumed_from"] == 4 and result["written"] == 15
    for ext in (".rec", ".idx", ".lst"):
        assert (tmp_path / "part" / f"train{ext}").read_bytes() == (tmp_path / "full" / f"train{ext}").read_bytes()


def _tar_bytes(files):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_ilsvrc_tar_files_with_devkit_labels(tiny, tmp_path):
    from scipy.io import savemat
    classes = sorted(p.name for p in tiny["train"].iterdir())
    class_tars = [(f"{c}.tar", _tar_bytes([(p.name, p.read_bytes()) for p in sorted((tiny["train"] / c).iterdir())]))
                  for c in classes]
    (tmp_path / "train.tar").write_bytes(_tar_bytes(class_tars))
    val_images = sorted((p, classes.index(p.parent.name)) for p in tiny["val"].rglob("*.jpg"))
    order = np.random.default_rng(0).permutation(len(val_images))
    val_files = [(f"ILSVRC2012_val_{i + 1:08d}.JPEG", val_images[j]) for i, j in enumerate(order)]
    (tmp_path / "val.tar").write_bytes(_tar_bytes([(name, path.read_bytes()) for name, (path, _) in val_files]))
    devkit = tmp_path / "devkit" / "data"
    devkit.mkdir(parents=True)
    ids = {c: 3 - i for i, c in enumerate(classes)}  # ILSVRC ids in a different order than the sorted wnids
    synsets = np.array([(ids[c], c, 0) for c in classes] + [(1001, "n99999999", 2)],
                       dtype=[("ILSVRC2012_ID", "O"), ("WNID", "O"), ("num_children", "O")])
    savemat(devkit / "meta.mat", {"synsets": synsets})
    truth = [ids[classes[label]] for _, (_, label) in val_files]
    (devkit / "ILSVRC2012_validation_ground_truth.txt").write_text("".join(f"{t}\n" for t in truth))
    out = tmp_path / "rec"
    prepare_imagenet(out, train_tar=tmp_path / "train.tar", val_tar=tmp_path / "val.tar", devkit=tmp_path / "devkit",
                     resize=32, progress=False, log=lambda m: None)
    assert (out / "classes.txt").read_text().split() == classes
    train_lst = [line.split("\t") for line in (out / "train.lst").read_text().splitlines()]
    assert [int(label) for _, label, _ in train_lst] == [0] * 5 + [1] * 5 + [2] * 5
    val_lst = [line.split("\t") for line in (out / "val.lst").read_text().splitlines()]
    assert [int(label) for _, label, _ in val_lst] == [label for _, (_, label) in val_files]
    dataset = imagenet.RecordImageDataset(out / "val.rec", out / "val.idx")
    assert min(dataset[0][0].shape[:2]) == 32 and dataset[0][1] == val_files[0][1][1]
    with pytest.raises(OutputsExistError):
        prepare_imagenet(out, train_tar=tmp_path / "train.tar", progress=False, log=lambda m: None)
    with pytest.raises(ValueError, match="needs the devkit"):
        prepare_imagenet(out, train_tar=tmp_path / "train.tar", val_tar=tmp_path / "val.tar")
