import gzip
import struct

import mxnet as mx
import numpy as np
import pytest

from afflib.data import fashion_mnist as fm


def _write_idx(path, array, magic=None, compress=False):
    header = struct.pack(">HBB", 0, 8, array.ndim) if magic is None else magic
    content = header + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()
    opener = gzip.open if compress else open
    with opener(path, "wb") as handle:
        handle.write(content)


def _fake_dataset(root, n_train=20, n_test=10, compress=True):
    rng = np.random.default_rng(0)
    suffix = ".gz" if compress else ""
    arrays = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = np.arange(n) % 10
        _write_idx(root / f"{split}-images-idx3-ubyte{suffix}", images, compress=compress)
        _write_idx(root / f"{split}-labels-idx1-ubyte{suffix}", labels, compress=compress)
        arrays[split] = (images, labels)
    return arrays


@pytest.mark.parametrize("compress", [True, False])
def test_idx_round_trip_plain_and_gzip(tmp_path, compress):
    arrays = _fake_dataset(tmp_path, compress=compress)
    images, labels = fm.load_fashion_mnist(tmp_path, train=False)
    np.testing.assert_array_equal(images, arrays["t10k"][0])
    assert labels.dtype == np.int64 and labels.tolist() == arrays["t10k"][1].tolist()


def test_corrupt_files_name_the_file_and_the_problem(tmp_path):
    _fake_dataset(tmp_path, compress=False)
    labels = tmp_path / "train-labels-idx1-ubyte"
    images = tmp_path / "train-images-idx3-ubyte"

    _write_idx(labels, np.arange(19) % 10)
    with pytest.raises(fm.IdxFormatError, match="20 images but .*train-labels-idx1-ubyte has 19 labels"):
        fm.load_fashion_mnist(tmp_path)

    _write_idx(labels, np.arange(20) % 10, magic=b"\x00\x00\x08\x03")
    with pytest.raises(fm.IdxFormatError, match=r"train-labels-idx1-ubyte: 3 dimensions, expected 1"):
        fm.load_fashion_mnist(tmp_path)

    labels.write_bytes(b"PK\x03\x04" + bytes(40))
    with pytest.raises(fm.IdxFormatError, match=r"train-labels-idx1-ubyte: not an IDX file \(bad magic"):
        fm.load_fashion_mnist(tmp_path)

    _write_idx(labels, np.arange(20) % 10)
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(fm.IdxFormatError, match=r"train-images-idx3-ubyte: header promises shape \(20, 28, 28\)"):
        fm.load_fashion_mnist(tmp_path)


def test_truncated_gzip_is_reported(tmp_path):
    _fake_dataset(tmp_path, compress=True)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(fm.IdxFormatError, match="t10k-images-idx3-ubyte.gz: cannot read"):
        fm.load_fashion_mnist(tmp_path, train=False)


def test_missing_files_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install -y dataset-fashion-mnist"):
        fm.find_fashion_mnist_dir(tmp_path / "nowhere")
    (tmp_path / "partial").mkdir()
    _write_idx(tmp_path / "partial" / "train-images-idx3-ubyte", np.zeros((1, 28, 28)))
    with pytest.raises(FileNotFoundError, match="lacks Fashion-MNIST files .*train-labels-idx1-ubyte"):
        fm.find_fashion_mnist_dir(tmp_path / "partial")


def test_pack_and_read_back_records_exactly(tmp_path):
    arrays = _fake_dataset(tmp_path, n_train=20, n_test=10)
    fm.pack_fashion_mnist(tmp_path, tmp_path / "rec")
    source = fm.record_source(tmp_path / "rec", train=False, batch_size=4)
    assert source.num_samples == 10 and len(source) == 3
    batches = list(source)
    assert [b.pad for b in batches] == [0, 0, 2]
    data = np.concatenate([b.data.asnumpy() for b in batches])[:10]
    labels = np.concatenate([b.label.asnumpy() for b in batches])[:10]
    assert data.shape == (10, 1, 28, 28) and batches[0].data.context == mx.cpu()
    restored = data[:, 0] * (fm.FASHION_MNIST_STD[0] * 255) + fm.FASHION_MNIST_MEAN[0] * 255
    np.testing.assert_allclose(restored, arrays["t10k"][0], atol=1e-3)  # PNG records are lossless
    assert labels.tolist() == arrays["t10k"][1].tolist()
    again = list(source)  # a second iteration is a whole second epoch, the same in evaluation
    assert [b.pad for b in again] == [0, 0, 2]
    np.testing.assert_array_equal(np.concatenate([b.label.asnumpy() for b in again]), np.arange(12) % 10)


def test_training_records_shuffle_augment_and_shard(tmp_path):
    _fake_dataset(tmp_path, n_train=20, n_test=10)
    result = fm.pack_fashion_mnist(tmp_path, tmp_path / "rec")
    assert result["train"][2] == 20
    before = (tmp_path / "rec" / "train.rec").stat().st_mtime_ns
    fm.pack_fashion_mnist(tmp_path, tmp_path / "rec")  # finished outputs are kept
    assert (tmp_path / "rec" / "train.rec").stat().st_mtime_ns == before
    source = fm.record_source(tmp_path / "rec", train=True, batch_size=8, seed=1)
    epochs = [np.concatenate([b.label.asnumpy() for b in source]) for _ in range(2)]
    in_order = (np.arange(20) % 10).tolist()
    assert epochs[0][:20].tolist() != in_order and epochs[0].tolist() != epochs[1].tolist(), "must reshuffle"
    shards = [fm.record_source(tmp_path / "rec", True, 4, num_parts=3, part_index=k) for k in range(3)]
    assert [s.num_samples for s in shards] == [7, 7, 6]
    assert [len(s) for s in shards] == [2, 2, 2] and [len(list(s)) for s in shards] == [2, 2, 2]


def test_real_fashion_mnist_when_installed():
    try:
        fm.find_fashion_mnist_dir()
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    images, labels = fm.load_fashion_mnist(train=False)
    assert images.shape == (10000, 28, 28) and np.bincount(labels).tolist() == [1000] * 10
    assert abs(fm.load_fashion_mnist(train=True)[0].mean() / 255 - fm.FASHION_MNIST_MEAN[0]) < 1e-3
