"""MXNet's RecordIO files (``.rec`` + ``.idx``) read and written without MXNet: stdlib + NumPy.

Format (dmlc RecordIO, as MXNet 1.9 writes it): each record is the magic word ``0xced7230a``, a length word whose
top 3 bits are a continuation flag (0 whole, 1 first, 2 middle, 3 last part) and low 29 bits the part length, the
part's bytes and zero padding to 4 bytes. A payload holding the magic at a 4-byte boundary is split there (the magic
itself is dropped and put back by the reader). An image record's payload is ``IRHeader`` (``<IfQQ``: flag, label,
id, id2) then ``flag`` float32 labels when ``flag > 0`` (``label`` is then 0), then the encoded image. The ``.idx``
holds ``key<TAB>byte offset`` lines. :class:`IndexedRecordWriter` + :func:`pack` write the same bytes as
``mx.recordio.MXIndexedRecordIO`` + ``mx.recordio.pack`` (``tests/test_recordio_core.py`` compares them).

Every problem with a file is a :class:`RecordIOError` naming the file, the record and the byte offset.
"""
from __future__ import annotations

import io
import numbers
import os
import re
import struct
from collections import namedtuple
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from .datafiles import DataFormatError

__all__ = ["MAGIC", "IRHeader", "RecordIOError", "frame_record", "pack", "unpack", "label_of", "read_index",
           "RecordReader", "IndexedRecordWriter", "encode_image", "pack_img", "write_synthetic_records"]

MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", MAGIC)
_LENGTH_MASK = (1 << 29) - 1
_IR_FORMAT = "<IfQQ"
_IR_SIZE = struct.calcsize(_IR_FORMAT)  # 24
_INDEX_LINE = re.compile(r"(\d+)\t(\d+)")

IRHeader = namedtuple("IRHeader", ["flag", "label", "id", "id2"])
IRHeader.__doc__ = """Image record header: ``flag`` (number of float labels after the header, 0 for one scalar
``label``), ``label`` (float, or a float32 array when ``flag > 0``), ``id`` and ``id2`` (uint64)."""

PathLike = Union[str, os.PathLike]


class RecordIOError(DataFormatError):
    """A ``.rec``/``.idx`` file is damaged or not RecordIO; the message names the file, record and byte offset."""


def _length_word(cflag: int, length: int) -> bytes:
    return struct.pack("<II", MAGIC, (cflag << 29) | length)


def frame_record(payload: bytes) -> bytes:
    """One payload as RecordIO bytes: split at every 4-byte-aligned copy of the magic word, padded to 4 bytes."""
    if len(payload) >= 1 << 29:
        raise ValueError(f"a RecordIO record holds less than 2**29 bytes, got {len(payload)}")
    aligned = len(payload) // 4 * 4
    words = np.frombuffer(payload, dtype="<u4", count=aligned // 4)
    parts, start = [], 0
    for cut in (np.flatnonzero(words == MAGIC) * 4).tolist():
        parts.append(_length_word(1 if start == 0 else 2, cut - start) + payload[start:cut])
        start = cut + 4
    tail = payload[start:]
    parts.append(_length_word(3 if start else 0, len(tail)) + tail + b"\0" * (-len(tail) % 4))
    return b"".join(parts)


def pack(header: Sequence, payload: bytes) -> bytes:
    """``IRHeader`` + payload as ``mx.recordio.pack`` lays them out: a scalar label sets ``flag`` 0; a sequence of
    labels is stored as float32 after the header with ``flag`` = their count and ``label`` 0."""
    header = IRHeader(*header)
    if isinstance(header.label, numbers.Number):
        header = header._replace(flag=0)
    else:
        labels = np.asarray(header.label, dtype=np.float32)
        header = header._replace(flag=labels.size, label=0)
        payload = labels.tobytes() + payload
    return struct.pack(_IR_FORMAT, *header) + payload


def unpack(record: bytes, where: str = "record") -> Tuple[IRHeader, bytes]:
    """Split a record payload into its ``IRHeader`` (``label`` a float32 array when ``flag > 0``) and the rest."""
    if len(record) < _IR_SIZE:
        raise RecordIOError(f"{where}: {len(record)} bytes, too short for the {_IR_SIZE}-byte image header")
    header = IRHeader(*struct.unpack_from(_IR_FORMAT, record))
    body = record[_IR_SIZE:]
    if header.flag > 0:
        if len(body) < 4 * header.flag:
            raise RecordIOError(f"{where}: the image header announces {header.flag} labels but only {len(body)} "
                                "bytes follow it")
        header = header._replace(label=np.frombuffer(body, np.float32, header.flag))
        body = body[4 * header.flag:]
    return header, body


def label_of(header: IRHeader) -> float:
    """The class label of an image record: the scalar label, or the first of several (as afflib's MXNet reader)."""
    return float(header.label) if np.isscalar(header.label) else float(header.label[0])


def read_index(idx_path: PathLike) -> Tuple[List[int], np.ndarray]:
    """Keys (in file order) and byte offsets of an ``.idx`` file; a bad line is a :class:`RecordIOError`."""
    idx_path = Path(idx_path)
    try:
        text = idx_path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise RecordIOError(f"{idx_path}: index file not found") from None
    except UnicodeDecodeError as error:
        raise RecordIOError(f"{idx_path}: not a RecordIO index (byte {error.start} is not ASCII)") from None
    fields = text.split()
    lines = [line for line in text.splitlines() if line.strip()]
    if len(fields) == 2 * len(lines) and all(field.isdigit() for field in fields):  # the usual case, fast
        table = np.array(fields, dtype=np.int64).reshape(-1, 2)
        if all("\t" in line for line in lines):
            return table[:, 0].tolist(), table[:, 1].copy()
    keys, offsets = [], []
    for number, line in enumerate(text.splitlines(), 1):
        match = _INDEX_LINE.fullmatch(line.strip(" \r"))
        if match is None:
            if not line.strip():
                continue
            raise RecordIOError(f"{idx_path}: line {number} is {line[:60]!r}, expected '<key><TAB><byte offset>'")
        keys.append(int(match.group(1)))
        offsets.append(int(match.group(2)))
    return keys, np.asarray(offsets, dtype=np.int64)


class RecordReader:
    """Records of a ``.rec`` file, by key through its ``.idx`` (``read(key)``) or in file order (iteration).

    Safe to pass to DataLoader worker processes: each process opens its own file handle on first use.
    ``read`` returns the payload (``unpack`` it for image records); ``read_image(key)`` gives
    ``(IRHeader, image bytes)``.
    """

    def __init__(self, rec_path: PathLike, idx_path: Optional[PathLike] = None):
        self.rec_path = Path(rec_path)
        self.idx_path = Path(idx_path) if idx_path is not None else None
        if not self.rec_path.is_file():
            raise RecordIOError(f"{self.rec_path}: record file not found")
        self.size = self.rec_path.stat().st_size
        self.keys: List[int] = []
        self._offsets = {}
        if self.idx_path is not None:
            self.keys, offsets = read_index(self.idx_path)
            bad = np.flatnonzero((offsets < 0) | (offsets >= max(self.size, 1)))
            if len(bad):
                raise RecordIOError(f"{self.idx_path}: line {bad[0] + 1} points at byte {offsets[bad[0]]}, past the "
                                    f"end of {self.rec_path.name} ({self.size} bytes)")
            self._offsets = dict(zip(self.keys, offsets.tolist()))
        self._handle = None
        self._pid = None

    def __len__(self) -> int:
        return len(self.keys)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_handle"], state["_pid"] = None, None
        return state

    def _file(self):
        if self._handle is None or self._pid != os.getpid():
            self._handle, self._pid = open(self.rec_path, "rb"), os.getpid()
        return self._handle

    def close(self) -> None:
        if self._handle is not None and self._pid == os.getpid():
            self._handle.close()
        self._handle = None

    def __enter__(self) -> "RecordReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def offset(self, key: int) -> int:
        try:
            return self._offsets[key]
        except KeyError:
            where = self.idx_path if self.idx_path else f"{self.rec_path} (opened without an index)"
            raise KeyError(f"{where}: no record with key {key}") from None

    def read_at(self, offset: int, where: str = "") -> Tuple[bytes, int]:
        """The record starting at byte ``offset`` and the offset just past it (parts joined, magic restored)."""
        handle, position, parts = self._file(), offset, []
        while True:
            handle.seek(position)
            head = handle.read(8)
            place = f"{self.rec_path}: {where}byte {position}"
            if len(head) < 8:
                raise RecordIOError(f"{place}: the file ends inside a record header (file size {self.size}); "
                                    "the file is truncated")
            magic, word = struct.unpack("<II", head)
            if magic != MAGIC:
                raise RecordIOError(f"{place}: no RecordIO magic (found 0x{magic:08x}, expected 0x{MAGIC:08x}); "
                                    "the file is damaged or the index does not belong to it")
            cflag, length = word >> 29, word & _LENGTH_MASK
            if cflag not in ((0, 1) if not parts else (2, 3)):
                raise RecordIOError(f"{place}: continuation flag {cflag} where a "
                                    f"{'first' if not parts else 'following'} part was expected")
            data = handle.read(length)
            if len(data) < length:
                raise RecordIOError(f"{place}: record part of {length} bytes runs past the end of the file "
                                    f"({self.size} bytes); the file is truncated")
            parts.append(data)
            position += 8 + length + (-length % 4)
            if cflag in (0, 3):
                return _MAGIC_BYTES.join(parts), position

    def read(self, key: int) -> bytes:
        """Payload of the record with ``key`` (needs the ``.idx``)."""
        return self.read_at(self.offset(key), f"record {key} at ")[0]

    def read_image(self, key: int) -> Tuple[IRHeader, bytes]:
        """``(IRHeader, encoded image bytes)`` of the image record ``key``."""
        offset = self.offset(key)
        return unpack(self.read(key), f"{self.rec_path}: record {key} at byte {offset}")

    def __iter__(self) -> Iterator[bytes]:
        """Every record payload in file order (no index needed)."""
        position = 0
        while position < self.size:
            record, position = self.read_at(position)
            yield record


class IndexedRecordWriter:
    """Writes ``.rec`` + ``.idx`` as ``mx.recordio.MXIndexedRecordIO(idx_path, rec_path, 'w')`` does, byte for
    byte: ``write_idx(key, payload)`` appends the framed record and the line ``key<TAB>offset``."""

    def __init__(self, idx_path: PathLike, rec_path: PathLike):
        self.idx_path, self.rec_path = Path(idx_path), Path(rec_path)
        self._rec = open(self.rec_path, "wb")
        self._idx = open(self.idx_path, "w", encoding="ascii", newline="\n")
        self.keys: List[int] = []

    def tell(self) -> int:
        return self._rec.tell()

    def write(self, payload: bytes) -> None:
        """Append one record without an index line (``MXRecordIO.write``)."""
        self._rec.write(frame_record(payload))

    def write_idx(self, key: int, payload: bytes) -> None:
        offset = self._rec.tell()
        self.write(payload)
        self._idx.write(f"{int(key)}\t{offset}\n")
        self.keys.append(int(key))

    def close(self) -> None:
        self._rec.close()
        self._idx.close()

    def __enter__(self) -> "IndexedRecordWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def encode_image(image: np.ndarray, quality: int = 95, img_fmt: str = ".jpg") -> bytes:
    """HWC (or HW) uint8 RGB pixels -> JPEG/PNG bytes, with Pillow (or OpenCV where Pillow is missing).

    Pillow and OpenCV both use libjpeg(-turbo): the bytes may differ between them, the format does not.
    """
    if img_fmt not in (".jpg", ".jpeg", ".png"):
        raise ValueError(f"img_fmt must be '.jpg' or '.png', got {img_fmt!r}")
    image = np.ascontiguousarray(image[:, :, 0] if image.ndim == 3 and image.shape[2] == 1 else image)
    try:
        from PIL import Image
    except ImportError:
        Image = None
    if Image is not None:
        buffer = io.BytesIO()
        if img_fmt == ".png":
            Image.fromarray(image).save(buffer, format="PNG")
        else:
            Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
        return buffer.getvalue()
    try:
        import cv2
    except ImportError:
        raise ImportError("encoding images needs Pillow or OpenCV (pip install Pillow)") from None
    pixels = image[:, :, ::-1] if image.ndim == 3 else image
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if img_fmt != ".png" else []
    ok, buffer = cv2.imencode(img_fmt, np.ascontiguousarray(pixels), params)
    if not ok:
        raise ValueError(f"cannot encode a {image.shape} image as {img_fmt}")
    return buffer.tobytes()


def pack_img(header: Sequence, image: np.ndarray, quality: int = 95, img_fmt: str = ".jpg") -> bytes:
    """:func:`pack` of an image encoded by :func:`encode_image` (``image`` is RGB; ``mx.recordio.pack_img`` takes
    OpenCV's BGR order: the same picture)."""
    return pack(header, encode_image(image, quality, img_fmt))


def _synthetic_record(args: Tuple[int, int, int, int, int, int]) -> bytes:
    """The packed record of synthetic image ``i`` (a pure function of its arguments, for worker processes)."""
    i, num_classes, height, width, quality, seed = args
    rng = np.random.default_rng([seed, i])
    rows = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    cols = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    base = rng.uniform(0, 255, (3, 3)).astype(np.float32)
    field = np.stack([base[c, 0] + (base[c, 1] - base[c, 0]) * rows + (base[c, 2] - base[c, 0]) * cols / 2
                      for c in range(3)], axis=-1)
    noise = rng.normal(0, 24, (height, width, 3)).astype(np.float32)
    image = np.clip(field + noise, 0, 255).astype(np.uint8)
    return pack_img(IRHeader(0, float(i % num_classes), i, 0), image, quality)


def write_synthetic_records(prefix: PathLike, num_images: int, num_classes: int = 1000,
                            size: Tuple[int, int] = (375, 500), quality: int = 90, seed: int = 0,
                            workers: int = 1) -> Tuple[Path, Path]:
    """Write ``prefix.rec`` + ``prefix.idx`` of ``num_images`` random JPEG images (``size`` = (height, width),
    ImageNet's typical 375x500, about 100 KiB each at quality 90) with labels ``i % num_classes``: ImageNet-shaped
    records for measuring a data loader end to end without the data set or MXNet. ``workers`` processes encode
    (the files do not depend on their number). Returns the two paths.
    """
    if num_images < 1 or num_classes < 1:
        raise ValueError(f"num_images and num_classes must be >= 1, got {num_images}, {num_classes}")
    rec_path, idx_path = Path(f"{prefix}.rec"), Path(f"{prefix}.idx")
    rec_path.parent.mkdir(parents=True, exist_ok=True)
    jobs = [(i, num_classes, size[0], size[1], quality, seed) for i in range(num_images)]
    pool = None
    if workers > 1:
        import multiprocessing
        pool = multiprocessing.get_context("fork").Pool(workers)
    try:
        records = pool.imap(_synthetic_record, jobs, chunksize=16) if pool else map(_synthetic_record, jobs)
        with IndexedRecordWriter(idx_path, rec_path) as writer:
            for i, record in enumerate(records):
                writer.write_idx(i, record)
    finally:
        if pool is not None:
            pool.terminate()
    return rec_path, idx_path
