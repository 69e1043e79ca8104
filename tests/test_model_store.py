"""Released weights in the MXNet engine: the table against the registry, loading verified downloads into networks.

The framework-free store (cache, download, lock, hash, offline errors, afflib-download-params) is tested in
tests_core/test_store.py; this file keeps what needs MXNet networks.
"""
import importlib.util
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest

import afflib
from afflib.model_zoo import model_store
from afflib.model_zoo.model_store import ChecksumError
from afflib.core.released import PretrainedNotAvailable, ReleaseTable, default_table_path, resolve_released, use_table
from params_server import files_in as _files, git_blob_sha1 as _sha1, isolated_env, server  # noqa: F401
from params_server import released_entry, serving_fine_and_coarse
from reference import REPO, load_released_format

TINY = dict(layers=[1, 1, 1], channels=[16, 16, 32, 64])  # cifar_aff_resnet20 shrunk: loads in milliseconds


def _script(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

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


_entry = released_entry


@pytest.fixture
def release_table(server, releases):
    with serving_fine_and_coarse(server, releases["fine"][0], releases["coarse"][0]) as table:
        yield table


def _outputs(net):
    return net(mx.nd.array(X)).asnumpy()


# --------------------------------------------------------------------------- the table of released files

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


# --------------------------------------------------------------------------- download, cache and load

def test_download_into_empty_cache_then_load(server, releases, release_table, tmp_path):
    root = tmp_path / "cache"
    net = afflib.get_model("cifar_aff_resnet20", pretrained=True, root=root, **TINY)
    np.testing.assert_array_equal(_outputs(net), releases["fine"][1])
    entry = release_table.files[0]
    assert _files(root) == [entry.cache_name] == [f"cifar_aff_resnet20-fine-{entry.sha1[:8]}.params"]
    assert server.requests == ["/params/test/fine.params"]

    coarse = afflib.get_model("cifar_aff_resnet20", pretrained="coarse", root=root, **TINY)
    np.testing.assert_array_equal(_outputs(coarse), releases["coarse"][1])
    assert len(server.requests) == 2


def test_cache_hit_makes_no_request(server, releases, release_table, tmp_path):
    root = tmp_path / "cache"
    root.mkdir()
    (root / release_table.files[0].cache_name).write_bytes(releases["fine"][0])
    net = afflib.get_model("cifar_aff_resnet20", pretrained=True, root=root, **TINY)
    np.testing.assert_array_equal(_outputs(net), releases["fine"][1])
    assert server.requests == []


def test_mxnet_home_is_the_default_cache(server, releases, release_table, tmp_path, monkeypatch):
    home = tmp_path / "elsewhere"
    monkeypatch.setenv("MXNET_HOME", str(home))
    afflib.get_model("cifar_aff_resnet20", pretrained="fine", **TINY)
    assert _files(home / "models") == [release_table.files[0].cache_name]
    monkeypatch.delenv("MXNET_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert model_store.default_root() == tmp_path / "user" / ".mxnet" / "models"


def test_corrupt_cached_file_is_replaced_by_a_good_download(server, releases, release_table, tmp_path):
    root = tmp_path / "cache"
    root.mkdir()
    cached = root / release_table.files[0].cache_name
    cached.write_bytes(releases["fine"][0][:-10] + b"0123456789")
    with pytest.warns(UserWarning, match="does not have git blob SHA-1 .*downloading it again"):
        net = afflib.get_model("cifar_aff_resnet20", pretrained=True, root=root, **TINY)
    np.testing.assert_array_equal(_outputs(net), releases["fine"][1])
    assert cached.read_bytes() == releases["fine"][0]


def test_wrong_hash_loads_nothing_and_keeps_nothing(server, releases, tmp_path):
    data = releases["fine"][0]
    server.serve("params/test/tiny.params", data)
    table = ReleaseTable([_entry(data, sha1="0" * 40)], base_url=server.url)
    with use_table(table), pytest.raises(ChecksumError, match=f"has git blob SHA-1 {_sha1(data)}, expected"):
        afflib.get_model("cifar_aff_resnet20", pretrained=True, root=tmp_path / "cache", **TINY)
    assert _files(tmp_path / "cache") == []


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
