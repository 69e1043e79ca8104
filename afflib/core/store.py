"""Released weights store, framework-free: cache folder, verified download, lock file, hash check.

A released file lives in the cache (``root``, default ``$MXNET_HOME/models`` = ``~/.mxnet/models``) as
``<model>[-<tag>]-<sha1[:8]>.params``. When it is missing it is downloaded from ``$AFFLIB_PARAMS_URL`` (default:
the original repository) into a temporary file in the cache folder, checked against its git blob SHA-1 and only
then renamed into place, under a per-file lock, so a partial or corrupt download is never loaded. Both engines
load through this module (stdlib only): the MXNet engine loads the file, the PyTorch engine converts it.
"""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import secrets
import socket
import sys
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Any, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union
from urllib.parse import quote

from .progress import LineBar
from .released import TAGS, ReleasedFile, ReleaseTable, get_table, resolve_released

__all__ = ["DownloadError", "ChecksumError", "blob_sha1", "default_root", "file_url", "cached_file",
           "get_model_file", "CacheStatus", "verify_cache", "is_params_path", "released_file"]

URL_ENV = "AFFLIB_PARAMS_URL"
TIMEOUT_ENV = "AFFLIB_DOWNLOAD_TIMEOUT"
RETRIES_ENV = "AFFLIB_DOWNLOAD_RETRIES"
DEFAULT_TIMEOUT = 30.0   # seconds to connect, and seconds without a byte before a download is abandoned
DEFAULT_RETRIES = 2      # extra attempts after timeouts, dropped connections and HTTP 5xx
_CHUNK = 1 << 20

PathLike = Union[str, os.PathLike]


class DownloadError(OSError):
    """A released file could not be fetched; the message says what to put where to work offline."""

    def __init__(self, message: str, transient: bool = False):
        super().__init__(message)
        self.transient = transient  # worth another attempt: timeout, dropped connection, server error


class ChecksumError(DownloadError):
    """A downloaded or cached file does not have the expected git blob SHA-1."""


def blob_sha1(path: PathLike) -> str:
    """Git blob SHA-1 of a file: ``sha1(b"blob <size>\\0" + content)``, what ``git hash-object`` prints."""
    digest = hashlib.sha1(b"blob %d\0" % os.path.getsize(path))
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_root() -> Path:
    """The cache folder: ``$MXNET_HOME/models``, else ``~/.mxnet/models`` (shared by both engines)."""
    return Path(os.environ.get("MXNET_HOME") or Path.home() / ".mxnet").expanduser() / "models"


def _root(root: Optional[PathLike]) -> Path:
    return Path(root).expanduser() if root is not None else default_root()


def file_url(entry: ReleasedFile, table: Optional[ReleaseTable] = None) -> str:
    """Where ``entry`` is downloaded from: ``$AFFLIB_PARAMS_URL`` or the table's base URL, plus its path."""
    base = os.environ.get(URL_ENV) or (table or get_table()).base_url
    return base.rstrip("/") + "/" + quote(entry.path)


def _offline_hint(entry: ReleasedFile, root: Path, url: str) -> str:
    return (f"To install it by hand, download {url} and save it as {root / entry.cache_name} "
            f"(git blob SHA-1 {entry.sha1}); it is checked before use.")


def cached_file(entry: ReleasedFile, root: Optional[PathLike] = None) -> Tuple[str, Optional[Path]]:
    """State of ``entry`` in the cache: ``('ok', path)``, ``('corrupt', path)`` or ``('missing', None)``.

    Besides the cache name, a file saved under its original name is accepted when its hash matches.
    """
    root = _root(root)
    state: Tuple[str, Optional[Path]] = ("missing", None)
    for candidate in (root / entry.cache_name, root / entry.original_name):
        if candidate.is_file():
            if blob_sha1(candidate) == entry.sha1:
                return "ok", candidate
            if state[0] == "missing":
                state = ("corrupt", candidate)
    return state


@contextlib.contextmanager
def _file_lock(lock_path: Path) -> Iterator[None]:
    """Exclusive lock between processes; the lock file is removed on release."""
    try:
        import fcntl
    except ImportError:  # no fcntl (Windows): the atomic rename alone keeps the cache consistent
        yield
        return
    while True:
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.fstat(fd).st_ino == os.stat(lock_path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the previous holder removed this lock file: lock the new one
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock_path)
        os.close(fd)


class _Progress(LineBar):
    """A one-line byte counter on stderr (redrawn at most every 0.2 s), or nothing when disabled."""

    def __init__(self, label: str, total: Optional[int], enabled: bool):
        super().__init__(total, label, enabled, unit="B")

    def text(self, rate: float) -> str:
        of = f" of {self.total / 2 ** 20:.1f}" if self.total else ""
        return f"{self.description}: {self.done / 2 ** 20:.1f}{of} MiB"


def _is_timeout(err: BaseException) -> bool:
    """A socket timeout, raised as is while reading or wrapped in a URLError while connecting."""
    reason = getattr(err, "reason", None)
    return isinstance(err, socket.timeout) or isinstance(reason, socket.timeout)


def _fetch(url: str, target: Path, timeout: float, progress: bool, label: str) -> None:
    """Stream ``url`` into ``target`` (redirects followed); raise DownloadError on HTTP errors, stalls and short
    transfers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            size = response.headers.get("Content-Length")
            expected = int(size) if size and size.isdigit() else None
            received = 0
            bar = _Progress(label, expected, progress)
            try:
                with open(target, "xb") as out:
                    for chunk in iter(lambda: response.read(_CHUNK), b""):
                        out.write(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
                    out.flush()
                    os.fsync(out.fileno())
            finally:
                bar.close()
    except urllib.error.HTTPError as err:
        raise DownloadError(f"HTTP {err.code} {err.reason} for {url}", transient=err.code >= 500) from err
    except (urllib.error.URLError, http.client.HTTPException, socket.timeout, ConnectionError) as err:
        if _is_timeout(err):
            raise DownloadError(f"no data from {url} for {timeout:g} s (server stalled or unreachable)", True) from err
        reason = getattr(err, "reason", None) or err
        raise DownloadError(f"download of {url} failed: {type(reason).__name__}: {reason}", True) from err
    if expected is not None and received != expected:
        raise DownloadError(f"transfer of {url} ended after {received} of {expected} bytes", True)


def _download(entry: ReleasedFile, root: Path, url: str, timeout: float, retries: int, progress: bool) -> Path:
    final = root / entry.cache_name
    last_error: Optional[DownloadError] = None
    for attempt in range(retries + 1):
        tmp = root / f".{entry.cache_name}.{os.getpid()}-{secrets.token_hex(4)}.part"  # same folder: atomic rename
        try:
            _fetch(url, tmp, timeout, progress, entry.cache_name)
            actual = blob_sha1(tmp)
            if actual != entry.sha1:
                raise ChecksumError(f"downloaded {url} has git blob SHA-1 {actual}, expected {entry.sha1} "
                                    f"({tmp.stat().st_size} bytes); the file was discarded")
            os.replace(tmp, final)
            return final
        except DownloadError as err:
            last_error = err
            if not err.transient or attempt == retries:
                break
            time.sleep(min(2.0 ** attempt, 8.0))
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    assert last_error is not None
    raise type(last_error)(f"{last_error}. {_offline_hint(entry, root, url)}") from last_error


def get_model_file(entry: ReleasedFile, root: Optional[PathLike] = None, *, timeout: Optional[float] = None,
                   retries: Optional[int] = None, progress: Optional[bool] = None,
                   table: Optional[ReleaseTable] = None) -> Path:
    """Path of the verified released file ``entry``, downloading it into the cache if needed.

    Parameters
    ----------
    entry : ReleasedFile
        The file (see ``released.resolve_released``).
    root : path
        Cache folder; default ``$MXNET_HOME/models`` or ``~/.mxnet/models``.
    timeout : float
        Seconds to connect and seconds without data before giving up (default ``$AFFLIB_DOWNLOAD_TIMEOUT`` or 30).
    retries : int
        Extra attempts after timeouts, dropped connections and server errors, not after HTTP 4xx or a bad
        hash (default ``$AFFLIB_DOWNLOAD_RETRIES`` or 2).
    progress : bool
        Show a byte counter on stderr; default: when stderr is a terminal.
    table : ReleaseTable
        Whose base URL to download from when ``$AFFLIB_PARAMS_URL`` is unset (default: the active table).
    """
    root = _root(root)
    root.mkdir(parents=True, exist_ok=True)
    state, path = cached_file(entry, root)
    if state == "ok":
        return path
    if timeout is None:
        timeout = float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT)
    if retries is None:
        retries = int(os.environ.get(RETRIES_ENV) or DEFAULT_RETRIES)
    if progress is None:
        progress = sys.stderr.isatty()
    url = file_url(entry, table)
    with _file_lock(root / f".{entry.cache_name}.lock"):
        state, path = cached_file(entry, root)  # another process may have finished it meanwhile
        if state == "ok":
            return path
        for stale in root.glob(f".{entry.cache_name}.*.part"):  # left by a killed download; we hold the lock
            with contextlib.suppress(OSError):
                stale.unlink()
        if state == "corrupt":
            warnings.warn(f"cached {path} does not have git blob SHA-1 {entry.sha1}; downloading it again",
                          stacklevel=2)
        return _download(entry, root, url, timeout, retries, progress)


class CacheStatus(NamedTuple):
    """Result of re-hashing one cached file: state is ``'ok'``, ``'corrupt'`` or ``'missing'``."""

    entry: ReleasedFile
    state: str
    path: Path
    actual_sha1: Optional[str]


def verify_cache(entries: Sequence[ReleasedFile], root: Optional[PathLike] = None) -> List[CacheStatus]:
    """Re-hash the cached copy of each entry and say whether it is there and intact."""
    root = _root(root)
    report = []
    for entry in entries:
        state, path = cached_file(entry, root)
        if state == "missing":
            report.append(CacheStatus(entry, state, root / entry.cache_name, None))
        else:
            actual = entry.sha1 if state == "ok" else blob_sha1(path)
            report.append(CacheStatus(entry, state, path, actual))
    return report


def is_params_path(pretrained: Any) -> bool:
    """Whether ``pretrained`` names a file (a path object, or a string that is no label tag and looks like a
    file name) rather than a released file (True, a label tag, a SHA-1 prefix)."""
    if isinstance(pretrained, os.PathLike):
        return True
    if not isinstance(pretrained, str) or pretrained.strip().lower() in TAGS:
        return False
    return pretrained.endswith(".params") or os.sep in pretrained or "/" in pretrained or os.path.isfile(pretrained)


def released_file(name: str, pretrained: Union[bool, str], classes: Optional[int] = None,
                  root: Optional[PathLike] = None) -> Tuple[ReleasedFile, Path]:
    """The released file that ``pretrained`` (True, a label tag or a SHA-1 prefix) selects for registry model
    ``name`` built with ``classes`` outputs, and its verified path in the cache (downloaded if needed)."""
    entry = resolve_released(name, pretrained, classes)
    return entry, get_model_file(entry, root)
