"""The core RecordIO reader/writer (afflib.core.recordio): round trips, multi-part records, multi-float labels and
clear errors on damaged files. Runs in both environments (no framework)."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from afflib.core.recordio import (MAGIC, IndexedRecordWriter, IRHeader, RecordIOError, RecordReader, frame_record,
                                  label_of, pack, read_index, unpack, write_synthetic_records)

MAGIC_BYTES = struct.pack("<I", MAGIC)


def _write(tmp_path, payloads):
    rec, idx = tmp_path / "d.rec", tmp_path / "d.idx"
    with IndexedRecordWriter(idx, rec) as writer:
        for key, payload in payloads.items():
            writer.write_idx(key, payload)
    return rec, idx


def test_round_trip_by_key_and_in_file_order(tmp_path):
    rng = np.random.default_rng(0)
    payloads = {k: rng.bytes(int(n)) for k, n in zip([3, 0, 7, 1], [0, 1, 5, 1003])}
    rec, idx = _write(tmp_path, payloads)
    reader = RecordReader(rec, idx)
    assert reader.keys == [3, 0, 7, 1]
    for key, payload in payloads.items():
        assert reader.read(key) == payload
    assert list(RecordReader(rec)) == list(payloads.values())
    assert rec.stat().st_size % 4 == 0
    assert idx.read_text().splitlines()[0] == "3\t0"


def test_payload_holding_the_magic_is_split_and_joined_back(tmp_path):
    payload = b"abcd" + MAGIC_BYTES + b"efgh" + MAGIC_BYTES + MAGIC_BYTES + b"xy"
    framed = frame_record(payload)
    flags = []
    position = 0
    while position < len(framed):
        magic, word = struct.unpack_from("<II", framed, position)
        assert magic == MAGIC
        flags.append(word >> 29)
        length = word & ((1 << 29) - 1)
        position += 8 + length + (-length % 4)
    assert flags == [1, 2, 2, 3]
    rec, idx = _write(tmp_path, {0: payload, 1: b"after"})
    reader = RecordReader(rec, idx)
    assert reader.read(0) == payload and reader.read(1) == b"after"
    unaligned = b"a" + MAGIC_BYTES + b"bcd"  # not on a 4-byte boundary: no split
    assert struct.unpack_from("<I", frame_record(unaligned), 4)[0] >> 29 == 0


def test_image_header_scalar_and_several_labels():
    record = pack(IRHeader(5, 3.0, 42, 7), b"jpeg")
    header, body = unpack(record)
    assert header == IRHeader(0, 3.0, 42, 7) and body == b"jpeg" and label_of(header) == 3.0
    assert record[:24] == struct.pack("<IfQQ", 0, 3.0, 42, 7)
    header, body = unpack(pack(IRHeader(0, [2.0, 0.5, 9.0], 1, 0), b"png"))
    assert header.flag == 3 and body == b"png"
    np.testing.assert_array_equal(header.label, np.float32([2.0, 0.5, 9.0]))
    assert label_of(header) == 2.0


def test_synthetic_jpeg_records_decode(tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    import io
    rec, idx = write_synthetic_records(tmp_path / "syn", 5, num_classes=3, size=(40, 60), seed=1)
    reader = RecordReader(rec, idx)
    assert reader.keys == list(range(5))
    for key in reader.keys:
        header, image = reader.read_image(key)
        assert label_of(header) == key % 3 and header.id == key
        assert np.asarray(PIL.open(io.BytesIO(image))).shape == (40, 60, 3)


def test_truncated_file_names_file_record_and_offset(tmp_path):
    rec, idx = _write(tmp_path, {0: b"x" * 40, 1: b"y" * 40})
    data = rec.read_bytes()
    rec.write_bytes(data[:-10])
    reader = RecordReader(rec, idx)
    assert reader.read(0) == b"x" * 40
    with pytest.raises(RecordIOError, match=r"d\.rec: record 1 at byte 48: .*runs past the end.*truncated"):
        reader.read(1)


def test_bad_magic_and_bad_flag(tmp_path):
    rec, idx = _write(tmp_path, {0: b"x" * 8, 1: b"y" * 8})
    data = bytearray(rec.read_bytes())
    data[16:20] = b"\0\0\0\0"
    rec.write_bytes(bytes(data))
    with pytest.raises(RecordIOError, match=r"record 1 at byte 16: no RecordIO magic \(found 0x00000000"):
        RecordReader(rec, idx).read(1)
    data = bytearray(rec.read_bytes())
    data[4:8] = struct.pack("<I", (2 << 29) | 8)  # a middle part where a record starts
    rec.write_bytes(bytes(data))
    with pytest.raises(RecordIOError, match="continuation flag 2 where a first part"):
        RecordReader(rec, idx).read(0)


def test_index_errors(tmp_path):
    rec, idx = _write(tmp_path, {0: b"abc"})
    idx.write_text("0\t0\nzero\t8\n")
    with pytest.raises(RecordIOError, match=r"d\.idx: line 2 is 'zero\\t8'"):
        read_index(idx)
    idx.write_text("0\t0\n1\t4096\n")
    with pytest.raises(RecordIOError, match=r"d\.idx: line 2 points at byte 4096, past the end of d\.rec"):
        RecordReader(rec, idx)
    with pytest.raises(RecordIOError, match="not found"):
        RecordReader(tmp_path / "missing.rec")
    idx.write_text("0\t0\n")
    with pytest.raises(KeyError, match="no record with key 5"):
        RecordReader(rec, idx).read(5)


def test_short_image_header(tmp_path):
    rec, idx = _write(tmp_path, {0: b"tiny", 1: struct.pack("<IfQQ", 4, 0, 0, 0) + b"\0" * 8})
    reader = RecordReader(rec, idx)
    with pytest.raises(RecordIOError, match="record 0 at byte 0: 4 bytes, too short"):
        reader.read_image(0)
    with pytest.raises(RecordIOError, match="announces 4 labels but only 8 bytes"):
        reader.read_image(1)


def test_reader_reopens_after_pickling(tmp_path):
    import pickle
    rec, idx = _write(tmp_path, {0: b"one", 1: b"two"})
    reader = RecordReader(rec, idx)
    assert reader.read(1) == b"two"
    clone = pickle.loads(pickle.dumps(reader))
    assert clone.read(0) == b"one"


def test_synthetic_records_do_not_depend_on_the_worker_count(tmp_path):
    pytest.importorskip("PIL.Image")
    one = write_synthetic_records(tmp_path / "one", 6, size=(16, 20), seed=2)
    two = write_synthetic_records(tmp_path / "two", 6, size=(16, 20), seed=2, workers=2)
    assert one[0].read_bytes() == two[0].read_bytes() and one[1].read_bytes() == two[1].read_bytes()
