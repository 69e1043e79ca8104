"""CIFAR-10/100 binary archives for both engines (framework-free): where their ``.bin`` files are, and the download.

The download is atomic: the archive goes to a temporary file beside its final name and is renamed when complete
(and its SHA-256 matches, if given); the ``.bin`` files are extracted to a temporary folder and moved into place,
so an interrupted download never leaves files that look complete.
"""
from __future__ import annotations

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
from typing import Dict, List, Optional

from .datafiles import DataFormatError
from .progress import LineBar

__all__ = ["CIFAR_URLS", "SPLIT_FILES", "cifar_key", "cifar_root", "cifar_bin_dir", "download_cifar"]

CIFAR_URLS = {"cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
              "cifar100": "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"}
#: the ``.bin`` files of each split (True: training)
SPLIT_FILES: Dict[str, Dict[bool, List[str]]] = {
    "cifar10": {True: [f"data_batch_{i}.bin" for i in range(1, 6)], False: ["test_batch.bin"]},
    "cifar100": {True: ["train.bin"], False: ["test.bin"]}}
_ARCHIVE_FOLDER = {"cifar10": "cifar-10-batches-bin", "cifar100": "cifar-100-binary"}


def cifar_key(name: str) -> str:
    """``cifar10`` / ``cifar100`` from any spelling (``CIFAR-10``...); other names are refused."""
    key = name.lower().replace("-", "")
    if key not in CIFAR_URLS:
        raise ValueError(f"unknown CIFAR dataset {name!r}; valid: cifar10, cifar100")
    return key


def cifar_root(name: str) -> Path:
    """The default folder of ``name``: ``$MXNET_HOME/datasets/<name>`` (``~/.mxnet``), the same for both engines."""
    return Path(os.environ.get("MXNET_HOME", "~/.mxnet")).expanduser() / "datasets" / cifar_key(name)


def cifar_bin_dir(name: str, root: Path) -> Optional[Path]:
    """The folder holding all ``.bin`` files of ``name`` (``root`` or the archive's own subfolder), or None."""
    key = cifar_key(name)
    names = SPLIT_FILES[key][True] + SPLIT_FILES[key][False]
    for folder in (root, root / _ARCHIVE_FOLDER[key]):
        if all((folder / n).is_file() for n in names):
            return folder
    return None


def _fetch(url: str, archive: Path, timeout: float, progress: bool, sha256: Optional[str], key: str) -> None:
    """Download ``url`` to ``archive`` through a temporary file renamed when complete."""
    handle, tmp_name = tempfile.mkstemp(dir=archive.parent, prefix=archive.name + ".", suffix=".partial")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            expected = int(length) if length else None
            received = 0
            with LineBar(expected, f"download {archive.name}", progress, unit="B") as bar:
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
                      f"{CIFAR_URLS[key]}) into {archive.parent}") from error
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def download_cifar(name: str, root: Optional[os.PathLike] = None, url: Optional[str] = None, timeout: float = 60,
                   progress: Optional[bool] = None, sha256: Optional[str] = None) -> Path:
    """Download and unpack the binary archive of ``name`` into ``root`` (default :func:`cifar_root`) unless its
    files are already there; returns the folder holding the ``.bin`` files. ``progress``: a byte counter on stderr
    (default: when stderr is a terminal). ``$AFFLIB_CIFAR_URL``: a mirror serving the archives under their names."""
    key = cifar_key(name)
    root = Path(root) if root is not None else cifar_root(key)
    found = cifar_bin_dir(key, root)
    if found is not None:
        return found
    root.mkdir(parents=True, exist_ok=True)
    mirror = os.environ.get("AFFLIB_CIFAR_URL", "").rstrip("/")
    url = url or (f"{mirror}/{Path(CIFAR_URLS[key]).name}" if mirror else CIFAR_URLS[key])
    archive = root / Path(url).name
    if not archive.exists():
        shown = progress if progress is not None else os.isatty(2)
        _fetch(url, archive, timeout, shown, sha256, key)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".extract-"))
    try:
        with tarfile.open(archive) as tar:
            for member in (m for m in tar.getmembers() if m.isfile() and m.name.endswith(".bin")):
                with tar.extractfile(member) as source, open(staging / Path(member.name).name, "wb") as out:
                    shutil.copyfileobj(source, out)
        for path in staging.iterdir():
            os.replace(path, root / path.name)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        archive.unlink(missing_ok=True)
        raise IOError(f"{archive} is not a valid tar.gz archive ({error}); it was removed, run again") from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    found = cifar_bin_dir(key, root)
    if found is None:
        raise DataFormatError(f"{archive} does not contain the expected files {SPLIT_FILES[key]}")
    return found
