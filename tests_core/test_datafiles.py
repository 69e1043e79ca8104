"""The IDX and CIFAR binary readers both engines use: contents and errors naming the file."""
import gzip
import struct

import numpy as np
import pytest

from afflib.core.datafiles import DataFormatError, read_cifar_binary, read_idx


def idx_bytes(array: np.ndarray, type_byte: int = 0x08) -> bytes:
    return struct.pack(">BBBB", 0, 0, type_byte, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + \
        array.tobytes()


def test_idx_round_trip_plain_gzip_and_wider_types(tmp_path):
    images = (np.arange(2 * 3 * 4) % 256).astype(np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(images))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(images)))
    np.testing.assert_array_equal(read_idx(tmp_path / "a", 3), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), images)
    wide = np.array([1, -2, 70000], dtype=">i4")
    (tmp_path / "w").write_bytes(idx_bytes(wide, 0x0C))
    out = read_idx(tmp_path / "w")
    assert out.tolist() == [1, -2, 70000] and out.dtype.isnative


def test_idx_errors_name_the_file(tmp_path):
    good = idx_bytes(np.zeros(5, np.uint8))
    cases = {"cut": good[:-1], "junk": b"\x89PNG....", "tiny": b"\x00\x00", "head": good[:5]}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    with pytest.raises(DataFormatError, match=r"cut: header promises shape \(5,\) = 5 bytes .* truncated"):
        read_idx(tmp_path / "cut")
    with pytest.raises(DataFormatError, match="junk: not an IDX file"):
        read_idx(tmp_path / "junk")
    with pytest.raises(DataFormatError, match="tiny: 2 bytes, too short"):
        read_idx(tmp_path / "tiny")
    with pytest.raises(DataFormatError, match="head: truncated IDX header"):
        read_idx(tmp_path / "head")
    (tmp_path / "ok").write_bytes(good)
    with pytest.raises(DataFormatError, match="ok: 1 dimensions, expected 3"):
        read_idx(tmp_path / "ok", 3)
    (tmp_path / "bad.gz").write_bytes(gzip.compress(good)[:12])
    with pytest.raises(DataFormatError, match="bad.gz: cannot read"):
        read_idx(tmp_path / "bad.gz")


def test_cifar_binary(tmp_path):
    records = np.concatenate([np.array([[3, 41], [19, 7]], np.uint8),
                              (np.arange(2 * 3072) % 251).astype(np.uint8).reshape(2, 3072)], axis=1)
    (tmp_path / "test.bin").write_bytes(records.tobytes())
    images, labels = read_cifar_binary(tmp_path / "test.bin", 2)
    assert images.shape == (2, 3, 32, 32) and labels.tolist() == [[3, 41], [19, 7]]
    assert images[1, 0, 0, 0] == records[1, 2]
    (tmp_path / "test.bin").write_bytes(records.tobytes()[:-1])
    with pytest.raises(DataFormatError, match="test.bin: 6147 bytes is not a whole number of 3074-byte records"):
        read_cifar_binary(tmp_path / "test.bin", 2)
