"""Console-script helpers: a tool of one engine, run in the other engine's environment, says what to install
(exit 2) instead of a ModuleNotFoundError traceback."""
from __future__ import annotations

import importlib.util
import sys

from .cliargs import EXIT_BAD_INPUT

__all__ = ["require_module"]


def require_module(module: str, tool: str, extra: str) -> None:
    """Exit with status 2 and the install command when ``module`` (what ``tool`` needs) is not installed."""
    if importlib.util.find_spec(module) is None:
        print(f"{tool}: error: needs {module}, which this environment lacks; install afflib with it: "
              f"pip install 'afflib[{extra}]'", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
