"""The NumPy reader/writer of MXNet's NDArray list format: round trips, MXNet's exact bytes, bad files."""
import struct

import numpy as np
import pytest

from afflib.core.params_io import MXNetFormatError, dumps_params, load_params, loads_params, save_params

# What `mx.nd.save(path, {'w': mx.nd.array(np.arange(6).reshape(2, 3)), 'b.x': mx.nd.array([1.5], dtype='float16')})`
# wrote with MXNet 1.9.1 (checked byte for byte with xxd when this reader was written).
MXNET_BYTES = bytes.fromhex(
    "1201000000000000" "0000000000000000" "0200000000000000"          # list magic, reserved, 2 arrays
    "c9fa93f9" "00000000" "02000000" "0200000000000000" "0300000000000000"  # V2 magic, dense, ndim 2, (2, 3)
    "01000000" "00000000" "00000000"                                    # cpu(0), float32
    "00000000" "0000803f" "00000040" "00004040" "00008040" "0000a040"   # 0..5
    "c9fa93f9" "00000000" "01000000" "0100000000000000"                 # V2, dense, ndim 1, (1,)
    "01000000" "00000000" "02000000" "003e"                             # cpu(0), float16, 1.5
    "0200000000000000" "0100000000000000" "77" "0300000000000000" "622e78")  # names: 'w', 'b.x'


def test_reads_bytes_written_by_mxnet():
    arrays = loads_params(MXNET_BYTES)
    assert list(arrays) == ["w", "b.x"]
    np.testing.assert_array_equal(arrays["w"], np.arange(6, dtype=np.float32).reshape(2, 3))
    assert arrays["w"].dtype == np.float32 and arrays["b.x"].dtype == np.float16
    assert arrays["b.x"].tolist() == [1.5]


def test_writes_the_bytes_mxnet_writes():
    arrays = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b.x": np.array([1.5], np.float16)}
    assert dumps_params(arrays) == MXNET_BYTES


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
@pytest.mark.parametrize("dtype", ["float32", "float16", "float64", "int32", "uint8"])
def test_round_trip_through_a_file(tmp_path, version, dtype):
    rng = np.random.RandomState(1)
    arrays = {"features.0.weight": (rng.randn(4, 3, 3, 3) * 10).astype(dtype),
              "features.0.gamma": rng.rand(7).astype(dtype), "output.bias": np.zeros((0,), dtype)}
    path = tmp_path / "x.params"
    save_params(path, arrays, version=version)
    back = load_params(path)
    assert list(back) == list(arrays)
    for name, value in arrays.items():
        assert back[name].dtype == value.dtype and back[name].shape == value.shape
        np.testing.assert_array_equal(back[name], value)


def test_unnamed_list_and_v3_scalar_round_trip():
    arrays = [np.float32(2.5).reshape(()), np.arange(3.0)]
    back = loads_params(dumps_params(arrays, version="v3"))
    assert isinstance(back, list) and back[0].shape == () and back[0] == 2.5
    np.testing.assert_array_equal(back[1], np.arange(3.0))
    with pytest.raises(ValueError, match="scalar"):
        dumps_params([np.float32(1.0).reshape(())], version="v2")


def test_reads_pre_v1_legacy_arrays():
    """Files from before NDArray magics: uint32 ndim, uint32 dims, context, type flag, data."""
    data = (struct.pack("<QQQ", 0x112, 0, 1) + struct.pack("<III", 2, 1, 2) + struct.pack("<iii", 1, 0, 1)
            + np.array([[3.0, 4.0]]).tobytes() + struct.pack("<QQ", 1, 1) + b"a")
    arrays = loads_params(data)
    np.testing.assert_array_equal(arrays["a"], [[3.0, 4.0]])
    assert arrays["a"].dtype == np.float64


def test_bad_files_get_specific_errors(tmp_path):
    with pytest.raises(MXNetFormatError, match="not an MXNet NDArray file"):
        loads_params(b"PK\x03\x04" + bytes(20), "model.zip")
    with pytest.raises(MXNetFormatError, match="truncated"):
        loads_params(MXNET_BYTES[:60], "cut.params")
    sparse = bytearray(MXNET_BYTES)
    sparse[28:32] = struct.pack("<i", 1)  # storage type of the first array: row_sparse
    with pytest.raises(MXNetFormatError, match="sparse storage"):
        loads_params(bytes(sparse))
    odd = bytearray(MXNET_BYTES)
    odd[60:64] = struct.pack("<i", 12)  # type flag of the first array: bfloat16
    with pytest.raises(MXNetFormatError, match="type flag 12"):
        loads_params(bytes(odd))
    with pytest.raises(MXNetFormatError, match="unexpected bytes"):
        loads_params(MXNET_BYTES + b"\0")
    with pytest.raises(TypeError, match="complex64"):
        dumps_params({"z": np.zeros(2, np.complex64)})


def test_failed_write_keeps_the_existing_file(tmp_path):
    path = tmp_path / "keep.params"
    save_params(path, {"a": np.ones(2, np.float32)})
    before = path.read_bytes()
    with pytest.raises(TypeError):
        save_params(path, {"a": np.zeros(2, np.complex64)})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.params"]
