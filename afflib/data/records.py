"""RecordIO packing: image lists -> ``.lst`` + ``.rec`` + ``.idx``, multi-process, resumable, atomic.

Outputs are written under temporary names (``<name>.rec.partial``, ``.idx.partial``, ``.lst.partial``) and renamed
when complete, so a finished ``.rec/.idx`` pair is never half-written. An interrupted run leaves the partial files;
the next run with the same image list continues after the last complete record (the partial ``.rec`` is cut back to
it). Finished outputs are only replaced with ``force=True``, and then only once the new ones are complete.

The record file format is MXNet's (dmlc RecordIO): each record is the magic ``0xced7230a``, a length word whose top
3 bits flag continuation, the payload (split wherever it contains the magic at a 4-byte boundary) and zero padding
to 4 bytes. It is written here in Python so that a partial file can be appended to (``mx.recordio`` can only
truncate); ``mx.recordio`` and ``mx.io.ImageRecordIter`` read the result.
"""
from __future__ import annotations

import multiprocessing
import os
import re
import struct
import sys
import warnings
from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Optional, Sequence, Tuple

import cv2
import mxnet as mx
import numpy as np

from afflib.core.checkpoint_record import RecordMismatch, add_member, verify_member
from afflib.core.recordio import MAGIC, frame_record  # the framing both engines share

__all__ = ["RecordWriter", "ImageEncoder", "write_records", "record_paths", "OutputsExistError", "progress_bar",
           "IMAGE_EXTENSIONS", "class_folder_entries", "read_files", "frame_record", "RecordFileError",
           "check_record_file", "record_digests"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
Entry = Tuple[str, int]  # (relative path, class index)


class OutputsExistError(FileExistsError):
    """A finished output exists and ``force`` was not given."""


class RecordFileError(ValueError):
    """A ``.rec/.idx`` pair is damaged: the message names the file, the record and what is wrong."""


_HEADER = 8          # RecordIO magic + length word
_IMAGE_HEADER = 24   # mx.recordio.IRHeader: flag (uint32), label (float32), id, id2 (uint64)
_INDEX_FORMAT = re.compile(rb"(?:\d{1,18}\t\d{1,18}\r?\n)*(?:\d{1,18}\t\d{1,18}\r?)?")


def _read_index(idx_path: Path) -> Tuple[np.ndarray, np.ndarray]:
    """Keys and offsets of an ``.idx`` file (``key<TAB>offset`` lines); a bad line is a :class:`RecordFileError`."""
    text = idx_path.read_bytes()
    if not _INDEX_FORMAT.fullmatch(text):
        for number, line in enumerate(text.split(b"\n"), 1):
            if not _INDEX_FORMAT.fullmatch(line + b"\n"):
                raise RecordFileError(f"{idx_path}: line {number} is {line[:60].decode('latin-1')!r}, expected "
                                      "'<key><TAB><byte offset>'")
    table = np.array(list(map(int, text.split())), dtype=np.int64).reshape(-1, 2)
    return table[:, 0], table[:, 1]


def _record_span(rec, offset: int, limit: int, limit_name: str = "the end of the file") -> Tuple[Optional[int], str]:
    """End offset of the (possibly multi-part) record at ``offset`` if it ends by ``limit``; else (None, why not)."""
    position, first = offset, True
    while True:
        if position + _HEADER > limit:
            return None, f"record header at byte {position} is cut off by {limit_name} (byte {limit})"
        rec.seek(position)
        magic, lrec = struct.unpack("<II", rec.read(_HEADER))
        if magic != MAGIC:
            return None, f"no RecordIO magic at byte {position} (found 0x{magic:08x}, expected 0x{MAGIC:08x})"
        cflag, length = lrec >> 29, lrec & ((1 << 29) - 1)
        if cflag not in ((0, 1) if first else (2, 3)):
            return None, f"bad continuation flag {cflag} at byte {position}"
        position += _HEADER + length + (-length % 4)
        if position > limit:
            return None, f"record length {length} runs past {limit_name} (byte {limit})"
        if cflag in (0, 3):
            return position, ""
        first = False


def check_record_file(rec_path: os.PathLike, idx_path: os.PathLike, image_header: bool = True,
                      fix: str = "rebuild it with the tool that packed it") -> List[int]:
    """Check a ``.rec/.idx`` pair cheaply (index, offsets and record headers, no decoding); return its keys.

    Every offset must lie inside the ``.rec`` and start a record with the RecordIO magic; the records must tile the
    file exactly as MXNet's indexed reader cuts it (record i ends where the next offset, or the file, begins), which
    is what keeps ``ImageRecordIter`` from aborting the process; with ``image_header`` each record must also hold
    the image header (``IRHeader``) and the labels it announces. Where the packer left a digest record beside the
    pair (:func:`record_digests`), both files must match its sizes and SHA-256 sums (payload damage). Raises :class:`RecordFileError` naming the file,
    the record (key, index line, byte offset), the problem and ``fix`` (how to rebuild the pair).
    """
    rec_path, idx_path = Path(rec_path), Path(idx_path)
    for path in (rec_path, idx_path):
        if not path.is_file():
            raise FileNotFoundError(f"record file {path} not found")
    keys, offsets = _read_index(idx_path)
    size = rec_path.stat().st_size
    if not len(keys):
        raise RecordFileError(f"{idx_path}: the index lists no records")

    def fail(i: int, problem: str) -> RecordFileError:
        return RecordFileError(f"{rec_path}: record {keys[i]} (line {i + 1} of {idx_path.name}, byte offset "
                               f"{offsets[i]}): {problem}; the file is damaged or truncated: {fix}")

    outside = np.flatnonzero((offsets < 0) | (offsets + _HEADER > size))
    if len(outside):
        raise fail(outside[0], f"offset outside {rec_path.name} ({size} bytes)")
    order = np.argsort(offsets, kind="stable")
    ordered = offsets[order]
    twice = np.flatnonzero(ordered[1:] == ordered[:-1])
    if len(twice):
        raise fail(order[twice[0] + 1], "offset listed twice in the index")
    ends = np.append(ordered[1:], size)  # where MXNet's splitter cuts each record's extent
    span = _HEADER + _IMAGE_HEADER if image_header else _HEADER
    data = np.memmap(rec_path, dtype=np.uint8, mode="r")
    gather = np.minimum(ordered[:, None] + np.arange(span), size - 1)
    words = np.ascontiguousarray(data[gather]).view("<u4")
    del data
    magic, cflag = words[:, 0], words[:, 1] >> 29
    length = (words[:, 1] & ((1 << 29) - 1)).astype(np.int64)
    simple = (magic == MAGIC) & (cflag == 0) & (ordered + _HEADER + length + (-length % 4) == ends)
    with open(rec_path, "rb") as rec:
        for j in np.flatnonzero(~simple):  # walk the extent the way dmlc's reader does (several records allowed)
            position, limit = int(ordered[j]), int(ends[j])
            where = f"the end of {rec_path.name}" if j == len(ordered) - 1 else "the next record's offset"
            while position is not None and position < limit:
                position, problem = _record_span(rec, position, limit, where)
            if position is None:
                raise fail(order[j], problem)
    if image_header:  # checked on single-part records (all but those whose payload holds the magic word)
        short = simple & (length < _IMAGE_HEADER)
        labels = np.where(simple & ~short, words[:, 2], 0).astype(np.int64)
        bad = np.flatnonzero(short | (simple & (_IMAGE_HEADER + 4 * labels > length)))
        if len(bad):
            j = bad[0]
            raise fail(order[j], f"image header announces {labels[j]} labels but the record holds {length[j]} bytes"
                       if not short[j] else f"{length[j]} bytes, too short for the image header")
    for path in (rec_path, idx_path):  # payload damage behind intact headers: the packer's digest record, if any
        try:
            verify_member(path)
        except RecordMismatch as err:
            raise RecordFileError(f"{err}: {fix}") from None
    return keys.tolist()


def record_digests(rec_path: os.PathLike, idx_path: os.PathLike) -> None:
    """Write the digest record (``<stem>.json``: size and SHA-256 of the ``.rec`` and ``.idx``) of a finished pair,
    so :func:`check_record_file` also catches damage inside image payloads. Hashing costs a full read: packers of
    small data sets (Fashion-MNIST) call it, ImageNet's 140 GB do not."""
    for path in (rec_path, idx_path):
        add_member(path)


def progress_bar(total: Optional[int], desc: str, enabled: Optional[bool] = None, unit: str = "img",
                 unit_scale: bool = False):
    """tqdm bar on stderr; shown only when stderr is a terminal unless ``enabled`` says otherwise."""
    from tqdm import tqdm
    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=unit_scale, disable=not enabled, dynamic_ncols=True)


class RecordWriter:
    """Append records to a ``.rec`` file and its ``.idx`` (``key<TAB>offset`` lines), resuming a partial pair.

    With ``resume=True`` and existing files, complete records listed in the index are kept and anything after the
    last of them (a record cut short by an interruption) is cut off; ``count`` tells how many are kept.
    """

    def __init__(self, rec_path: os.PathLike, idx_path: os.PathLike, resume: bool = False):
        self.rec_path, self.idx_path = Path(rec_path), Path(idx_path)
        self.keys: List[int] = []
        if resume and self.rec_path.exists() and self.idx_path.exists():
            self._recover()
            self._rec = open(self.rec_path, "ab")
            self._idx = open(self.idx_path, "a")
        else:
            self._rec = open(self.rec_path, "wb")
            self._idx = open(self.idx_path, "w")

    def _recover(self) -> None:
        entries: List[Tuple[int, int]] = []
        for line in self.idx_path.read_text().split("\n")[:-1]:  # a last line without "\n" is incomplete
            fields = line.split("\t")
            if len(fields) != 2 or not all(f.isdigit() for f in fields):
                break
            entries.append((int(fields[0]), int(fields[1])))
        size = self.rec_path.stat().st_size
        end = 0
        with open(self.rec_path, "rb") as rec:
            kept = 0
            for key, offset in entries:
                if offset != end:
                    break
                record_end = _record_span(rec, offset, size)[0]
                if record_end is None:
                    break
                end, kept = record_end, kept + 1
        entries = entries[:kept]
        os.truncate(self.rec_path, end)
        self.idx_path.write_text("".join(f"{k}\t{o}\n" for k, o in entries))
        self.keys = [k for k, _ in entries]

    @property
    def count(self) -> int:
        return len(self.keys)

    def write(self, key: int, payload: bytes) -> None:
        """Append one record; the index line follows the record bytes, so the index never points past the data."""
        offset = self._rec.tell()
        self._rec.write(frame_record(payload))
        self._rec.flush()
        self._idx.write(f"{key}\t{offset}\n")
        self._idx.flush()
        self.keys.append(key)

    def close(self, sync: bool = False) -> None:
        for handle in (self._rec, self._idx):
            if sync and not handle.closed:
                handle.flush()
                os.fsync(handle.fileno())
            handle.close()

    def __enter__(self) -> "RecordWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ImageEncoder:
    """Picklable image re-encoder for worker processes: decode, resize the shorter side, encode JPEG or PNG.

    ``resize=0`` keeps the size; ``encoding='.jpg'`` uses ``quality`` (1-100), ``'.png'`` is lossless.
    Returns None for bytes that do not decode as an image.
    """

    def __init__(self, resize: int = 0, quality: int = 95, encoding: str = ".jpg"):
        if resize < 0:
            raise ValueError(f"resize must be >= 0 (0 keeps the size), got {resize}")
        if not 1 <= quality <= 100:
            raise ValueError(f"quality must be in 1..100, got {quality}")
        if encoding not in (".jpg", ".png"):
            raise ValueError(f"encoding must be '.jpg' or '.png', got {encoding!r}")
        self.resize, self.quality, self.encoding = resize, quality, encoding

    def __call__(self, raw: bytes) -> Optional[bytes]:
        image = cv2.imdecode(np.frombuffer(raw, dtype=np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            return None
        if self.resize:
            height, width = image.shape[:2]
            scale = self.resize / min(height, width)
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
            image = cv2.resize(image, size, interpolation=interpolation)
        params = [cv2.IMWRITE_JPEG_QUALITY, self.quality] if self.encoding == ".jpg" else []
        ok, buffer = cv2.imencode(self.encoding, image, params)
        if not ok:
            return None
        return buffer.tobytes()


def record_paths(prefix: os.PathLike) -> dict:
    """Final and partial file names of the ``.lst/.rec/.idx`` outputs of ``prefix``."""
    prefix = str(prefix)
    final = {ext: Path(prefix + ext) for ext in (".lst", ".rec", ".idx")}
    partial = {ext: Path(prefix + ext + ".partial") for ext in final}
    return {"final": final, "partial": partial}


def _lst_text(entries: Sequence[Entry]) -> str:
    for path, _ in entries:
        if "\t" in path or "\n" in path:
            raise ValueError(f"image path {path!r} contains a tab or newline, which the .lst format cannot hold")
    return "".join(f"{i}\t{label}\t{path}\n" for i, (path, label) in enumerate(entries))


def _encode_item(args):
    index, raw, encoder = args
    return index, encoder(raw)


def write_records(prefix: os.PathLike, entries: Sequence[Entry], read: Callable[[Sequence[Entry]], Iterable[bytes]],
                  encoder: Callable[[bytes], Optional[bytes]], workers: int = 1, force: bool = False,
                  progress: Optional[bool] = None, desc: str = "pack", chunk: int = 64) -> dict:
    """Pack ``entries`` into ``prefix.lst/.rec/.idx`` (record key = line number of the ``.lst``).

    ``read(entries)`` yields the raw bytes of each entry in order (reading stays in this process: tar members
    are read sequentially); ``encoder`` runs in ``workers`` processes on windows of ``workers * chunk`` images
    (an interruption loses at most the window in flight). Images that fail to decode are skipped
    with a warning and listed in the result. Returns ``{"written": n, "skipped": [paths], "resumed_from": k}``.
    Raises :class:`OutputsExistError` when the finished outputs exist and ``force`` is False.
    """
    paths = record_paths(prefix)
    final, partial = paths["final"], paths["partial"]
    if final[".rec"].exists() and final[".idx"].exists() and not force:
        raise OutputsExistError(f"{final['.rec']} and {final['.idx']} already exist; pass force=True (--force) to "
                                f"rebuild them (they are replaced only once the new files are complete)")
    Path(str(prefix)).parent.mkdir(parents=True, exist_ok=True)
    lst_text = _lst_text(entries)
    resume = (not force and partial[".lst"].exists() and partial[".lst"].read_text() == lst_text
              and partial[".rec"].exists() and partial[".idx"].exists())
    if not resume:
        if partial[".lst"].exists():
            warnings.warn(f"{partial['.lst']}: the image list changed (or --force); starting this pack over")
        partial[".lst"].write_text(lst_text)
    writer = RecordWriter(partial[".rec"], partial[".idx"], resume=resume)
    resumed_from = writer.count
    done = set(writer.keys)
    start = max(done) + 1 if done else 0
    skipped: List[str] = []
    pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
    try:
        with progress_bar(len(entries), desc, progress) as bar:
            bar.update(start)
            window = max(1, workers) * chunk
            raw_stream = iter(read(entries[start:]))
            index = start
            while index < len(entries):
                batch = []
                for raw in raw_stream:
                    batch.append((index, raw, encoder))
                    index += 1
                    if len(batch) == window:
                        break
                if not batch:
                    raise RuntimeError(f"{desc}: the reader stopped after {index} of {len(entries)} images")
                results = pool.imap(_encode_item, batch, chunksize=8) if pool else map(_encode_item, batch)
                for key, encoded in results:
                    path, label = entries[key]
                    if encoded is None:
                        skipped.append(path)
                        warnings.warn(f"skipping {path}: not a decodable image")
                    else:
                        header = mx.recordio.IRHeader(0, float(label), key, 0)
                        writer.write(key, mx.recordio.pack(header, encoded))
                    bar.update(1)
    finally:
        if pool is not None:
            pool.terminate()
        writer.close(sync=True)
    # The .idx is renamed last: a finished output is the .rec/.idx pair.
    os.replace(partial[".lst"], final[".lst"])
    os.replace(partial[".rec"], final[".rec"])
    os.replace(partial[".idx"], final[".idx"])
    return {"written": len(entries) - len(skipped), "skipped": skipped, "resumed_from": resumed_from}


def class_folder_entries(root: os.PathLike, classes: Optional[Sequence[str]] = None) -> Tuple[List[str], List[Entry]]:
    """Image files under ``root/<class>/...`` with the class index of their folder (classes sorted by name).

    ``classes`` fixes the class list (e.g. the training set's for a validation folder); a folder not in it is an
    error naming it.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    folders = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not folders:
        raise ValueError(f"{root} has no class sub-folders (expected {root}/<class name>/<image files>)")
    classes = list(classes) if classes is not None else folders
    index = {name: i for i, name in enumerate(classes)}
    unknown = [f for f in folders if f not in index]
    if unknown:
        raise ValueError(f"{root}: class folders {unknown[:5]} are not in the class list (first known: "
                         f"{classes[:5]})")
    entries: List[Entry] = []
    for folder in folders:
        for dirpath, dirnames, filenames in os.walk(root / folder):
            dirnames.sort()
            for name in sorted(filenames):
                if name.lower().endswith(IMAGE_EXTENSIONS):
                    entries.append((os.path.relpath(os.path.join(dirpath, name), root), index[folder]))
    if not entries:
        raise ValueError(f"{root}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in the class folders")
    return classes, entries


def read_files(root: os.PathLike) -> Callable[[Sequence[Entry]], Iterator[bytes]]:
    """Reader for :func:`write_records` over files relative to ``root``."""
    def read(entries: Sequence[Entry]) -> Iterator[bytes]:
        for path, _ in entries:
            yield (Path(root) / path).read_bytes()
    return read
