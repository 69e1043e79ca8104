"""Released-weights store without a framework: cache, verified download from a local HTTP server, lock, hash,
pretrained choice, offline errors, and the ``afflib-download-params`` command. Runs in both environments."""
import io
import os
import shutil
import subprocess
import sys
import threading
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from afflib.cli import download_params
from afflib.core import store
from afflib.core.released import PretrainedNotAvailable, ReleaseTable, default_table_path, resolve_released, use_table
from afflib.core.store import ChecksumError, DownloadError, blob_sha1, get_model_file, released_file
from params_server import (closed_port, files_in, git_blob_sha1, isolated_env, released_entry,  # noqa: F401
                           serving_fine_and_coarse, server)

REPO = Path(__file__).resolve().parents[1]
FINE = np.random.RandomState(1).bytes(300_000)     # two "released files": the store never looks inside them
COARSE = np.random.RandomState(2).bytes(200_000)


_entry = released_entry


@pytest.fixture
def release_table(server):
    with serving_fine_and_coarse(server, FINE, COARSE) as table:
        yield table


# --------------------------------------------------------------------------- hashes and the pretrained choice

def test_blob_sha1_matches_git_hash_object(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    path = tmp_path / "file.bin"
    path.write_bytes(bytes(range(256)) * 100)
    git = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True, check=True)
    assert blob_sha1(path) == git.stdout.strip()


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


def test_paths_and_release_choices_are_told_apart(tmp_path):
    for choice in (True, "fine", "coarse", "imagenet", "cifar100-coarse", "aedcb94b"):
        assert not store.is_params_path(choice), choice
    for path in (tmp_path / "x.params", str(tmp_path / "x"), "mine.params", "runs/last.params"):
        assert store.is_params_path(path), path


def test_default_cache_is_mxnet_home_or_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MXNET_HOME", str(tmp_path / "elsewhere"))
    assert store.default_root() == tmp_path / "elsewhere" / "models"
    monkeypatch.delenv("MXNET_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert store.default_root() == tmp_path / "user" / ".mxnet" / "models"


# --------------------------------------------------------------------------- download and cache

def test_download_into_empty_cache_then_hit(server, release_table, tmp_path):
    root = tmp_path / "cache"
    entry, path = released_file("cifar_aff_resnet20", True, 100, root)
    assert entry == release_table.files[0] and path.read_bytes() == FINE
    assert files_in(root) == [entry.cache_name] == [f"cifar_aff_resnet20-fine-{entry.sha1[:8]}.params"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # readable like any other file
    assert released_file("cifar_aff_resnet20", "coarse", None, root)[1].read_bytes() == COARSE
    assert released_file("cifar_aff_resnet20", "fine", None, root)[1] == path    # cached: no request
    assert server.requests == ["/params/test/fine.params", "/params/test/coarse.params"]


def test_redirect_is_followed_and_stale_partial_files_are_cleaned(server, tmp_path):
    """GitHub answers raw URLs with a redirect; a .part file left by a killed download is removed."""
    server.serve("params/test/fine.params", FINE)
    server.serve("params/test/moved.params", "/params/test/fine.params", mode="redirect")
    entry = _entry(FINE, path="params/test/moved.params")
    root = tmp_path / "cache"
    root.mkdir()
    (root / f".{entry.cache_name}.killed.part").write_bytes(b"partial")
    path = get_model_file(entry, root, table=ReleaseTable([], server.url))
    assert path.read_bytes() == FINE
    assert server.requests == ["/params/test/moved.params", "/params/test/fine.params"]
    assert files_in(root) == [entry.cache_name]


def test_file_saved_by_hand_under_its_original_name_is_found(server, tmp_path):
    root = tmp_path / "cache"
    root.mkdir()
    (root / "tiny.params").write_bytes(COARSE)
    entry = _entry(COARSE, "cifar100-coarse", path="somewhere/tiny.params")
    assert get_model_file(entry, root, table=ReleaseTable([], server.url)) == root / "tiny.params"
    assert server.requests == []


def test_url_environment_variable_overrides_the_table(server, tmp_path, monkeypatch):
    server.serve("mirror/params/test/tiny.params", FINE)
    table = ReleaseTable([_entry(FINE)], base_url="http://127.0.0.1:9/not-used/")
    monkeypatch.setenv("AFFLIB_PARAMS_URL", server.url + "mirror")
    with use_table(table):
        path = get_model_file(table.files[0], tmp_path / "cache")
    assert path.read_bytes() == FINE and server.requests == ["/mirror/params/test/tiny.params"]


def test_corrupt_cached_file_is_replaced_by_a_good_download(server, release_table, tmp_path):
    root = tmp_path / "cache"
    root.mkdir()
    cached = root / release_table.files[0].cache_name
    cached.write_bytes(FINE[:-10] + b"0123456789")
    with pytest.warns(UserWarning, match="does not have git blob SHA-1 .*downloading it again"):
        assert get_model_file(release_table.files[0], root) == cached
    assert cached.read_bytes() == FINE


def test_concurrent_downloads_fetch_once(server, tmp_path):
    server.serve("params/test/slow.params", FINE, mode="slow")
    table = ReleaseTable([_entry(FINE, path="params/test/slow.params")], base_url=server.url)
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
    assert files_in(root) == [table.files[0].cache_name]


# --------------------------------------------------------------------------- failures leave nothing behind

def _expect_failure(table, root, error, pattern, **kwargs):
    with use_table(table), pytest.raises(error, match=pattern) as info:
        get_model_file(table.files[0], root, **kwargs)
    assert files_in(root) == [], "a failed download left files in the cache"
    message = str(info.value)
    assert str(root / table.files[0].cache_name) in message and table.files[0].sha1 in message
    return message


def test_wrong_hash_is_reported_and_discarded(server, tmp_path):
    server.serve("params/test/tiny.params", FINE)
    table = ReleaseTable([_entry(FINE, sha1="0" * 40)], base_url=server.url)
    message = _expect_failure(table, tmp_path / "cache", ChecksumError,
                              f"has git blob SHA-1 {git_blob_sha1(FINE)}, expected {'0' * 40}")
    assert "discarded" in message


def test_truncated_transfer(server, tmp_path):
    server.serve("params/test/tiny.params", FINE, mode="truncate")
    table = ReleaseTable([_entry(FINE)], base_url=server.url)
    _expect_failure(table, tmp_path / "cache", DownloadError, r"(IncompleteRead|ended after \d+ of \d+ bytes)")


@pytest.mark.parametrize("status", [404, 500])
def test_http_errors(server, tmp_path, status):
    server.serve("params/test/tiny.params", status, mode="status")
    table = ReleaseTable([_entry(FINE)], base_url=server.url)
    message = _expect_failure(table, tmp_path / "cache", DownloadError, f"HTTP {status}")
    assert server.url + "params/test/tiny.params" in message


def test_server_errors_are_retried_but_not_found_is_not(server, tmp_path):
    server.serve("params/test/tiny.params", 500, mode="status")
    server.serve("params/test/gone.params", 404, mode="status")
    with pytest.raises(DownloadError, match="HTTP 500"):
        get_model_file(_entry(FINE), tmp_path / "cache", retries=1, table=ReleaseTable([], server.url))
    with pytest.raises(DownloadError, match="HTTP 404"):
        get_model_file(_entry(FINE, path="params/test/gone.params"), tmp_path / "cache", retries=1,
                       table=ReleaseTable([], server.url))
    assert server.requests == ["/params/test/tiny.params"] * 2 + ["/params/test/gone.params"]


@pytest.mark.parametrize("mode", ["stall_headers", "stall_body"])
def test_stalled_server_times_out(server, tmp_path, mode):
    server.serve("params/test/tiny.params", FINE, mode=mode)
    table = ReleaseTable([_entry(FINE)], base_url=server.url)
    _expect_failure(table, tmp_path / "cache", DownloadError, "no data from .* for 1 s", timeout=1)


def test_offline_error_says_what_to_put_where(tmp_path):
    port = closed_port()
    table = ReleaseTable([_entry(FINE)], base_url=f"http://127.0.0.1:{port}/")
    message = _expect_failure(table, tmp_path / "cache", DownloadError, "download .* and save it as")
    assert f"http://127.0.0.1:{port}/params/test/tiny.params" in message


def test_unavailable_choices_download_nothing(release_table, tmp_path):
    with pytest.raises(PretrainedNotAvailable, match=r"(?s)has several released files.*'fine'.*'coarse'"):
        resolve_released("cifar_aff_resnet20", True, 100, ReleaseTable(
            [e for e in release_table.files] + [_entry(b"x", path="other.params")], ""))
    with pytest.raises(PretrainedNotAvailable, match="classes=10: the released file has 100 outputs"):
        released_file("cifar_aff_resnet20", True, 10, tmp_path)
    with pytest.raises(PretrainedNotAvailable, match=r"no released file 'imagenet'"):
        released_file("cifar_aff_resnet20", "imagenet", None, tmp_path)
    with pytest.raises(PretrainedNotAvailable, match="no released weights for 'cifar_iaff_resnet20'"):
        released_file("cifar_iaff_resnet20", True, 100, tmp_path)
    assert files_in(tmp_path) == []


# --------------------------------------------------------------------------- afflib-download-params

def _run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = download_params.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_download_params_cli_fetches_lists_and_verifies(server, release_table, tmp_path):
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
    assert f"CORRUPT  {cached}: git blob SHA-1 {git_blob_sha1(bytes(data))}, expected {fine.sha1}" in out

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
    assert files_in(tmp_path / "c") == []


def test_download_params_runs_as_a_script(tmp_path):
    """The command of the README, in a fresh interpreter from the checkout (this checkout's afflib first)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "download_params.py"), "--list",
                             "--root", str(tmp_path)], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "cifar_aff_resnext38_32x4d   coarse" in result.stdout and "aff_resnet50-aedcb94b.params" in result.stdout
