"""Logging of a run to stdout and a log file, plus progress bars: framework-free, they live in the core
(:mod:`afflib.core.runlog`, :mod:`afflib.core.progress`) and both engines use them; re-exported here."""
from __future__ import annotations

from afflib.core.progress import progress_bar, want_progress
from afflib.core.runlog import LOGGER_NAME, attach_log_file, log_stop_reason, setup_logging

__all__ = ["setup_logging", "attach_log_file", "log_stop_reason", "progress_bar", "want_progress", "LOGGER_NAME"]
