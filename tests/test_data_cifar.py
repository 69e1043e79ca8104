import http.server
import io
import tarfile
import threading
import time

import numpy as np
import pytest

from afflib.data import cifar


def _records(labels, images):
    """CIFAR binary records: label byte(s) then the R, G, B planes."""
    planes = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    return np.concatenate([np.asarray(labels, np.uint8).reshape(len(images), -1), planes], axis=1).tobytes()


def _images(n, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


def write_cifar100(folder, n_train=12, n_test=6):
    folder.mkdir(parents=True, exist_ok=True)
    data = {}
    for name, n, seed in (("train.bin", n_train, 0), ("test.bin", n_test, 1)):
        fine = (np.arange(n) * 7) % 100
        coarse = fine % 20
        images = _images(n, seed)
        (folder / name).write_bytes(_records(np.stack([coarse, fine], axis=1), images))
        data[name] = (images, coarse, fine)
    return data


def cifar10_archive(n=4):
    files, data = {}, {}
    for i, name in enumerate([f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]):
        images, labels = _images(n, i), (np.arange(n) + i) % 10
        files[f"cifar-10-batches-bin/{name}"] = _records(labels, images)
        data[name] = (images, labels)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue(), data


def test_cifar100_fine_labels_by_default_and_coarse_on_request(tmp_path):
    data = write_cifar100(tmp_path)
    images, fine = cifar.load_cifar("cifar100", tmp_path, train=True, download=False)
    np.testing.assert_array_equal(images, data["train.bin"][0])
    assert fine.dtype == np.int64 and fine.tolist() == data["train.bin"][2].tolist()
    _, coarse = cifar.load_cifar("cifar100", tmp_path, train=False, coarse_labels=True, download=False)
    assert coarse.tolist() == data["test.bin"][1].tolist()
    assert len(cifar.class_names("cifar100")) == 100 and len(cifar.class_names("cifar100", True)) == 20
    assert cifar.class_names("cifar100")[fine[1]] == "beetle" and cifar.class_names("cifar10")[3] == "cat"
    with pytest.raises(ValueError, match="coarse_labels applies to cifar100 only"):
        cifar.load_cifar("cifar10", tmp_path, coarse_labels=True)


def test_bad_files_are_reported(tmp_path):
    write_cifar100(tmp_path)
    (tmp_path / "test.bin").write_bytes((tmp_path / "test.bin").read_bytes()[:-5])
    with pytest.raises(cifar.CifarFormatError, match="test.bin: .* not a whole number of 3074-byte records"):
        cifar.load_cifar("cifar100", tmp_path, train=False, download=False)
    with pytest.raises(FileNotFoundError, match="cifar10 binary files"):
        cifar.load_cifar("cifar10", tmp_path / "none", download=False)
    with pytest.raises(ValueError, match="valid: cifar10, cifar100"):
        cifar.load_cifar("cifar1000", tmp_path)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body, status, claimed = self.server.routes.get(self.path, (b"", 404, 0))
        self.send_response(status)
        self.send_header("Content-Length", str(claimed or len(body)))
        self.end_headers()
        if self.path.startswith("/stall"):
            time.sleep(2)  # longer than the client's timeout
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.routes = {}
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_download_unpacks_atomically_and_loads(tmp_path, server):
    archive, data = cifar10_archive()
    server.routes["/cifar-10-binary.tar.gz"] = (archive, 200, 0)
    url = f"http://127.0.0.1:{server.server_port}/cifar-10-binary.tar.gz"
    folder = cifar.download_cifar("cifar10", tmp_path, url=url, progress=False)
    assert (tmp_path / "cifar-10-binary.tar.gz").read_bytes() == archive
    assert sorted(p.name for p in folder.glob("*.bin")) == sorted(data)
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name or p.name.startswith(".extract")]
    images, labels = cifar.load_cifar("cifar10", tmp_path, train=True, download=False)
    np.testing.assert_array_equal(images[:4], data["data_batch_1.bin"][0])
    assert labels.tolist() == sum((data[f"data_batch_{k}.bin"][1].tolist() for k in range(1, 6)), [])
    server.routes.clear()  # files present: no request is made
    assert cifar.download_cifar("cifar10", tmp_path, url=url) == folder


@pytest.mark.parametrize("route", ["missing", "truncated", "not-a-tar", "cut-gzip", "stall"])
def test_failed_downloads_leave_nothing_behind(tmp_path, server, route):
    archive, _ = cifar10_archive()
    server.routes["/truncated.tar.gz"] = (archive[:100], 200, len(archive))
    server.routes["/not-a-tar.tar.gz"] = (b"<html>oops</html>", 200, 0)
    server.routes["/cut-gzip.tar.gz"] = (archive[:len(archive) // 2], 200, 0)  # complete transfer, broken archive
    server.routes["/stall.tar.gz"] = (archive, 200, 0)
    url = f"http://127.0.0.1:{server.server_port}/{route}.tar.gz"
    expected = {"missing": "404", "truncated": "cannot download|stopped after", "not-a-tar": "not a valid tar.gz",
                "cut-gzip": "not a valid tar.gz", "stall": "cannot download .*timed out"}
    with pytest.raises(IOError, match=expected[route]):
        cifar.download_cifar("cifar10", tmp_path, url=url, progress=False, timeout=0.5)
    assert list(tmp_path.iterdir()) == []


def test_cifar_source_batches(tmp_path):
    data = write_cifar100(tmp_path)
    source = cifar.cifar_source("cifar100", tmp_path, train=True, batch_size=5, coarse_labels=True,
                                auto_augment=True, num_workers=0, seed=1)
    assert len(source) == 3 and source.num_samples == 12 and len(source.classes) == 20
    batches = list(source)
    assert batches[0].data.shape == (5, 3, 32, 32) and [b.pad for b in batches] == [0, 0, 3]
    assert all(0 <= b.label.asnumpy().max() < 20 for b in batches)
    test = cifar.cifar_source("cifar100", tmp_path, train=False, batch_size=6, num_workers=0)
    batch = next(iter(test))
    expected = data["test.bin"][0] / 255.0
    restored = batch.data.asnumpy().transpose(0, 2, 3, 1) * cifar.CIFAR_STD + cifar.CIFAR_MEAN
    np.testing.assert_allclose(restored, expected, atol=1e-5)
    assert batch.label.asnumpy().tolist() == ((np.arange(6) * 7) % 100).tolist()
