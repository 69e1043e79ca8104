"""Framework-free file helpers (importable without MXNet or torch, e.g. by ``afflib_torch``)."""
from __future__ import annotations

import os
import tempfile
from typing import Any, Callable

__all__ = ["atomic_write"]


def atomic_write(path: "os.PathLike[str] | str", write: Callable[[str], Any]) -> str:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then move it over ``path`` in one step."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path
