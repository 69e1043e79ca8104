"""Prefetch, list and verify the released checkpoints in the local cache.

    afflib-download-params --list
    afflib-download-params --all
    afflib-download-params cifar_aff_resnet32 iaff_resnext50_32x4d:imagenet --root /data/models
    afflib-download-params --verify            # re-hash every cached file; exit 1 if any is bad

From a checkout, ``python scripts/download_params.py`` takes the same flags. It needs no framework.

NAME is a model (all its released files) or MODEL:TAG for one file (TAG: imagenet, fine, coarse).
The cache is --root, else $MXNET_HOME/models, else ~/.mxnet/models; the download base URL is
$AFFLIB_PARAMS_URL, else the original repository.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

from afflib.core.cliargs import make_parser, positive_float
from afflib.core.store import DownloadError, default_root, get_model_file, verify_cache
from afflib.core.released import (METRICS, PretrainedNotAvailable, ReleasedFile, ReleaseTable, get_table,
                                       resolve_released)


def select(table: ReleaseTable, names: List[str], everything: bool) -> List[ReleasedFile]:
    """The entries named by ``names`` (MODEL or MODEL:TAG), or all of them."""
    if everything or not names:
        return list(table.files)
    chosen: List[ReleasedFile] = []
    for name in names:
        model, _, tag = name.strip().lower().partition(":")
        if tag:
            entries = [resolve_released(model, tag, table=table)]
        else:
            entries = table.for_model(model)
            if not entries:
                raise PretrainedNotAvailable(f"no released weights for {model!r}; models with released files: "
                                             f"{', '.join(table.models())}")
        chosen += [e for e in entries if e not in chosen]
    return chosen


def list_files(table: ReleaseTable, entries: List[ReleasedFile], root: Path) -> None:
    print(f"cache: {root}")
    print(f"{'model':27s} {'tag':9s} {'outputs':>7s}  {'published':22s} {'cached':7s} file")
    for entry in entries:
        present = "yes" if (root / entry.cache_name).is_file() or (root / entry.original_name).is_file() else "no"
        number = f"{METRICS[entry.metric]} {entry.published:.2f}%"
        print(f"{entry.model:27s} {entry.tag:9s} {entry.classes:7d}  {number:22s} {present:7s} {entry.cache_name}")


def verify(entries: List[ReleasedFile], root: Path) -> int:
    bad = []
    for status in verify_cache(entries, root):
        if status.state == "ok":
            print(f"OK       {status.path}")
        elif status.state == "corrupt":
            bad.append(status.entry)
            print(f"CORRUPT  {status.path}: git blob SHA-1 {status.actual_sha1}, expected {status.entry.sha1}")
        else:
            bad.append(status.entry)
            print(f"MISSING  {status.path}")
    print(f"{len(entries) - len(bad)} of {len(entries)} files OK in {root}")
    if bad:
        names = " ".join(f"{entry.model}:{entry.tag}" for entry in bad)
        print(f"to fetch them again: afflib-download-params {names} --root {root}", file=sys.stderr)
    return 1 if bad else 0


def download(entries: List[ReleasedFile], root: Path, timeout: Optional[float], progress: Optional[bool]) -> int:
    failed = 0
    for entry in entries:
        try:
            path = get_model_file(entry, root, timeout=timeout, progress=progress)
            print(f"OK       {path}")
        except DownloadError as err:
            failed += 1
            print(f"FAILED   {entry.model}:{entry.tag}: {err}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help="MODEL or MODEL:TAG (see --list; default: none)")
    parser.add_argument("--all", action="store_true", help="every released file")
    parser.add_argument("--root", type=Path, default=None,
                        help="cache folder (default: $MXNET_HOME/models, else ~/.mxnet/models)")
    parser.add_argument("--list", action="store_true", help="show the released files and whether they are cached")
    parser.add_argument("--verify", action="store_true",
                        help="re-hash the cached files (all, or the NAMEs); exit 1 if any is corrupt or missing")
    parser.add_argument("--timeout", type=positive_float, default=None,
                        help="seconds to connect / without data before a download fails (default 30)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.all and args.names:
        parser.error("give NAMEs or --all, not both")
    if not (args.all or args.names or args.list or args.verify):
        parser.error("name the models to download, or pass --all, --list or --verify")
    root = (args.root.expanduser() if args.root else default_root())
    table = get_table()
    try:
        entries = select(table, args.names, args.all)
    except PretrainedNotAvailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.list:
        list_files(table, entries, root)
        return 0
    if args.verify:
        return verify(entries, root)
    return download(entries, root, args.timeout, False if args.no_progress else None)


def run() -> None:
    """Console-script entry point ``afflib-download-params``."""
    sys.exit(main())


if __name__ == "__main__":
    run()
