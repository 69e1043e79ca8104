"""The core RecordIO reader/writer (afflib.core.recordio, no MXNet) against MXNet's own: the same bytes written,
the same headers, labels, payloads and decoded images read, both ways, including afflib's packer and pipeline."""
from __future__ import annotations

import struct

import cv2
import mxnet as mx
import numpy as np
import pytest

from afflib.core import recordio
from afflib.data.ilsvrc import prepare_imagenet
from afflib.data.imagenet import RecordImageDataset, record_source
from afflib.data.synthetic import make_tiny_imagenet

MAGIC_BYTES = struct.pack("<I", recordio.MAGIC)


def _records(seed: int = 0):
    """(key, header, payload) covering scalar and several labels, empty payloads and the magic inside payloads."""
    rng = np.random.default_rng(seed)
    payloads = [b"", b"abc", MAGIC_BYTES, b"1234" + MAGIC_BYTES + b"xy", b"12" + MAGIC_BYTES + b"34",
                MAGIC_BYTES * 3 + b"z", rng.bytes(1001)]
    labels = [0.0, 3.0, [1.0, 2.5], 999.0, [7.0], [0.25, 0.5, 0.75, 1.0], 12.0]
    return [(10 + i, (0, label, i, i % 2), payload) for i, (label, payload) in enumerate(zip(labels, payloads))]


def test_core_writer_writes_mxnet_bytes(tmp_path):
    mine = recordio.IndexedRecordWriter(tmp_path / "core.idx", tmp_path / "core.rec")
    theirs = mx.recordio.MXIndexedRecordIO(str(tmp_path / "mx.idx"), str(tmp_path / "mx.rec"), "w")
    for key, header, payload in _records():
        packed = recordio.pack(header, payload)
        assert packed == mx.recordio.pack(mx.recordio.IRHeader(*header), payload)
        mine.write_idx(key, packed)
        theirs.write_idx(key, mx.recordio.pack(mx.recordio.IRHeader(*header), payload))
    mine.close()
    theirs.close()
    assert (tmp_path / "core.rec").read_bytes() == (tmp_path / "mx.rec").read_bytes()
    assert (tmp_path / "core.idx").read_bytes() == (tmp_path / "mx.idx").read_bytes()


def test_core_reader_reads_what_mxnet_wrote(tmp_path):
    writer = mx.recordio.MXIndexedRecordIO(str(tmp_path / "mx.idx"), str(tmp_path / "mx.rec"), "w")
    for key, header, payload in _records(1):
        writer.write_idx(key, mx.recordio.pack(mx.recordio.IRHeader(*header), payload))
    writer.close()
    mx_reader = mx.recordio.MXIndexedRecordIO(str(tmp_path / "mx.idx"), str(tmp_path / "mx.rec"), "r")
    reader = recordio.RecordReader(tmp_path / "mx.rec", tmp_path / "mx.idx")
    assert reader.keys == mx_reader.keys
    for key in reader.keys:
        ours, theirs = reader.read_image(key), mx.recordio.unpack(mx_reader.read_idx(key))
        assert ours[1] == theirs[1]
        assert (ours[0].flag, ours[0].id, ours[0].id2) == (theirs[0].flag, theirs[0].id, theirs[0].id2)
        np.testing.assert_array_equal(np.asarray(ours[0].label), np.asarray(theirs[0].label))


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    """afflib's MXNet-side packer (prepare_imagenet) on a tiny class-folder ImageNet."""
    root = tmp_path_factory.mktemp("tiny")
    folders = make_tiny_imagenet(root, classes=3, per_class=4, val_per_class=2, size=48, seed=2)
    prepare_imagenet(root / "rec", train_dir=folders["train"], val_dir=folders["val"], resize=0, progress=False)
    return root / "rec"


def test_core_reader_reads_afflib_packed_records(packed):
    for split in ("train", "val"):
        rec, idx = packed / f"{split}.rec", packed / f"{split}.idx"
        mx_reader = mx.recordio.MXIndexedRecordIO(str(idx), str(rec), "r")
        reader = recordio.RecordReader(rec, idx)
        assert reader.keys == mx_reader.keys and len(reader) > 0
        for key in reader.keys:
            raw = mx_reader.read_idx(key)
            assert reader.read(key) == raw
            header, image = reader.read_image(key)
            mx_header, mx_image = mx.recordio.unpack(raw)
            assert image == mx_image and header == tuple(mx_header)
        assert list(recordio.RecordReader(rec)) == [mx_reader.read_idx(k) for k in mx_reader.keys]


def test_mxnet_reads_core_written_image_records(tmp_path, packed):
    """Re-pack afflib's records with the core writer (encoding with the core's pack_img): MXNet's reader, afflib's
    record dataset and ImageRecordIter see the same pictures and labels as the core reader decodes."""
    source = recordio.RecordReader(packed / "val.rec", packed / "val.idx")
    with recordio.IndexedRecordWriter(tmp_path / "c.idx", tmp_path / "c.rec") as writer:
        for key in source.keys:
            header, image = source.read_image(key)
            rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            writer.write_idx(key, recordio.pack_img(header, rgb, quality=90))
    mx_reader = mx.recordio.MXIndexedRecordIO(str(tmp_path / "c.idx"), str(tmp_path / "c.rec"), "r")
    dataset = RecordImageDataset(tmp_path / "c.rec", tmp_path / "c.idx")
    core = recordio.RecordReader(tmp_path / "c.rec", tmp_path / "c.idx")
    expected_labels = []
    for i, key in enumerate(core.keys):
        header, image = core.read_image(key)
        decoded = cv2.cvtColor(cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        mx_header, mx_bgr = mx.recordio.unpack_img(mx_reader.read_idx(key))
        np.testing.assert_array_equal(mx_bgr[:, :, ::-1], decoded)
        assert mx_header.label == recordio.label_of(header) == source.read_image(key)[0].label
        pixels, label = dataset[i]
        np.testing.assert_array_equal(pixels, decoded)
        assert label == recordio.label_of(header)
        expected_labels.append(int(label))
    batches = record_source(tmp_path / "c.rec", tmp_path / "c.idx", batch_size=4, train=False, input_size=32,
                            num_workers=1)
    seen = []
    for batch in batches:
        seen.extend(batch.label.asnumpy()[:batch.data.shape[0] - batch.pad].astype(int).tolist())
    assert seen == expected_labels


def test_synthetic_records_are_read_by_mxnet(tmp_path):
    rec, idx = recordio.write_synthetic_records(tmp_path / "syn", 6, num_classes=4, size=(30, 50), seed=3)
    mx_reader = mx.recordio.MXIndexedRecordIO(str(idx), str(rec), "r")
    assert mx_reader.keys == list(range(6))
    for key in mx_reader.keys:
        header, image = mx.recordio.unpack_img(mx_reader.read_idx(key))
        assert header.label == key % 4 and image.shape == (30, 50, 3)
