"""Test helper (framework-free): the console scripts setup.py declares, and running one in-process as its
installed command would (``sys.argv[0]`` = the command name)."""
from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path
from typing import Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]


def console_scripts() -> Dict[str, Tuple[str, str]]:
    """``{command: (module, function)}`` of setup.py's ``CONSOLE_SCRIPTS`` (read from the source, not run)."""
    tree = ast.parse((REPO / "setup.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "CONSOLE_SCRIPTS" for t in node.targets):
            entries = ast.literal_eval(node.value)
            break
    else:
        raise AssertionError("setup.py defines no CONSOLE_SCRIPTS")
    found = {}
    for entry in entries:
        name, _, target = (part.strip() for part in entry.partition("="))
        module, _, function = target.partition(":")
        found[name] = (module, function)
    return found


def engine_of(module: str) -> str:
    """The framework a console script's package needs: ``torch`` for afflib_torch's, else ``mxnet``."""
    return "torch" if module.split(".")[0] == "afflib_torch" else "mxnet"


def call_entry(command: str, args: List[str], monkeypatch) -> int:
    """Run console script ``command`` with ``args`` in this process; its exit status."""
    module, function = console_scripts()[command]
    entry = getattr(importlib.import_module(module), function)
    monkeypatch.setattr(sys, "argv", [command, *args])
    try:
        entry()
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    return 0
