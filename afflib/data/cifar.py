"""CIFAR-10 / CIFAR-100 from the official binary archives: download (atomic, with progress), reader, batch source.

CIFAR-10 records are a label byte + 3072 image bytes (R, G, B planes of 32x32); CIFAR-100 records a coarse
(superclass) byte, a fine byte, then the image. CIFAR-100 trains on the 100 fine labels by default;
``coarse_labels=True`` gives the 20 superclasses, which is what every CIFAR-100 number of the paper used.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from afflib.core import datafiles
from afflib.core.datafiles import DataFormatError
from afflib.core.datasets import CIFAR10_CLASSES, CIFAR100_COARSE_CLASSES, CIFAR100_FINE_CLASSES, CIFAR_MEAN, CIFAR_STD
from .batches import LoaderSource, stack_batch
from .records import progress_bar
from .transforms import CifarTrainTransform

__all__ = ["CIFAR10_CLASSES", "CIFAR100_FINE_CLASSES", "CIFAR100_COARSE_CLASSES", "CIFAR_URLS", "class_names",
           "download_cifar", "load_cifar", "read_cifar_binary", "cifar_source", "CifarFormatError"]

CIFAR_URLS = {"cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
              "cifar100": "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"}
_SPLIT_FILES = {"cifar10": {True: [f"data_batch_{i}.bin" for i in range(1, 6)], False: ["test_batch.bin"]},
                "cifar100": {True: ["train.bin"], False: ["test.bin"]}}
CifarFormatError = DataFormatError  # a CIFAR binary file has the wrong size or label values


def _check_name(name: str) -> str:
    key = name.lower().replace("-", "")
    if key not in CIFAR_URLS:
        raise ValueError(f"unknown CIFAR dataset {name!r}; valid: cifar10, cifar100")
    return key


def class_names(name: str, coarse_labels: bool = False) -> List[str]:
    """Class names in label order (CIFAR-100: fine names, or the 20 superclass names with ``coarse_labels``)."""
    key = _check_name(name)
    if key == "cifar10":
        return list(CIFAR10_CLASSES)
    return list(CIFAR100_COARSE_CLASSES if coarse_labels else CIFAR100_FINE_CLASSES)


def default_root(name: str) -> Path:
    return Path(os.environ.get("MXNET_HOME", "~/.mxnet")).expanduser() / "datasets" / _check_name(name)


def download_cifar(name: str, root: Optional[os.PathLike] = None, url: Optional[str] = None, timeout: float = 60,
                   progress: Optional[bool] = None, sha256: Optional[str] = None) -> Path:
    """Download and unpack the binary archive of ``name`` into ``root`` unless its files are already there.

    The archive goes to a temporary file in ``root`` and is renamed when complete (and its ``sha256`` matches, if
    given); the ``.bin`` files are extracted to a temporary folder and moved into place, so an interrupted download
    never leaves files that look complete. Returns the folder holding the ``.bin`` files.
    """
    key = _check_name(name)
    root = Path(root) if root is not None else default_root(key)
    if _bin_dir(key, root) is not None:
        return _bin_dir(key, root)
    root.mkdir(parents=True, exist_ok=True)
    url = url or CIFAR_URLS[key]
    archive = root / Path(url).name
    if not archive.exists():
        handle, tmp_name = tempfile.mkstemp(dir=root, prefix=archive.name + ".", suffix=".partial")
        tmp = Path(tmp_name)
        try:
            digest = hashlib.sha256()
            with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
                length = response.headers.get("Content-Length")
                expected = int(length) if length else None
                received = 0
                with progress_bar(expected, f"download {archive.name}", progress, unit="B", unit_scale=True) as bar:
                    while True:
                        chunk = response.read(1 << 20)
                        if not chunk:
                            break
                        out.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
            if expected is not None and received != expected:
                raise IOError(f"download of {url} stopped after {received} of {expected} bytes; run again")
            if sha256 is not None and digest.hexdigest() != sha256:
                raise IOError(f"download of {url}: SHA-256 {digest.hexdigest()} does not match the expected {sha256}")
            os.replace(tmp, archive)
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as error:
            tmp.unlink(missing_ok=True)
            raise IOError(f"cannot download {url}: {error!r}. Without internet, put {archive.name} (from "
                          f"{CIFAR_URLS[key]}) into {root}") from error
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".extract-"))
    try:
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".bin")]
            for member in members:
                target = staging / Path(member.name).name
                with tar.extractfile(member) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out)
        for path in staging.iterdir():
            os.replace(path, root / path.name)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        archive.unlink(missing_ok=True)
        raise IOError(f"{archive} is not a valid tar.gz archive ({error}); it was removed, run again") from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    found = _bin_dir(key, root)
    if found is None:
        raise CifarFormatError(f"{archive} does not contain the expected files {_SPLIT_FILES[key]}")
    return found


def _bin_dir(key: str, root: Path) -> Optional[Path]:
    names = _SPLIT_FILES[key][True] + _SPLIT_FILES[key][False]
    for folder in (root, root / {"cifar10": "cifar-10-batches-bin", "cifar100": "cifar-100-binary"}[key]):
        if all((folder / n).is_file() for n in names):
            return folder
    return None


def read_cifar_binary(path: os.PathLike, label_bytes: int) -> Tuple[np.ndarray, np.ndarray]:
    """Images uint8 (N, 32, 32, 3) and label bytes (N, label_bytes) of one CIFAR ``.bin`` file."""
    images, labels = datafiles.read_cifar_binary(path, label_bytes)
    return np.ascontiguousarray(images.transpose(0, 2, 3, 1)), labels


def load_cifar(name: str, root: Optional[os.PathLike] = None, train: bool = True, coarse_labels: bool = False,
               download: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """Images uint8 NHWC (N, 32, 32, 3) and int64 labels of a CIFAR split (downloaded when missing)."""
    key = _check_name(name)
    if coarse_labels and key != "cifar100":
        raise ValueError("coarse_labels applies to cifar100 only")
    root = Path(root) if root is not None else default_root(key)
    folder = _bin_dir(key, root)
    if folder is None:
        if not download:
            raise FileNotFoundError(f"{key} binary files {_SPLIT_FILES[key][True] + _SPLIT_FILES[key][False]} not "
                                    f"found in {root}")
        folder = download_cifar(key, root)
    label_bytes, column, classes = (1, 0, 10) if key == "cifar10" else (2, 0 if coarse_labels else 1,
                                                                          20 if coarse_labels else 100)
    parts = [read_cifar_binary(folder / n, label_bytes) for n in _SPLIT_FILES[key][train]]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1][:, column] for p in parts]).astype(np.int64)
    if labels.max() >= classes:
        raise CifarFormatError(f"{folder}: label {labels.max()} out of range for {classes} classes of {key}")
    return images, labels


def cifar_source(name: str, root: Optional[os.PathLike], train: bool, batch_size: int, coarse_labels: bool = False,
                 auto_augment: bool = False, num_workers: int = 2, num_parts: int = 1, part_index: int = 0,
                 seed: int = 0) -> LoaderSource:
    """Batches of normalized (N, 3, 32, 32) CIFAR images; training: [AutoAugment CIFAR-10 policy], pad-4 random
    crop, flip. ``source.classes`` holds the class names of the chosen label set."""
    images, labels = load_cifar(name, root, train, coarse_labels)
    transform = CifarTrainTransform(auto_augment=auto_augment, seed=seed) if train else None
    dataset = _ArrayImages(images, labels, transform)
    source = LoaderSource(dataset, batch_size, train,
                          batchify_fn=functools.partial(stack_batch, mean=CIFAR_MEAN, std=CIFAR_STD),
                          num_workers=num_workers, num_parts=num_parts, part_index=part_index, seed=seed)
    source.classes = class_names(name, coarse_labels)
    return source


class _ArrayImages:
    """In-memory HWC uint8 images + labels as a Gluon-style dataset with a per-sample transform."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform=None):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        image = self.images[index]
        return (self.transform(image) if self.transform else image), int(self.labels[index])
