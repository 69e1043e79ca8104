"""``afflib_torch.get_model(name, pretrained=True | tag)``: the released MXNet file comes through the shared
store (local HTTP server, hash check, cache) and is converted; paths still load as before."""
import pytest
import torch

import afflib_torch
from afflib.core.params_io import save_params
from afflib.core.released import PretrainedNotAvailable, ReleaseTable, use_table
from afflib.core.store import ChecksumError
from afflib_torch.convert import is_released_choice, mxnet_arrays_from_model
from params_server import files_in, isolated_env, released_entry, serving_fine_and_coarse, server  # noqa: F401

TINY = dict(layers=[1, 1, 1], channels=[8, 8, 16, 32])


def _released(tmp_path, seed: int, dtype: str = "float32") -> bytes:
    torch.manual_seed(seed)
    net = afflib_torch.get_model("cifar_aff_resnet20", **TINY)
    path = tmp_path / f"release-{seed}.params"
    save_params(path, mxnet_arrays_from_model(net, dtype=dtype))
    return path.read_bytes()


def _same_weights(a, b) -> bool:
    return all(torch.equal(x, b.state_dict()[k]) for k, x in a.state_dict().items())


def test_release_choices_and_paths_are_told_apart(tmp_path):
    assert all(is_released_choice(c) for c in (True, "fine", "coarse", "imagenet", "aedcb94b"))
    (tmp_path / "fine").write_bytes(b"")
    assert not any(is_released_choice(c) for c in (False, "net.pt", "runs/x.params", str(tmp_path / "fine")))


def test_pretrained_true_and_tags_download_verify_and_convert(server, tmp_path):
    fine, coarse = _released(tmp_path, 1), _released(tmp_path, 2, "float16")
    root = tmp_path / "cache"
    with serving_fine_and_coarse(server, fine, coarse) as table:
        net = afflib_torch.get_model("cifar_aff_resnet20", pretrained=True, root=root, **TINY)
        again = afflib_torch.get_model("cifar_aff_resnet20", pretrained="fine", root=root, **TINY)
        half = afflib_torch.get_model("cifar_aff_resnet20", pretrained="coarse", root=root, **TINY)
        with pytest.raises(PretrainedNotAvailable, match="classes=10: the released file has 100 outputs"):
            afflib_torch.get_model("cifar_aff_resnet20", pretrained=True, root=root, classes=10, **TINY)
    torch.manual_seed(1)
    assert _same_weights(net, afflib_torch.get_model("cifar_aff_resnet20", **TINY)) and _same_weights(net, again)
    assert next(half.parameters()).dtype == torch.float32      # float16 files are cast, like the MXNet side
    # the second 'fine' came from the cache
    assert server.requests == ["/params/test/fine.params", "/params/test/coarse.params"]
    assert files_in(root) == sorted(e.cache_name for e in table.files)
    # the same cache the MXNet engine fills: a file it fetched is a cache hit here, and a path loads directly
    direct = afflib_torch.get_model("cifar_aff_resnet20", pretrained=str(root / table.files[0].cache_name), **TINY)
    assert _same_weights(direct, net)


def test_wrong_hash_loads_nothing(server, tmp_path):
    data = _released(tmp_path, 1)
    server.serve("params/test/tiny.params", data)
    entry = released_entry(data, sha1="0" * 40)
    with use_table(ReleaseTable([entry], base_url=server.url)), pytest.raises(ChecksumError, match="discarded"):
        afflib_torch.get_model("cifar_aff_resnet20", pretrained=True, root=tmp_path / "cache", **TINY)
    assert files_in(tmp_path / "cache") == []
