"""Progress bars of training and evaluation, shared by both engines (framework-free).

A bar draws on stderr, so the log lines on stdout stay clean, and only when stdout is a terminal. tqdm draws it
where it is installed (the MXNet environment); elsewhere (the PyTorch environment has no tqdm) a one-line counter
does the same job.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Optional

__all__ = ["want_progress", "progress_bar", "LineBar"]


def want_progress(no_progress: bool) -> bool:
    """Progress bars only when stdout is a terminal and ``--no-progress`` was not given."""
    return not no_progress and sys.stdout.isatty()


class LineBar:
    """A minimal stand-in for tqdm: ``update(n)``, ``close()``, a context manager; redrawn at most 5 times a second."""

    def __init__(self, total: Optional[int], description: str, enabled: bool, unit: str = "batch"):
        self.total, self.description, self.enabled, self.unit = total, description, enabled, unit
        self.done, self.shown, self.start = 0, 0.0, time.monotonic()

    def update(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and (now - self.shown >= 0.2 or self.done == self.total):
            self.shown = now
            sys.stderr.write("\r" + self.text(self.done / max(now - self.start, 1e-9)))
            sys.stderr.flush()

    def text(self, rate: float) -> str:
        """The line drawn: ``description: done/total unit (rate unit/s)``."""
        of = f"/{self.total}" if self.total else ""
        return f"{self.description}: {self.done}{of} {self.unit} ({rate:.1f} {self.unit}/s)"

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self.enabled = False

    def __enter__(self) -> "LineBar":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress_bar(total: int, description: str, enabled: bool) -> Any:
    """A per-epoch bar on stderr (tqdm where installed, else :class:`LineBar`); a no-op object when disabled."""
    try:
        from tqdm import tqdm
    except ImportError:
        return LineBar(total, description, enabled)
    return tqdm(total=total, desc=description, disable=not enabled, leave=False, file=sys.stderr,
                dynamic_ncols=True, unit="batch")
