"""Framework-free file helpers (importable without MXNet or torch, e.g. by ``afflib_torch``).

Every file afflib writes goes through a temporary file beside its target, named ``.<target name>.<8 chars>.tmp``
(:data:`TEMP_NAME`), that is renamed over the target in one step; a killed write leaves such a file, which
:func:`remove_stale_temp` deletes at the start of the next run in that folder.
"""
from __future__ import annotations

import os
import re
import tempfile
from typing import Any, Callable, List

__all__ = ["atomic_write", "staged_write", "remove_stale_temp", "TEMP_NAME", "umask_mode"]

# afflib's temp names: ``.<name>.<mkstemp's 8 random characters>.tmp`` (and ``.tmp-<8>.<ext>`` of older versions).
TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$|^\.tmp-[a-z0-9_]{8}\.[A-Za-z0-9]+$")


def umask_mode(mode: int = 0o666) -> int:
    """``mode`` less the process umask: what ``open()`` would give a new file (``mkstemp`` gives 0600)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return mode & ~int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # no /proc: read it the classic way (not thread safe, hence only as a fallback)
    os.umask(mask)
    return mode & ~mask


def staged_write(path: "os.PathLike[str] | str", write: Callable[[str], Any]) -> str:
    """Call ``write(tmp)`` on a temporary file beside ``path``, flush it to disk and give it the umask's mode;
    returns the temporary path (the caller renames it over ``path``, or removes it)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, umask_mode())
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return tmp


def atomic_write(path: "os.PathLike[str] | str", write: Callable[[str], Any]) -> str:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then move it over ``path`` in one step."""
    path = os.fspath(path)
    tmp = staged_write(path, write)
    try:
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def remove_stale_temp(folder: "os.PathLike[str] | str") -> List[str]:
    """Delete afflib's temporary files (:data:`TEMP_NAME`) left in ``folder`` (not below) by killed writes;
    returns their names. Call it only where no other afflib process is writing into ``folder``."""
    folder = os.fspath(folder)
    removed = []
    if not os.path.isdir(folder):
        return removed
    for name in sorted(os.listdir(folder)):
        full = os.path.join(folder, name)
        if TEMP_NAME.match(name) and os.path.isfile(full) and not os.path.islink(full):
            os.remove(full)
            removed.append(name)
    return removed
