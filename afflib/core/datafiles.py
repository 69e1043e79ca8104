"""Readers of the small datasets' distribution files (Fashion-MNIST IDX, CIFAR binary), shared by both engines.

Every error is a :class:`DataFormatError` naming the file and what is wrong with it.
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

__all__ = ["DataFormatError", "IDX_TYPES", "CIFAR_IMAGE_BYTES", "read_idx", "read_cifar_binary"]

# IDX type byte -> element type (big-endian in the file)
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"),
             0x0E: np.dtype(">f8")}
CIFAR_IMAGE_BYTES = 3 * 32 * 32


class DataFormatError(ValueError):
    """A data file is missing, truncated or not in the expected format (the message names the file)."""


def read_idx(path: os.PathLike, expected_ndim: Optional[int] = None) -> np.ndarray:
    """Read an IDX file (plain or .gz): magic 0x0000TTDD (type TT, DD dims), big-endian uint32 dims, data.

    ``expected_ndim`` (if given) is checked; the array comes back in native byte order.
    """
    path = Path(path)
    try:
        content = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as error:  # gzip: truncated stream or bad header
        raise DataFormatError(f"{path}: cannot read ({error}); the file is truncated or corrupt, download it "
                              "again") from error
    if len(content) < 4:
        raise DataFormatError(f"{path}: {len(content)} bytes, too short for an IDX header")
    if content[0] != 0 or content[1] != 0 or content[2] not in IDX_TYPES:
        raise DataFormatError(f"{path}: not an IDX file (bad magic number {content[:4].hex()}; expected 0000TTDD "
                              f"with type TT in {sorted(hex(t) for t in IDX_TYPES)})")
    ndim = content[3]
    if expected_ndim is not None and ndim != expected_ndim:
        raise DataFormatError(f"{path}: {ndim} dimensions, expected {expected_ndim}")
    header = 4 + 4 * ndim
    if len(content) < header:
        raise DataFormatError(f"{path}: truncated IDX header ({len(content)} bytes, {ndim} dims need {header})")
    shape = tuple(int(d) for d in np.frombuffer(content, ">u4", ndim, 4))
    dtype = np.dtype(IDX_TYPES[content[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(content) - header != expected:
        raise DataFormatError(f"{path}: header promises shape {shape} = {expected} bytes of data, file has "
                              f"{len(content) - header}; truncated or corrupt, download it again")
    return np.frombuffer(content, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_cifar_binary(path: os.PathLike, label_bytes: int) -> Tuple[np.ndarray, np.ndarray]:
    """Images uint8 (N, 3, 32, 32) and label bytes (N, label_bytes) of one CIFAR ``.bin`` file (CIFAR-10: one
    label byte per record; CIFAR-100: coarse, fine)."""
    raw = np.fromfile(path, dtype=np.uint8)
    record = label_bytes + CIFAR_IMAGE_BYTES
    if raw.size == 0 or raw.size % record:
        raise DataFormatError(f"{path}: {raw.size} bytes is not a whole number of {record}-byte records "
                              f"({label_bytes} label byte(s) + 3072 image bytes); truncated or wrong dataset")
    raw = raw.reshape(-1, record)
    return raw[:, label_bytes:].reshape(-1, 3, 32, 32), raw[:, :label_bytes]
