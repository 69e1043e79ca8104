"""ImageNet data of the PyTorch engine (afflib_torch.imagenet_data) on a tiny class-folder set and the same images
as .rec/.idx written by the core: worker-count independence, sharding, resume, validation pixels, clear errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from afflib.core.datafiles import DataFormatError
from afflib.core.recordio import IndexedRecordWriter, IRHeader, pack
from afflib_torch.data import imagenet_batches, imagenet_folder
from afflib_torch.imagenet_data import imagenet_train_data, imagenet_val_data

CLASSES = ["n01", "n02", "n03"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """root/train/<class>/*.png (7 per class, sizes vary), root/val/<class>/*.png (2 per class), and
    root/rec/{train,val}.rec/.idx holding the very same file bytes in the same order."""
    root = tmp_path_factory.mktemp("imagenet")
    rng = np.random.default_rng(0)
    (root / "rec").mkdir()
    for split, count in (("train", 7), ("val", 2)):
        key = 0
        with IndexedRecordWriter(root / "rec" / f"{split}.idx", root / "rec" / f"{split}.rec") as writer:
            for label, name in enumerate(CLASSES):
                folder = root / split / name
                folder.mkdir(parents=True)
                for i in range(count):
                    h, w = int(rng.integers(30, 60)), int(rng.integers(30, 60))
                    pixels = (rng.integers(0, 200, (h, w, 3)) + 50 * label).clip(0, 255).astype(np.uint8)
                    path = folder / f"{name}_{i}.png"
                    Image.fromarray(pixels).save(path)
                    writer.write_idx(key, pack(IRHeader(0, float(label), key, 0), path.read_bytes()))
                    key += 1
    return root


def _collect(data, epoch=0, start=0):
    return [(x.clone(), y.clone()) for x, y in data.batches(epoch, start)]


def _same(a, b):
    assert len(a) == len(b)
    for (xa, ya), (xb, yb) in zip(a, b):
        assert torch.equal(ya, yb) and torch.equal(xa, xb)


def test_protocol_and_worker_count_independence(tiny):
    serial = imagenet_train_data(str(tiny / "rec"), 4, input_size=24, seed=3, workers=0)
    assert len(serial) == 5 and serial.samples == 20 and serial.batch_size == 4
    batches = _collect(serial, epoch=1)
    assert batches[0][0].shape == (4, 3, 24, 24) and batches[0][0].dtype == torch.float32
    assert batches[0][1].dtype == torch.int64
    _same(batches, _collect(imagenet_train_data(str(tiny / "rec"), 4, input_size=24, seed=3, workers=2), epoch=1))
    other_epoch = _collect(serial, epoch=2)
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(batches, other_epoch))


def test_folders_and_records_give_the_same_batches(tiny):
    folders = imagenet_train_data(str(tiny), 4, input_size=24, seed=1, workers=0, auto_augment=True)
    records = imagenet_train_data(str(tiny / "rec" / "train.rec"), 4, input_size=24, seed=1, workers=0,
                                  auto_augment=True)
    assert folders.classes == CLASSES
    _same(_collect(folders), _collect(records))


def test_start_batch_resumes_the_same_batches(tiny):
    data = imagenet_train_data(str(tiny / "rec"), 3, input_size=16, seed=0, workers=2)
    next(data.batches(3))  # a pass abandoned after one batch leaves nothing behind in the persistent workers
    full = _collect(data, epoch=4)
    _same(full[2:], _collect(data, epoch=4, start=2))
    assert _collect(data, epoch=4, start=len(data)) == []


def test_shards_partition_the_epoch(tiny):
    whole = imagenet_train_data(str(tiny / "rec"), 2, input_size=16, seed=7, workers=0)
    shards = [imagenet_train_data(str(tiny / "rec"), 2, input_size=16, seed=7, num_parts=3, part_index=k, workers=0)
              for k in range(3)]
    assert [len(s) for s in shards] == [3, 3, 3] and [s.samples for s in shards] == [6, 6, 6]
    orders = [s.order(5) for s in shards]
    permutation = np.random.default_rng([7, 5]).permutation(21)
    for k, order in enumerate(orders):
        np.testing.assert_array_equal(order, permutation[k::3][:6])
    assert len(set(np.concatenate(orders).tolist())) == 18
    labels = [label for x, y in shards[1].batches(5) for label in y.tolist()]
    assert labels == [int(i) // 7 for i in orders[1]]
    # a sample looks the same whichever shard or batch position it lands in
    single = {int(i): x for x, y in zip(np.split(whole.order(5), len(whole)), [b[0] for b in whole.batches(5)])
              for i, x in zip(x, y)}
    for x, idx in zip([b[0] for b in shards[2].batches(5)], np.split(orders[2], 3)):
        for image, i in zip(x, idx):
            assert torch.equal(image, single[int(i)])


def test_validation_pixels_equal_the_eval_data(tiny):
    items, classes = imagenet_folder(str(tiny))
    expected = list(imagenet_batches(items, 4, input_size=24, crop_ratio=0.75, workers=1))
    for source in (str(tiny), str(tiny / "rec")):
        data = imagenet_val_data(source, 4, input_size=24, crop_ratio=0.75, workers=2)
        assert len(data) == 2 and data.samples == 6
        _same(_collect(data), expected)


def test_record_crop_is_the_release_record_iterators(tiny):
    from afflib.core.datasets import DATASETS
    from afflib.core.preprocess import normalize_nhwc, record_eval_crop
    from afflib_torch.data import decode_image
    items, _ = imagenet_folder(str(tiny))
    data = imagenet_val_data(str(tiny / "rec"), 6, input_size=24, workers=0, record_crop=True)
    (images, labels), = _collect(data)
    facts = DATASETS["imagenet"]
    expected = normalize_nhwc(np.stack([record_eval_crop(decode_image(path), 24) for path, _ in items]),
                              facts.mean, facts.std)
    assert torch.equal(images, torch.from_numpy(expected))
    assert labels.tolist() == [label for _, label in items]


def test_device_path_matches_the_worker_path(tiny):
    for make in (lambda **k: imagenet_train_data(str(tiny / "rec"), 4, input_size=16, workers=0, **k),
                 lambda **k: imagenet_val_data(str(tiny / "rec"), 4, input_size=16, workers=0, **k)):
        for (xa, ya), (xb, yb) in zip(_collect(make()), _collect(make(device="cpu"))):
            assert torch.equal(ya, yb)
            torch.testing.assert_close(xa, xb, atol=1e-5, rtol=0)


def test_clear_errors(tiny, tmp_path):
    with pytest.raises(DataFormatError, match="missing: not found"):
        imagenet_train_data(str(tmp_path / "missing"), 4)
    with pytest.raises(DataFormatError, match="fewer than one batch of 64"):
        imagenet_train_data(str(tiny), 64, workers=0)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "train.rec").write_bytes(b"not a record file at all")
    (bad / "train.idx").write_text("0\t0\n")
    with pytest.raises(DataFormatError, match=r"train\.rec: record 0 at byte 0: no RecordIO magic"):
        imagenet_train_data(str(bad), 1, workers=0)
    (bad / "train.idx").write_text("0\tzero\n")
    with pytest.raises(DataFormatError, match=r"train\.idx: line 1"):
        imagenet_train_data(str(bad), 1, workers=0)
    broken = tmp_path / "broken" / "val" / "n01"
    broken.mkdir(parents=True)
    (broken / "x.jpg").write_bytes(b"\xff\xd8garbage")
    data = imagenet_val_data(str(tmp_path / "broken"), 1, workers=0)
    with pytest.raises(DataFormatError, match=r"x\.jpg: cannot decode"):
        next(data.batches(0))
    data = imagenet_val_data(str(tmp_path / "broken"), 1, workers=1)
    with pytest.raises(DataFormatError, match=r"x\.jpg: cannot decode"):
        next(data.batches(0))


def test_dali_absence_is_reported_and_refused(tiny):
    from afflib_torch.dali import DaliUnavailable, dali_status, dali_train_data
    usable, reason = dali_status()
    if usable:
        pytest.skip(f"DALI is usable here ({reason}); the refusal is for machines without it")
    assert "DALI" in reason and "--dali" in reason
    with pytest.raises(DaliUnavailable, match=r"^--dali: .*(not installed|no CUDA GPU).*--dali"):
        dali_train_data(str(tiny / "rec"), 4)


def test_synthetic_records_tool_writes_and_times(tmp_path, capsys):
    import subprocess
    import sys
    from afflib_torch.cli.make_synthetic_records import main
    assert main(["--out", str(tmp_path), "--images", "12", "--val-images", "3", "--classes", "5", "--height", "40",
                 "--width", "50", "--measure", "3", "--batch-size", "2", "-j", "0", "--input-size", "32"]) == 0
    out = capsys.readouterr().out
    assert "wrote 12 training images" in out and "loader: " in out and "images/s" in out
    assert main(["--out", str(tmp_path), "--images", "12", "--measure", "3", "--batch-size", "2", "-j", "0",
                 "--input-size", "32", "--keep"]) == 0
    assert "reusing" in capsys.readouterr().out
    val = imagenet_val_data(str(tmp_path), 4, input_size=32, workers=0)
    assert [y.tolist() for _, y in val.batches(0)] == [[0, 1, 2]]
    done = subprocess.run([sys.executable, "-m", "afflib_torch.cli.make_synthetic_records", "--out", str(tmp_path),
                           "--images", "2", "--measure", "2", "--height", "20", "--width", "20"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "fewer than one batch of 256" in done.stderr and "Traceback" not in done.stderr


def test_limit_trains_on_a_fixed_subset(tiny):
    data = imagenet_train_data(str(tiny / "rec"), 2, input_size=16, seed=4, workers=0, limit=9)
    assert data.samples == 8 and len(data) == 4
    keep = set(np.sort(np.random.default_rng([4, 21]).permutation(21)[:9]).tolist())
    seen = [set(data.order(epoch).tolist()) for epoch in range(3)]
    assert all(s <= keep and len(s) == 8 for s in seen)
    assert seen[0] != seen[1] or seen[1] != seen[2]  # the dropped tail changes with the epoch's order
