"""The log of a training run (both engines): bare lines to stdout and the run's log file, opened only once the
run's arguments and inputs are validated, and the reason a run stopped appended to that file. The line formats
themselves are in :mod:`afflib.core.logformat`."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import List, Optional

from .rundir import RunDir, claim_run_dir

__all__ = ["LOGGER_NAME", "setup_logging", "attach_log_file", "log_stop_reason", "open_run"]

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


def open_run(log: logging.Logger, folder: str, args: argparse.Namespace, model_name: str,
             resume_params: Optional[str], log_file: Optional[str], plot_file: Optional[str], is_chief: bool = True,
             own_log_file: Optional[str] = None) -> RunDir:
    """The run's first writes, once its arguments and inputs are validated: claim ``folder`` (the chief checks it
    is not another run's, and that a resume keeps the recipe; :func:`afflib.core.rundir.claim_run_dir`), then open
    this process's log file (``own_log_file``, default ``log_file``) and log the folder and the recipe changes."""
    if is_chief:
        run = claim_run_dir(folder, vars(args), model_name, resume_params, (log_file, plot_file), args.overwrite,
                            args.allow_recipe_change)
    else:
        run = RunDir(folder)
    attach_log_file(log, own_log_file if own_log_file is not None or not is_chief else log_file)
    if folder:
        log.info("run folder: %s", folder)
    for flag, (old, new) in run.changes.items():
        log.info("resume changes the recipe: --%s %r -> %r (--allow-recipe-change)", flag.replace("_", "-"), old, new)
    return run
