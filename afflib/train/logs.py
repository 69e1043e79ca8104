"""Logging of a run to stdout and a log file, plus progress bars; the line formats themselves (writers and parsers
of the release's lines) are in :mod:`afflib.core.logformat`."""
from __future__ import annotations

import logging
import os
import sys
from typing import List, Optional

from tqdm import tqdm

__all__ = ["setup_logging", "attach_log_file", "log_stop_reason", "progress_bar", "want_progress"]

LOGGER_NAME = "afflib.train"


class _Pending(logging.Handler):
    """Keeps the lines logged before the run's folder is claimed, for :func:`attach_log_file` to write first."""

    def __init__(self) -> None:
        super().__init__()
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def setup_logging(logging_file: Optional[str] = None, name: str = LOGGER_NAME,
                  defer_file: bool = False) -> logging.Logger:
    """A logger writing bare lines (``%(message)s``, as the original logs) to stdout and ``logging_file``.

    ``defer_file``: no file yet; the lines are kept until :func:`attach_log_file` (called once the arguments and
    inputs are validated, so that a refused run writes no log).
    """
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
    if logging_file or defer_file:
        log.addHandler(_Pending())
    if logging_file:
        attach_log_file(log, logging_file)
    return log


def attach_log_file(log: logging.Logger, logging_file: Optional[str]) -> None:
    """Open ``logging_file`` (appending) for ``log``, first writing the lines kept since :func:`setup_logging`."""
    pending = [h for h in log.handlers if isinstance(h, _Pending)]
    for handler in pending:
        log.removeHandler(handler)
    if not logging_file:
        return
    os.makedirs(os.path.dirname(os.path.abspath(logging_file)), exist_ok=True)
    handler = logging.FileHandler(logging_file, mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    for record in (r for h in pending for r in h.records):
        handler.handle(record)
    log.addHandler(handler)


def log_stop_reason(line: str, name: str = LOGGER_NAME) -> None:
    """Append ``line`` (why the run stopped, also printed on stderr) to the run's log file(s), if any.

    Written straight to the files, not to stdout; a log that cannot be written (disk full, folder gone) is skipped
    silently, since the line is on stderr anyway.
    """
    for handler in logging.getLogger(name).handlers:
        if isinstance(handler, logging.FileHandler):
            try:
                handler.acquire()
                try:
                    if handler.stream is None:
                        handler.stream = handler._open()
                    handler.stream.write(line + "\n")
                    handler.stream.flush()
                finally:
                    handler.release()
            except (OSError, ValueError):
                pass


def want_progress(no_progress: bool) -> bool:
    """Progress bars only when stdout is a terminal and ``--no-progress`` was not given."""
    return not no_progress and sys.stdout.isatty()


def progress_bar(total: int, description: str, enabled: bool) -> tqdm:
    """A per-epoch bar on stderr (so the log lines on stdout stay clean); a no-op object when disabled."""
    return tqdm(total=total, desc=description, disable=not enabled, leave=False, file=sys.stderr,
                dynamic_ncols=True, unit="batch")
