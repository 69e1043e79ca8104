"""afflib.core.params_io (the NumPy reader/writer of .params files used by the PyTorch twin) against MXNet."""
import struct

import mxnet as mx
import numpy as np
import pytest

import afflib
from afflib.core.params_io import dumps_params, load_params, loads_params, save_params

DTYPES = ["float32", "float16", "float64", "int32", "uint8", "int8", "int64"]


def _arrays(dtype):
    rng = np.random.RandomState(3)
    return {"features.0.weight": (rng.randn(4, 3, 3, 3) * 20).astype(dtype),
            "features.0.gamma": np.arange(5, dtype=dtype), "output.bias": (rng.rand(1) * 9).astype(dtype)}


@pytest.mark.parametrize("dtype", DTYPES)
def test_mxnet_file_is_read_identically_and_rewritten_byte_for_byte(tmp_path, dtype):
    path = str(tmp_path / "mx.params")
    mx.nd.save(path, {k: mx.nd.array(v, dtype=dtype) for k, v in _arrays(dtype).items()})
    ours = load_params(path)
    theirs = mx.nd.load(path)
    assert list(ours) == list(theirs)
    for name, value in theirs.items():
        assert ours[name].dtype == value.dtype and ours[name].shape == value.shape
        np.testing.assert_array_equal(ours[name], value.asnumpy())
    assert dumps_params(ours) == open(path, "rb").read()


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_our_file_is_loaded_identically_by_mxnet(tmp_path, dtype, version):
    path = tmp_path / "ours.params"
    save_params(path, _arrays(dtype), version=version)
    loaded = mx.nd.load(str(path))
    for name, value in _arrays(dtype).items():
        assert loaded[name].dtype == value.dtype
        np.testing.assert_array_equal(loaded[name].asnumpy(), value)


def test_v3_numpy_shape_files_both_ways(tmp_path):
    path = str(tmp_path / "v3.params")
    with mx.util.np_shape(True):
        mx.nd.save(path, {"s": mx.nd.ones(()) * 2, "m": mx.nd.array([[1.0, 2.0]])})
        ours = load_params(path)
        assert ours["s"].shape == () and float(ours["s"]) == 2.0
        assert dumps_params(ours, version="v3") == open(path, "rb").read()
        save_params(path, {"z": np.float64(4.0).reshape(()), "m": np.ones((0, 2), np.float32)}, version="v3")
        back = mx.nd.load(path)
        assert back["z"].shape == () and back["z"].asscalar() == 4.0 and back["m"].shape == (0, 2)


def test_unnamed_lists_and_pre_v1_legacy_arrays(tmp_path):
    path = str(tmp_path / "list.nd")
    mx.nd.save(path, [mx.nd.array([1, 2], dtype="float64"), mx.nd.zeros((2, 2))])
    ours = load_params(path)
    assert isinstance(ours, list) and ours[0].tolist() == [1.0, 2.0] and ours[1].shape == (2, 2)
    assert dumps_params(ours) == open(path, "rb").read()
    # Before NDArray magics: uint32 ndim and uint32 dims. MXNet still reads them; so must we.
    legacy = (struct.pack("<QQQ", 0x112, 0, 1) + struct.pack("<III", 2, 1, 2) + struct.pack("<iii", 1, 0, 0)
              + np.array([[3.0, 4.0]], np.float32).tobytes() + struct.pack("<QQ", 1, 1) + b"a")
    (tmp_path / "legacy.params").write_bytes(legacy)
    assert mx.nd.load(str(tmp_path / "legacy.params"))["a"].asnumpy().tolist() == [[3.0, 4.0]]
    assert loads_params(legacy)["a"].tolist() == [[3.0, 4.0]]


def test_save_parameters_of_an_afflib_network_round_trips(tmp_path):
    net = afflib.get_model("cifar_iaff_resnet20", layers=[1, 1, 1], channels=[8, 8, 16, 32], classes=10)
    net.initialize(mx.init.Xavier())
    net(mx.nd.zeros((1, 3, 32, 32)))
    path = str(tmp_path / "net.params")
    net.save_parameters(path)
    ours = load_params(path)
    params = net._collect_params_with_prefix()
    assert list(ours) == list(params)
    save_params(tmp_path / "again.params", {k: v * 2 for k, v in ours.items()})
    net.load_parameters(str(tmp_path / "again.params"))
    for name, p in params.items():
        np.testing.assert_array_equal(p.data().asnumpy(), ours[name] * 2)
