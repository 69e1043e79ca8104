"""Released weights: table, cache, verified download from a local HTTP server, pretrained selection, CLI."""
import hashlib
import importlib.util
import io
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from contextlib import redirect_stderr, redirect_stdout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest

import afflib
from afflib.model_zoo import model_store
from afflib.model_zoo.model_store import ChecksumError, DownloadError, blob_sha1, get_model_file
from afflib.core.released import (PretrainedNotAvailable, ReleasedFile, ReleaseTable, default_table_path,
                                       resolve_released, use_table)
from reference import REPO, load_released_format

TINY = dict(layers=[1, 1, 1], channels=[16, 16, 32, 64])  # cifar_aff_resnet20 shrunk: loads in milliseconds


def _script(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- a local server of .params files

class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        server = self.server
        server.requests.append(self.path)
        mode, data = server.routes.get(self.path, ("status", 404))
        if mode == "status":
            self.send_error(data)
            return
        if mode == "redirect":
            self.send_response(302)
            self.send_header("Location", data)
            self.end_headers()
            return
        if mode == "stall_headers":
            server.release.wait(30)
            return
        if mode == "slow":
            time.sleep(0.3)
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if mode == "truncate":
            self.wfile.write(data[: len(data) // 2])
        elif mode == "stall_body":
            self.wfile.write(data[:1000])
            self.wfile.flush()
            server.release.wait(30)
        else:
            self.wfile.write(data)

    def log_message(self, *args):
        pass


class ParamsServer:
    """Threaded HTTP server on 127.0.0.1 serving registered byte strings and counting requests."""

    def __init__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.routes, self.httpd.requests, self.httpd.release = {}, [], threading.Event()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def requests(self):
        return self.httpd.requests

    def serve(self, path, data=b"", mode="ok"):
        self.httpd.routes["/" + path] = (mode, data)

    def close(self):
        self.httpd.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = ParamsServer()
    yield srv
    srv.close()


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No test touches ~/.mxnet, a real download URL or a proxy; retries off unless a test turns them on."""
    monkeypatch.setenv("MXNET_HOME", str(tmp_path / "mxnet_home"))
    monkeypatch.delenv("AFFLIB_PARAMS_URL", raising=False)
    monkeypatch.delenv("AFFLIB_DOWNLOAD_TIMEOUT", raising=False)
    monkeypatch.setenv("AFFLIB_DOWNLOAD_RETRIES", "0")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


# --------------------------------------------------------------------------- two small "released" files

X = np.random.RandomState(1).uniform(-1, 1, size=(2, 3, 32, 32)).astype(np.float32)


def _make_release(directory: Path, seed: int):
    mx.random.seed(seed)
    net = afflib.get_model("cifar_aff_resnet20", **TINY)
    net.initialize(mx.init.Xavier())
    net(mx.nd.array(X))
    path = directory / f"tiny-{seed}.params"
    net.save_parameters(str(path))
    return path.read_bytes(), net(mx.nd.array(X)).asnumpy()


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    """{'fine': (bytes, outputs on X), 'coarse': (...)}: two differently initialised tiny networks."""
    directory = tmp_path_factory.mktemp("releases")
    return {"fine": _make_release(directory, 1), "coarse": _make_release(directory, 2)}


def _sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _entry(data: bytes, labels="cifar100-fine", path="params/test/tiny.params", sha1=None) -> ReleasedFile:
    return ReleasedFile(path=path, sha1=sha1 or _sha1(data), model="cifar_aff_resnet20", classes=100,
                        labels=labels, metric="top1_accuracy", published=50.0)


@pytest.fixture
def release_table(server, releases):
    """Serve both tiny files and make them the released files of cifar_aff_resnet20."""
    fine, coarse = releases["fine"][0], releases["coarse"][0]
    server.serve("params/test/fine.params", fine)
    server.serve("params/test/coarse.params", coarse)
    table = ReleaseTable([_entry(fine, path="params/test/fine.params"),
                          _entry(coarse, "cifar100-coarse", path="params/test/coarse.params")], base_url=server.url)
    with use_table(table):
        yield table


def _files(directory: Path):
    return sorted(p.name for p in directory.rglob("*")) if directory.exists() else []


def _outputs(net):
    return net(mx.nd.array(X)).asnumpy()


# --------------------------------------------------------------------------- the table of released files

def test_blob_sha1_matches_git_hash_object(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    path = tmp_path / "file.bin"
    path.write_bytes(bytes(range(256)) * 100)
    git = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True, check=True)
    assert blob_sha1(path) == git.stdout.strip()


def test_released_table_is_the_issue_table():
    table = ReleaseTable.from_json(default_table_path())
    assert len(table.files) == 9
    assert len({e.sha1 for e in table.files}) == 9
    assert table.base_url == "https://github.com/YimianDai/open-aff/raw/master/"
    for entry in table.files:
        cls, defaults = afflib.model_zoo.model_spec(entry.model)
        assert entry.classes == defaults["classes"], entry
        assert entry.path.startswith(("params/imagenet/", "params/cifar100/")) and entry.path.endswith(".params")
        # the published number is in the file name (0.2028 -> 20.28 % error, 0.8357 -> 83.57 % accuracy)
        assert entry.original_name.startswith(f"{entry.published / 100:.4f}"), entry
    coarse = sorted(e.model for e in table.files if e.labels == "cifar100-coarse")
    assert coarse == ["cifar_aff_resnet32", "cifar_aff_resnext38_32x4d", "cifar_aff_resnext47_32x4d"]
    assert {e.classes for e in table.files if e.labels.startswith("cifar100")} == {100}


def test_params_readme_and_docs_table_are_rendered_from_the_table():
    script = _script("render_params_table")
    table = ReleaseTable.from_json(default_table_path())
    expected = script.render(table)
    assert (REPO / "params" / "README.md").read_text(encoding="utf-8") == expected, \
        "params/README.md is out of date: run python scripts/render_params_table.py"
    assert "`e5f9164dd45269fa776b65c4eb95308ff7465e80`" in expected
    docs = (REPO / "docs" / "pretrained.md").read_text(encoding="utf-8")
    assert script.render_docs(table, docs) == docs, \
        "the released-files table in docs/pretrained.md is out of date: run python scripts/render_params_table.py"
    assert docs.count("`296ae7f3672ba26378122a05ed8ca3c332e60e8e`") == 1


def test_released_entries_build_networks_in_the_released_format():
    """Each entry's model and classes give exactly the names and shapes of the original file: strict loading."""
    table = ReleaseTable.from_json(default_table_path())
    for entry in table.files:
        released = load_released_format(entry.released_format)
        net = afflib.get_model(entry.model, classes=entry.classes)
        ours = [(k, list(p.shape)) for k, p in net._collect_params_with_prefix().items()]
        assert ours == [(k, list(s)) for k, s in released["params"]], entry.path


def test_pretrained_choice_resolution():
    table = ReleaseTable.from_json(default_table_path())
    assert resolve_released("cifar_aff_resnet32", True, 100, table).labels == "cifar100-fine"
    assert resolve_released("cifar_aff_resnet32", "coarse", 100, table).sha1.startswith("296ae7f3")
    assert resolve_released("cifar_aff_resnet32", "cifar100-coarse", None, table).sha1.startswith("296ae7f3")
    assert resolve_released("aff_resnet50", "aedcb94b", 1000, table).model == "aff_resnet50"
    with pytest.warns(UserWarning, match="20 CIFAR-100 superclasses"):
        assert resolve_released("cifar_aff_resnext38_32x4d", True, 100, table).labels == "cifar100-coarse"
    with pytest.raises(PretrainedNotAvailable, match=r"(?s)classes=20: the released file has 100 outputs.*"
                                                     r"outputs 0-19 are the superclasses.*'fine'.*'coarse'"):
        resolve_released("cifar_aff_resnet32", "coarse", 20, table)
    with pytest.raises(PretrainedNotAvailable, match=r"(?s)no released file 'fine'.*pretrained='coarse'"):
        resolve_released("cifar_aff_resnext38_32x4d", "fine", 100, table)
    with pytest.raises(PretrainedNotAvailable, match="no released weights for 'aff_resnet101'.*aff_resnet50"):
        resolve_released("aff_resnet101", True, 1000, table)


# --------------------------------------------------------------------------- download, cache and load

def test_download_into_empty_cache_then_load(server, releases, release_table, tmp_path):
    root = tmp_path / "cache"
    net = afflib.get_model("cifar_aff_resnet20", pretrained=True, root=root, **TINY)
    np.testing.assert_array_equal(_outputs(net), releases["fine"][1])
    entry = release_table.files[0]
    assert _files(root) == [entry.cache_name] == [f"cifar_aff_resnet20-fine-{entry.sha1[:8]}.params"]
    assert server.requests == ["/params/test/fine.params"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert (root / entry.cache_name).stat().st_mode & 0o777 == 0o666 & ~umask  # readable like any other file

    coarse = afflib.get_model("cifar_aff_resnet20", pretrained="coarse", root=root, **TINY)
    np.testing.assert_array_equal(_outputs(coarse), releases["coarse"][1])
    assert len(server.requests) == 2


def test_redirect_is_followed_and_stale_partial_files_are_cleaned(server, releases, release_table, tmp_path):
    """GitHub answers raw URLs with a redirect; a .part file left by a killed download is removed."""
    server.serve("params/test/moved.params", "/params/test/fine.params", mode="redirect")
    entry = _entry(releases["fine"][0], path="params/test/moved.params")
    root = tmp_path / "cache"
    root.mkdir()
    (root / f".{entry.cache_name}.killed.part").write_bytes(b"partial")
    path = get_model_file(entry, root)
    assert path.read_bytes() == releases["fine"][0]
    assert server.requests == ["/params/test/moved.params", "/params/test/fine.params"]
    assert _files(root) == [entry.cache_name]


def test_cache_hit_makes_no_request(server, releases, release_table, tmp_path):
    root = tmp_path / "cache"
    root.mkdir()
    (root / release_table.files[0].cache_name).write_bytes(releases["fine"][0])
    net = afflib.get_model("cifar_aff_resnet20", pretrained=True, root=root, **TINY)
    np.testing.assert_array_equal(_outputs(net), releases["fine"][1])
    # a file saved by hand under its original name is found too
    (root / "tiny.params").write_bytes(releases["coarse"][0])
    entry = _entry(releases["coarse"][0], "cifar100-coarse", path="somewhere/tiny.params")
    assert get_model_file(entry, root) == root / "tiny.params"
    assert server.requests == []


def test_mxnet_home_is_the_default_cache(server, releases, release_table, tmp_path, monkeypatch):
    home = tmp_path / "elsewhere"
    monkeypatch.setenv("MXNET_HOME", str(home))
    afflib.get_model("cifar_aff_resnet20", pretrained="fine", **TINY)
    assert _files(home / "models") == [release_table.files[0].cache_name]
    monkeypatch.delenv("MXNET_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert model_store.default_root() == tmp_path / "user" / ".mxnet" / "models"


def test_url_environment_variable_overrides_the_table(server, releases, tmp_path, monkeypatch):
    data = releases["fine"][0]
    server.serve("mirror/params/test/tiny.params", data)
    table = ReleaseTable([_entry(data)], base_url="http://127.0.0.1:9/not-used/")
    monkeypatch.setenv("AFFLIB_PARAMS_URL", server.url + "mirror")
    with use_table(table):
        path = get_model_file(table.files[0], tmp_path / "cache")
    assert path.read_bytes() == data and server.requests == ["/mirror/params/test/tiny.params"]


def test_corrupt_cached_file_is_replaced_by_a_good_download(server, releases, release_table, tmp_path):
    root = tmp_path / "cache"
    root.mkdir()
    cached = root / release_table.files[0].cache_name
    cached.write_bytes(releases["fine"][0][:-10] + b"0123456789")
    with pytest.warns(UserWarning, match="does not have git blob SHA-1 .*downloading it again"):
        net = afflib.get_model("cifar_aff_resnet20", pretrained=True, root=root, **TINY)
    np.testing.assert_array_equal(_outputs(net), releases["fine"][1])
    assert cached.read_bytes() == releases["fine"][0]


def test_concurrent_downloads_fetch_once(server, releases, tmp_path):
    data = releases["fine"][0]
    server.serve("params/test/slow.params", data, mode="slow")
    table = ReleaseTable([_entry(data, path="params/test/slow.params")], base_url=server.url)
    root, results = tmp_path / "cache", []
    with use_table(table):
        threads = [threading.Thread(target=lambda: results.append(get_model_file(table.files[0], root)))
                   for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(results) == 3 and len(set(results)) == 1
    assert server.requests == ["/params/test/slow.params"]
    assert _files(root) == [table.files[0].cache_name]


# --------------------------------------------------------------------------- failures leave nothing behind

def _expect_failure(server, table, root, error, pattern, **kwargs):
    with use_table(table), pytest.raises(error, match=pattern) as info:
        get_model_file(table.files[0], root, **kwargs)
    assert _files(root) == [], "a failed download left files in the cache"
    message = str(info.value)
    assert str(root / table.files[0].cache_name) in message and table.files[0].sha1 in message
    return message


def test_wrong_hash_is_reported_and_discarded(server, releases, tmp_path):
    data = releases["fine"][0]
    server.serve("params/test/tiny.params", data)
    table = ReleaseTable([_entry(data, sha1="0" * 40)], base_url=server.url)
    message = _expect_failure(server, table, tmp_path / "cache", ChecksumError,
                              f"has git blob SHA-1 {_sha1(data)}, expected {'0' * 40}")
    assert "discarded" in message
    with use_table(table), pytest.raises(ChecksumError):  # through get_model: nothing loaded, nothing kept
        afflib.get_model("cifar_aff_resnet20", pretrained=True, root=tmp_path / "cache", **TINY)
    assert _files(tmp_path / "cache") == []


def test_truncated_transfer(server, releases, tmp_path):
    data = releases["fine"][0]
    server.serve("params/test/tiny.params", data, mode="truncate")
    table = ReleaseTable([_entry(data)], base_url=server.url)
    _expect_failure(server, table, tmp_path / "cache", DownloadError,
                    r"(IncompleteRead|ended after \d+ of \d+ bytes)")


@pytest.mark.parametrize("status", [404, 500])
def test_http_errors(server, releases, tmp_path, status):
    server.serve("params/test/tiny.params", status, mode="status")
    table = ReleaseTable([_entry(releases["fine"][0])], base_url=server.url)
    message = _expect_failure(server, table, tmp_path / "cache", DownloadError, f"HTTP {status}")
    assert server.url + "params/test/tiny.params" in message


def test_server_errors_are_retried_but_not_found_is_not(server, releases, tmp_path):
    server.serve("params/test/tiny.params", 500, mode="status")
    server.serve("params/test/gone.params", 404, mode="status")
    data = releases["fine"][0]
    with pytest.raises(DownloadError, match="HTTP 500"):
        get_model_file(_entry(data), tmp_path / "cache", retries=1, table=ReleaseTable([], server.url))
    with pytest.raises(DownloadError, match="HTTP 404"):
        get_model_file(_entry(data, path="params/test/gone.params"), tmp_path / "cache", retries=1,
                       table=ReleaseTable([], server.url))
    assert server.requests == ["/params/test/tiny.params"] * 2 + ["/params/test/gone.params"]


@pytest.mark.parametrize("mode", ["stall_headers", "stall_body"])
def test_stalled_server_times_out(server, releases, tmp_path, mode):
    data = releases["fine"][0]
    server.serve("params/test/tiny.params", data, mode=mode)
    table = ReleaseTable([_entry(data)], base_url=server.url)
    _expect_failure(server, table, tmp_path / "cache", DownloadError, "no data from .* for 1 s", timeout=1)


def test_offline_error_says_what_to_put_where(releases, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    table = ReleaseTable([_entry(releases["fine"][0])], base_url=f"http://127.0.0.1:{port}/")
    message = _expect_failure(None, table, tmp_path / "cache", DownloadError, "download .* and save it as")
    assert f"http://127.0.0.1:{port}/params/test/tiny.params" in message


# --------------------------------------------------------------------------- pretrained=<path> and bad choices

def test_pretrained_path_loads_that_file(releases, tmp_path):
    path = tmp_path / "mine.params"
    path.write_bytes(releases["coarse"][0])
    for pretrained in (str(path), path):
        net = afflib.get_model("cifar_aff_resnet20", pretrained=pretrained, **TINY)
        np.testing.assert_array_equal(_outputs(net), releases["coarse"][1])
    with pytest.raises(FileNotFoundError, match="missing.params"):
        afflib.get_model("cifar_aff_resnet20", pretrained=str(tmp_path / "missing.params"), **TINY)
    with pytest.raises(ValueError, match="mine.params does not fit the network"):
        afflib.get_model("cifar_aff_resnet20", pretrained=path, layers=[2, 1, 1], channels=TINY["channels"])
    path.write_bytes(b"<html>rate limited</html>")
    with pytest.raises(ValueError, match="mine.params is not an MXNet parameter file"):
        afflib.get_model("cifar_aff_resnet20", pretrained=path, **TINY)


def test_float16_files_load_into_float32_networks(tmp_path):
    """The ImageNet releases were trained in float16: their arrays are cast to the network's float32."""
    mx.random.seed(3)
    net = afflib.get_model("cifar_aff_resnet20", **TINY)
    net.initialize(mx.init.Xavier())
    net(mx.nd.array(X))
    net.cast("float16")
    path = tmp_path / "half.params"
    net.save_parameters(str(path))
    saved = mx.nd.load(str(path))
    assert saved["features.1.weight"].dtype == np.float16
    loaded = afflib.get_model("cifar_aff_resnet20", pretrained=path, **TINY)
    params = loaded._collect_params_with_prefix()
    assert params["features.1.weight"].data().dtype == np.float32
    for name, array in saved.items():
        np.testing.assert_array_equal(params[name].data().asnumpy(), array.asnumpy().astype(np.float32))


def test_unavailable_choices_are_clear_errors(release_table, tmp_path):
    with pytest.raises(PretrainedNotAvailable, match=r"(?s)has several released files.*'fine'.*'coarse'"):
        resolve_released("cifar_aff_resnet20", True, 100, ReleaseTable(
            [e for e in release_table.files] + [_entry(b"x", path="other.params")], ""))
    with pytest.raises(PretrainedNotAvailable, match="classes=10: the released file has 100 outputs"):
        afflib.get_model("cifar_aff_resnet20", pretrained=True, classes=10, root=tmp_path, **TINY)
    with pytest.raises(PretrainedNotAvailable, match=r"no released file 'imagenet'"):
        afflib.get_model("cifar_aff_resnet20", pretrained="imagenet", root=tmp_path, **TINY)
    with pytest.raises(PretrainedNotAvailable, match="no released weights for 'cifar_iaff_resnet20'"):
        afflib.get_model("cifar_iaff_resnet20", pretrained=True, root=tmp_path, **TINY)
    assert _files(tmp_path) == []


# --------------------------------------------------------------------------- scripts/download_params.py

def _run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = _script("download_params").main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_download_params_cli_fetches_lists_and_verifies(server, releases, release_table, tmp_path):
    root = tmp_path / "cli"
    code, out, _ = _run_cli("cifar_aff_resnet20:fine", "--root", str(root), "--no-progress")
    fine, coarse = release_table.files
    assert code == 0 and f"OK       {root / fine.cache_name}" in out
    code, out, _ = _run_cli("--list", "--root", str(root))
    assert code == 0 and "cifar_aff_resnet20" in out and "coarse" in out

    code, out, err = _run_cli("--verify", "--root", str(root))
    assert code == 1 and f"OK       {root / fine.cache_name}" in out and f"MISSING  {root / coarse.cache_name}" in out
    assert "cifar_aff_resnet20:coarse" in err

    cached = root / fine.cache_name
    data = bytearray(cached.read_bytes())
    data[len(data) // 2] ^= 0xFF
    cached.write_bytes(bytes(data))
    code, out, _ = _run_cli("--verify", "cifar_aff_resnet20:fine", "--root", str(root))
    assert code == 1
    assert f"CORRUPT  {cached}: git blob SHA-1 {_sha1(bytes(data))}, expected {fine.sha1}" in out

    with pytest.warns(UserWarning, match="downloading it again"):  # repairs and completes the cache
        code, out, _ = _run_cli("--all", "--root", str(root), "--no-progress")
    assert code == 0
    code, out, _ = _run_cli("--verify", "--root", str(root))
    assert code == 0 and "2 of 2 files OK" in out


def test_download_params_cli_errors(server, release_table, tmp_path):
    server.serve("params/test/fine.params", 404, mode="status")
    code, _, err = _run_cli("cifar_aff_resnet20:fine", "--root", str(tmp_path / "c"), "--no-progress")
    assert code == 1 and "FAILED   cifar_aff_resnet20:fine: HTTP 404" in err
    code, _, err = _run_cli("aff_resnet50", "--root", str(tmp_path / "c"))
    assert code == 2 and "no released weights for 'aff_resnet50'" in err
    assert _files(tmp_path / "c") == []


def test_download_params_runs_as_a_script(tmp_path):
    """The command of the README, in a fresh interpreter from the checkout."""
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "download_params.py"), "--list",
                             "--root", str(tmp_path)], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "cifar_aff_resnext38_32x4d   coarse" in result.stdout and "aff_resnet50-aedcb94b.params" in result.stdout
