"""Released weights for the MXNet engine: loading a verified file of the framework-free store into a network.

The cache, download, lock and hash check live in :mod:`afflib.core.store` (shared with the PyTorch engine);
this module re-exports them so that ``afflib.model_zoo.model_store.get_model_file`` and friends keep working.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

from afflib.core.released import PretrainedNotAvailable, ReleasedFile
from afflib.core.store import (CacheStatus, ChecksumError, DownloadError, blob_sha1, cached_file, default_root,
                               file_url, get_model_file, is_params_path, released_file, verify_cache)

__all__ = ["DownloadError", "ChecksumError", "PretrainedNotAvailable", "blob_sha1", "default_root",
           "file_url", "cached_file", "get_model_file", "CacheStatus", "verify_cache", "load_pretrained"]

PathLike = Union[str, os.PathLike]


def _load(net: Any, path: PathLike, ctx: Any, what: str) -> None:
    """Strict load (no missing or extra names); float16 files, like the ImageNet releases, are cast to the net."""
    from mxnet.base import MXNetError

    try:
        net.load_parameters(str(path), ctx=ctx, cast_dtype=True, dtype_source="current")
    except MXNetError as err:
        raise ValueError(f"{what} {path} is not an MXNet parameter file: {str(err).strip().splitlines()[-1]}") from err
    except (AssertionError, ValueError, KeyError) as err:
        raise ValueError(f"{what} {path} does not fit the network {type(net).__name__} built with these "
                         f"arguments: {err}") from err


def load_pretrained(net: Any, name: str, pretrained: Union[bool, str, PathLike], root: Optional[PathLike] = None,
                    ctx: Any = None, classes: Optional[int] = None) -> Optional[ReleasedFile]:
    """Load ``pretrained`` weights into ``net`` built as registry model ``name``; used by ``get_model``.

    ``pretrained`` is True, a tag (``'fine'``, ``'coarse'``, ``'imagenet'``, a SHA-1 prefix) or a path to a
    ``.params`` file. Returns the released file that was loaded (None for a path).
    """
    if is_params_path(pretrained):
        path = Path(pretrained).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"pretrained={str(pretrained)!r}: no such parameter file")
        _load(net, path, ctx, "parameter file")
        return None
    entry, path = released_file(name, pretrained, classes, root)
    _load(net, path, ctx, f"released file for {name} ({entry.tag})")
    return entry
