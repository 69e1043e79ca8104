"""Logging of a run to stdout and a log file, in the line formats of the original release, plus progress bars."""
from __future__ import annotations

import logging
import os
import sys
from typing import Optional

from tqdm import tqdm

__all__ = ["setup_logging", "progress_bar", "want_progress"]

LOGGER_NAME = "afflib.train"


def setup_logging(logging_file: Optional[str] = None, name: str = LOGGER_NAME) -> logging.Logger:
    """A logger writing bare lines (``%(message)s``, as the original logs) to stdout and ``logging_file``."""
    log = logging.getLogger(name)
    log.setLevel(logging.INFO)
    log.propagate = False
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter("%(message)s")
    stream = logging.StreamHandler(sys.stdout)
    stream.setFormatter(formatter)
    log.addHandler(stream)
    if logging_file:
        directory = os.path.dirname(os.path.abspath(logging_file))
        os.makedirs(directory, exist_ok=True)
        handler = logging.FileHandler(logging_file, mode="a", encoding="utf-8")
        handler.setFormatter(formatter)
        log.addHandler(handler)
    return log


def want_progress(no_progress: bool) -> bool:
    """Progress bars only when stdout is a terminal and ``--no-progress`` was not given."""
    return not no_progress and sys.stdout.isatty()


def progress_bar(total: int, description: str, enabled: bool) -> tqdm:
    """A per-epoch bar on stderr (so the log lines on stdout stay clean); a no-op object when disabled."""
    return tqdm(total=total, desc=description, disable=not enabled, leave=False, file=sys.stderr,
                dynamic_ncols=True, unit="batch")
