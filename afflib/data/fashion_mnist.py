"""Fashion-MNIST: the IDX files (read by :mod:`afflib.core.datafiles`, clear errors), RecordIO packing, and the
record batch source of the demo.

Files (plain or ``.gz``): ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``. Searched in ``root``, then ``/usr/share/datasets/fashion-mnist`` (Debian package
``dataset-fashion-mnist``), then ``~/.mxnet/datasets/fashion-mnist``.

Records hold single-channel 28x28 PNGs (lossless, tiny to decode), so networks take ``in_channels=1``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Tuple

import cv2
import mxnet as mx
import numpy as np

from afflib.core.datafiles import DataFormatError, read_idx
# (mean,), (std,): the training pixels' statistics on the 0-1 scale
from afflib.core.datasets import FASHION_MNIST_CLASSES, FASHION_MNIST_MEAN, FASHION_MNIST_STD
from .batches import RecordIterSource, shard_range
from .records import RecordWriter, check_record_file, record_digests, record_paths

__all__ = ["FASHION_MNIST_CLASSES", "FASHION_MNIST_MEAN", "FASHION_MNIST_STD", "DEFAULT_DIRS",
           "find_fashion_mnist_dir", "load_fashion_mnist", "read_idx", "pack_fashion_mnist", "record_source",
           "IdxFormatError"]

DEFAULT_DIRS = (Path("/usr/share/datasets/fashion-mnist"), Path("~/.mxnet/datasets/fashion-mnist").expanduser())
_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
IdxFormatError = DataFormatError  # an IDX file is missing, truncated or not what it should be (the core's reader)


def _idx_file(directory: Path, name: str) -> Optional[Path]:
    for candidate in (directory / name, directory / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _missing_message(searched: List[Path]) -> str:
    names = ", ".join(n for pair in _FILES.values() for n in pair)
    return ("Fashion-MNIST not found; looked in: " + ", ".join(str(p) for p in searched) + ". Either install the "
            "Debian package (as root: apt-get update && apt-get install -y dataset-fashion-mnist), or download "
            f"the four files {names} (plain or .gz, from https://github.com/zalandoresearch/fashion-mnist) into "
            f"{DEFAULT_DIRS[1]} or a folder you pass as --data-dir.")


def find_fashion_mnist_dir(root: Optional[os.PathLike] = None) -> Path:
    """First folder holding all four IDX files: ``root`` if given (only it), else the default locations."""
    searched = [Path(root).expanduser()] if root is not None else list(DEFAULT_DIRS)
    for directory in searched:
        if all(_idx_file(directory, name) for pair in _FILES.values() for name in pair):
            return directory
    if root is not None and Path(root).expanduser().is_dir():
        absent = [n for pair in _FILES.values() for n in pair if _idx_file(Path(root).expanduser(), n) is None]
        raise FileNotFoundError(f"{root} lacks Fashion-MNIST files {absent} (plain or .gz). "
                                + _missing_message(searched))
    raise FileNotFoundError(_missing_message(searched))


def load_fashion_mnist(root: Optional[os.PathLike] = None, train: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """Images uint8 (N, 28, 28) and labels int64 (N,) of the training (60,000) or test (10,000) split."""
    directory = find_fashion_mnist_dir(root)
    image_name, label_name = _FILES[bool(train)]
    image_path, label_path = _idx_file(directory, image_name), _idx_file(directory, label_name)
    images = read_idx(image_path, 3)
    labels = read_idx(label_path, 1)
    if images.shape[1:] != (28, 28):
        raise IdxFormatError(f"{image_path}: images of size {images.shape[1:]}, expected (28, 28)")
    if len(images) != len(labels):
        raise IdxFormatError(f"{image_path} has {len(images)} images but {label_path} has {len(labels)} labels")
    if labels.size and labels.max() >= len(FASHION_MNIST_CLASSES):
        raise IdxFormatError(f"{label_path}: label {labels.max()} out of range 0..9")
    return images, labels.astype(np.int64)


def _split_name(train: bool) -> str:
    return "train" if train else "test"


def pack_fashion_mnist(root: Optional[os.PathLike], out_dir: os.PathLike, force: bool = False) -> dict:
    """Write ``out_dir/{train,test}.{rec,idx}`` (28x28 grayscale PNG records, label = class index).

    Existing finished files are checked (:func:`check_record_file`) and kept unless ``force``; a damaged pair is a
    :class:`RecordFileError` saying to repack with ``--force``. Returns ``{split: (rec, idx, count)}``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {}
    for train in (True, False):
        paths = record_paths(out_dir / _split_name(train))
        final, partial = paths["final"], paths["partial"]
        if final[".rec"].exists() and final[".idx"].exists() and not force:
            keys = check_record_file(final[".rec"], final[".idx"], fix=_repack_hint(out_dir))
            result[_split_name(train)] = (final[".rec"], final[".idx"], len(keys))
            continue
        images, labels = load_fashion_mnist(root, train)
        digests = final[".rec"].with_suffix(".json")
        if digests.exists():  # the record of the pair being replaced
            digests.unlink()
        with RecordWriter(partial[".rec"], partial[".idx"]) as writer:
            for index, (image, label) in enumerate(zip(images, labels)):
                ok, png = cv2.imencode(".png", image)
                header = mx.recordio.IRHeader(0, float(label), index, 0)
                writer.write(index, mx.recordio.pack(header, png.tobytes()))
        os.replace(partial[".rec"], final[".rec"])
        os.replace(partial[".idx"], final[".idx"])
        record_digests(final[".rec"], final[".idx"])
        result[_split_name(train)] = (final[".rec"], final[".idx"], len(images))
    return result


def _repack_hint(rec_dir: os.PathLike) -> str:
    return f"repack it with: python scripts/pack_fashion_mnist.py --out {rec_dir} --force"


def record_source(rec_dir: os.PathLike, train: bool, batch_size: int, num_workers: int = 1, augment: bool = True,
                  num_parts: int = 1, part_index: int = 0, seed: int = 0, pinned: bool = False) -> RecordIterSource:
    """Batches of normalized (N, 1, 28, 28) images from :func:`pack_fashion_mnist`'s records.

    Training shuffles every epoch and, with ``augment``, pads 2 pixels (black) then crops 28x28 at random and flips
    left-right at random. ``num_workers`` is the decoder thread count (MXNet caps it at max(nproc/2-1, 1));
    ``pinned`` keeps batches in page-locked memory (for GPU copies) instead of ``mx.cpu()``. The pair is checked
    here (:func:`check_record_file`), so a damaged file stops a run before its first epoch.
    """
    paths = record_paths(Path(rec_dir) / _split_name(train))["final"]
    for ext in (".rec", ".idx"):
        if not paths[ext].is_file():
            raise FileNotFoundError(f"{paths[ext]} not found; pack Fashion-MNIST first: "
                                    f"python scripts/pack_fashion_mnist.py --out {rec_dir}")
    num_records = len(check_record_file(paths[".rec"], paths[".idx"], fix=_repack_hint(rec_dir)))
    part = shard_range(num_records, num_parts, part_index)
    if not part:
        raise ValueError(f"{paths['.rec']}: part {part_index} of {num_parts} gets no records ({num_records} records, "
                         f"ceil(N/P) per part); use fewer parts")
    augment = augment and train

    def make_iter(epoch: int) -> mx.io.DataIter:
        return mx.io.ImageRecordIter(
            path_imgrec=str(paths[".rec"]), path_imgidx=str(paths[".idx"]), data_shape=(1, 28, 28),
            batch_size=batch_size, shuffle=train, seed=seed + epoch, seed_aug=seed + epoch, rand_crop=augment,
            rand_mirror=augment, pad=2 if augment else 0, fill_value=0, mean_r=FASHION_MNIST_MEAN[0] * 255,
            std_r=FASHION_MNIST_STD[0] * 255, num_parts=num_parts, part_index=part_index,
            preprocess_threads=max(1, num_workers), round_batch=True, prefetch_buffer=4)

    largest = len(shard_range(num_records, num_parts, 0))
    equal = -(-largest // batch_size) if (train and num_parts > 1) else 0
    return RecordIterSource(make_iter, len(part), batch_size, equal_batches=equal, pinned=pinned,
                            name=str(paths[".rec"]))
