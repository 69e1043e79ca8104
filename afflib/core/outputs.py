"""Framework-free guard of the files a tool writes: an existing output is refused unless ``--force`` is given.

Importable without MXNet or torch, so the MXNet scripts and the torch converter share one check and one message.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Iterable, List

__all__ = ["add_force_flag", "refuse_existing", "exit_if_existing"]


def add_force_flag(parser: argparse.ArgumentParser, what: str = "output files") -> None:
    """Add ``--force`` (overwrite existing outputs) to a tool's parser."""
    parser.add_argument("--force", action="store_true", help=f"overwrite existing {what} (default: refuse them)")


def refuse_existing(paths: Iterable["os.PathLike[str] | str"], force: bool = False, flag: str = "--force") -> None:
    """Raise :class:`FileExistsError` naming the existing ``paths`` (at most three) unless ``force``.

    Called before anything is written, so a refused command leaves every file as it was.
    """
    if force:
        return
    existing: List[str] = [os.fspath(p) for p in paths if os.path.lexists(os.fspath(p))]
    if existing:
        more = f" and {len(existing) - 3} more" if len(existing) > 3 else ""
        raise FileExistsError(f"{', '.join(existing[:3])}{more} already exist{'s' if len(existing) == 1 else ''}; "
                              f"pass {flag} to overwrite")


def exit_if_existing(paths: Iterable["os.PathLike[str] | str"], force: bool = False, flag: str = "--force") -> None:
    """:func:`refuse_existing` for scripts without :func:`afflib.train.runner.exit_on_error`: one line, exit 2."""
    try:
        refuse_existing(paths, force, flag)
    except FileExistsError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
