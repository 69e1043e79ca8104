"""Read and write MXNet's NDArray list files (``mx.nd.save`` / ``save_parameters``) with NumPy only.

This module imports nothing but NumPy (and the framework-free ``afflib.core.fileio``), so MXNet checkpoints convert
in an environment without MXNet and the MXNet test suite can check it against ``mx.nd.save`` / ``mx.nd.load``.

File layout (little endian), as MXNet 1.9.1 writes and reads it::

    uint64 0x112 (list magic), uint64 0 (reserved)
    uint64 count, then count arrays
    uint64 count, then count names: uint64 length + UTF-8 bytes   (count 0 for an unnamed list)

One dense array::

    V2: uint32 0xF993FAC9, int32 storage type (0 = dense), shape, context, data
    V3: uint32 0xF993FACA, same fields; written under NumPy shape semantics, ndim 0 is a scalar
    V1: uint32 0xF993FAC8, shape, context, data                    (no storage type)
    legacy: uint32 ndim (no magic), uint32 dims, context, data
    shape = int32 ndim + ndim x int64; context = int32 device type + int32 device id;
    data = int32 type flag + the elements in C order.  An empty shape (ndim 0 before V3) has no context or data.
"""
from __future__ import annotations

import os
import struct
from typing import Dict, List, Mapping, Tuple, Union

import numpy as np

from afflib.core.fileio import atomic_write

__all__ = ["MXNetFormatError", "load_params", "save_params", "loads_params", "dumps_params", "DTYPE_FLAGS"]

LIST_MAGIC = 0x112
V1_MAGIC = 0xF993FAC8
V2_MAGIC = 0xF993FAC9
V3_MAGIC = 0xF993FACA
DENSE_STORAGE = 0
CPU_DEVICE = 1

# MXNet's mshadow type flags for the dtypes a parameter file holds.
DTYPE_FLAGS: Dict[int, np.dtype] = {
    0: np.dtype("<f4"), 1: np.dtype("<f8"), 2: np.dtype("<f2"), 3: np.dtype("u1"),
    4: np.dtype("<i4"), 5: np.dtype("i1"), 6: np.dtype("<i8"), 7: np.dtype("?"),
}
_FLAG_OF = {dtype: flag for flag, dtype in DTYPE_FLAGS.items()}
_VERSIONS = {"v1": V1_MAGIC, "v2": V2_MAGIC, "v3": V3_MAGIC}

ParamsDict = Dict[str, np.ndarray]


class MXNetFormatError(ValueError):
    """The bytes are not an MXNet NDArray list file (or use a feature this reader does not support)."""


class _Reader:
    def __init__(self, data: bytes, source: str):
        self.data, self.pos, self.source = memoryview(data), 0, source

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise MXNetFormatError(f"{self.source}: truncated at byte {self.pos} (wanted {size} more bytes, "
                                   f"file has {len(self.data)})")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values if len(values) > 1 else values[0]

    def array(self, dtype: np.dtype, count: int) -> np.ndarray:
        size = dtype.itemsize * count
        if self.pos + size > len(self.data):
            raise MXNetFormatError(f"{self.source}: truncated inside array data at byte {self.pos} (wanted {size} "
                                   f"bytes, {len(self.data) - self.pos} left)")
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos).copy()
        self.pos += size
        return out


def _read_array(reader: _Reader, index: int) -> np.ndarray:
    magic = reader.take("<I")
    scalar_allowed = magic == V3_MAGIC
    if magic in (V2_MAGIC, V3_MAGIC):
        storage = reader.take("<i")
        if storage != DENSE_STORAGE:
            raise MXNetFormatError(f"{reader.source}: array #{index} uses sparse storage type {storage}; only dense "
                                   "arrays are supported (convert with .tostype('default') before saving)")
    if magic in (V1_MAGIC, V2_MAGIC, V3_MAGIC):
        ndim = reader.take("<i")
        shape = tuple(reader.take("<q") for _ in range(ndim)) if ndim > 0 else ()
    else:  # pre-V1 files: the first word is ndim and dims are uint32
        ndim = magic
        if ndim > 32:
            raise MXNetFormatError(f"{reader.source}: array #{index} starts with {magic:#x}, neither an NDArray "
                                   "magic (0xf993fac8/9/a) nor a plausible legacy ndim")
        shape = tuple(reader.take("<I") for _ in range(ndim))
    if ndim < 0 or (ndim == 0 and not scalar_allowed):
        return np.zeros((0,), np.float32)  # MXNet's "none" array: nothing follows
    reader.take("<ii")  # device type and id: arrays are always loaded to the CPU here
    flag = reader.take("<i")
    if flag not in DTYPE_FLAGS:
        raise MXNetFormatError(f"{reader.source}: array #{index} has type flag {flag}; supported: "
                               + ", ".join(f"{k}={v.name}" for k, v in DTYPE_FLAGS.items()))
    if any(d < 0 for d in shape):
        raise MXNetFormatError(f"{reader.source}: array #{index} has an unknown dimension in shape {shape}")
    count = int(np.prod(shape, dtype=np.int64))
    return reader.array(DTYPE_FLAGS[flag], count).reshape(shape)


def loads_params(data: bytes, source: str = "<bytes>") -> Union[ParamsDict, List[np.ndarray]]:
    """Decode the bytes of an NDArray list file: a dict name -> array, or a list when the file has no names."""
    reader = _Reader(data, source)
    magic, _reserved = reader.take("<QQ")
    if magic != LIST_MAGIC:
        raise MXNetFormatError(f"{source}: not an MXNet NDArray file (magic {magic:#x}, expected {LIST_MAGIC:#x})")
    arrays = [_read_array(reader, i) for i in range(reader.take("<Q"))]
    names = []
    for _ in range(reader.take("<Q")):
        length = reader.take("<Q")
        names.append(bytes(reader.array(np.dtype("u1"), length)).decode("utf-8"))
    if reader.pos != len(reader.data):
        raise MXNetFormatError(f"{source}: {len(reader.data) - reader.pos} unexpected bytes after the names")
    if not names:
        return arrays
    if len(names) != len(arrays):
        raise MXNetFormatError(f"{source}: {len(arrays)} arrays but {len(names)} names")
    if len(set(names)) != len(names):
        raise MXNetFormatError(f"{source}: duplicate array names")
    return dict(zip(names, arrays))


def load_params(path: Union[str, os.PathLike]) -> Union[ParamsDict, List[np.ndarray]]:
    """Read an MXNet ``.params`` / ``.nd`` file into NumPy arrays (see :func:`loads_params`)."""
    with open(path, "rb") as f:
        return loads_params(f.read(), source=str(path))


def _array_bytes(name: str, value, version: str) -> bytes:
    array = np.asarray(value)
    flag = _FLAG_OF.get(array.dtype.newbyteorder("<") if array.dtype.itemsize > 1 else array.dtype)
    if flag is None:
        raise TypeError(f"array {name!r}: dtype {array.dtype} has no MXNet type flag; supported: "
                        + ", ".join(d.name for d in DTYPE_FLAGS.values()))
    if array.ndim == 0 and version != "v3":
        raise ValueError(f"array {name!r} is a scalar: only version='v3' (NumPy shape semantics) stores scalars; "
                         "reshape it to (1,)")
    parts = [struct.pack("<I", _VERSIONS[version])]
    if version != "v1":
        parts.append(struct.pack("<i", DENSE_STORAGE))
    parts.append(struct.pack("<i", array.ndim) + struct.pack(f"<{array.ndim}q", *array.shape))
    parts.append(struct.pack("<iii", CPU_DEVICE, 0, flag))
    parts.append(np.ascontiguousarray(array, dtype=DTYPE_FLAGS[flag]).tobytes())
    return b"".join(parts)


def dumps_params(arrays: Union[Mapping[str, np.ndarray], List[np.ndarray]], version: str = "v2") -> bytes:
    """Encode arrays as an NDArray list file. ``version``: 'v2' (what ``mx.nd.save`` writes), 'v3' or 'v1'."""
    if version not in _VERSIONS:
        raise ValueError(f"version must be one of {sorted(_VERSIONS)}, got {version!r}")
    items: List[Tuple[str, np.ndarray]] = (list(arrays.items()) if isinstance(arrays, Mapping)
                                           else [("", a) for a in arrays])
    parts = [struct.pack("<QQQ", LIST_MAGIC, 0, len(items))]
    parts += [_array_bytes(name or f"#{i}", value, version) for i, (name, value) in enumerate(items)]
    names = [name.encode("utf-8") for name, _ in items] if isinstance(arrays, Mapping) else []
    parts.append(struct.pack("<Q", len(names)))
    parts += [struct.pack("<Q", len(n)) + n for n in names]
    return b"".join(parts)


def save_params(path: Union[str, os.PathLike], arrays: Union[Mapping[str, np.ndarray], List[np.ndarray]],
                version: str = "v2") -> None:
    """Write arrays as an MXNet ``.params`` file atomically (temp file in the same folder, then rename)."""
    data = dumps_params(arrays, version)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)
    atomic_write(path, write)
