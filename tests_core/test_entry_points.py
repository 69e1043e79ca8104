"""Command-line entry points: each console script of setup.py names an existing function, each ``scripts/*.py``
tool is a thin wrapper of one (same module), and no source edits ``sys.path``. Framework-free: nothing is run."""
from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from pathlib import Path

import pytest

from afflib.core.engines import ENGINE_TOOLS, engine_module
from console_entries import REPO, console_scripts

# Checkout-only tools: they write files of the checkout (params/README.md, docs/pretrained.md), so no console script.
CHECKOUT_ONLY = {"render_params_table", "benchmark_gpu",  # benchmark_gpu: run from a checkout on a GPU machine
                 "ablate"}  # ablate: its cells run the checkout's scripts/train_cifar.py in the engines' venvs


DISPATCHER = "afflib.core.engines"


def _tool(command: str) -> str:
    return command[len("afflib-"):].replace("-", "_")


def _tool_modules(command: str) -> list:
    """The modules that run ``command``: its package's, or both engines' for a tool with ``--engine``."""
    module, _ = console_scripts()[command]
    if module == DISPATCHER:
        return [engine_module(_tool(command), engine) for engine in ("mxnet", "torch")]
    return [f"{module}.{_tool(command)}"]


@pytest.mark.parametrize("command", sorted(console_scripts()))
def test_console_script_names_a_function_and_its_tool_modules(command):
    module, function = console_scripts()[command]
    assert re.fullmatch(r"afflib-[a-z]+(-[a-z]+)*", command)
    assert callable(getattr(importlib.import_module(module), function)), f"{command}: {module}:{function}"
    for tool_module in _tool_modules(command):
        spec = importlib.util.find_spec(tool_module)
        assert spec is not None, f"{command}: no module {tool_module}"
        source = Path(spec.origin).read_text(encoding="utf-8")
        functions = {node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}
        assert {"main", "run"} <= functions, f"{spec.origin} needs main(argv) and run()"
        if module == DISPATCHER:  # the dispatcher re-runs it as `python -m <module>` in the other environment
            assert 'if __name__ == "__main__":' in source, f"{spec.origin} cannot run as python -m"


def test_engine_tools_are_dispatched():
    dispatched = {_tool(command) for command, (module, _) in console_scripts().items() if module == DISPATCHER}
    assert dispatched == set(ENGINE_TOOLS)


def test_every_script_is_a_thin_wrapper_of_its_console_script():
    entries = {_tool(command): console_scripts()[command] for command in console_scripts()}
    scripts = {path.stem: path for path in (REPO / "scripts").glob("*.py")}
    assert set(scripts) - CHECKOUT_ONLY == set(entries), "scripts/*.py and setup.py's console scripts differ"
    for name, (module, function) in entries.items():
        tree = ast.parse(scripts[name].read_text(encoding="utf-8"))
        imports = [node for node in tree.body if isinstance(node, ast.ImportFrom)]
        expected = (DISPATCHER, [name]) if module == DISPATCHER else (f"{module}.{name}", ["run"])
        assert [(node.module, [a.name for a in node.names]) for node in imports] == [expected], name
        assert len(scripts[name].read_text().splitlines()) <= 8, f"scripts/{name}.py is more than a wrapper"


def test_no_source_edits_sys_path():
    folders = ("afflib", "afflib_torch", "scripts", "tests", "tests_torch", "tests_core")
    pattern = re.compile(r"sys\.path\s*(\.(insert|append|extend)\b|\[|\+?=)")
    offenders = [f"{path.relative_to(REPO)}:{number}" for folder in folders for path in (REPO / folder).rglob("*.py")
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if pattern.search(line) and "pattern = re.compile" not in line]
    assert offenders == []
