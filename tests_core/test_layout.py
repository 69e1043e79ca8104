"""The package layout: the core imports no framework, the engines never import each other, and no import cycle
joins two subpackages (function-level imports count: hiding a cycle inside a function does not break it)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

import pytest

REPO = Path(__file__).resolve().parents[1]
FRAMEWORKS = ("mxnet", "gluoncv", "torch")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> Dict[str, Path]:
    return {_module_name(p): p for package in ("afflib", "afflib_torch") for p in (REPO / package).rglob("*.py")}


def _imports(name: str, path: Path, known: Set[str]) -> Set[str]:
    """The afflib modules that ``name`` imports anywhere in its source (module level or inside functions)."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets: List[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _subpackage(module: str) -> str:
    """The unit of the no-cycle rule: ``afflib.train``, ``afflib.core``..., ``afflib`` for its top-level modules."""
    parts = module.split(".")
    if parts[0] == "afflib_torch":
        return "afflib_torch"
    if len(parts) >= 2 and (REPO / parts[0] / parts[1]).is_dir():
        return ".".join(parts[:2])
    return parts[0]


def _graph() -> Dict[str, Set[str]]:
    sources = _sources()
    known = set(sources)
    return {name: _imports(name, path, known) for name, path in sources.items()}


def _cycle(edges: Dict[str, Set[str]]) -> List[str]:
    """One cycle of the directed graph, as a list of nodes, or [] when there is none."""
    state: Dict[str, int] = {}
    stack: List[str] = []

    def visit(node: str) -> List[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        stack.pop()
        return []

    for start in sorted(edges):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return []


def test_no_import_cycle_between_subpackages():
    packages: Dict[str, Set[str]] = {}
    for module, targets in _graph().items():
        # ``afflib/__init__.py`` only re-exports the MXNet registry lazily; it is the package's face, not a layer.
        if module == "afflib":
            continue
        for target in targets:
            if target == "afflib":
                continue
            a, b = _subpackage(module), _subpackage(target)
            if a != b:
                packages.setdefault(a, set()).add(b)
    assert _cycle(packages) == [], f"import cycle between subpackages: {' -> '.join(_cycle(packages))}"


def test_no_import_cycle_between_modules():
    graph = {m: {t for t in ts if t != "afflib"} for m, ts in _graph().items() if m != "afflib"}
    # a package importing its own submodules (re-exports) is not a cycle of code
    graph = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}
    assert _cycle(graph) == [], f"import cycle between modules: {' -> '.join(_cycle(graph))}"


def test_engines_import_only_the_core_of_each_other():
    offenders = []
    for module, targets in _graph().items():
        for target in targets:
            engine_of = _subpackage(module)
            if engine_of == "afflib.core" and not target.startswith("afflib.core"):
                offenders.append(f"{module} (core) imports {target}")
            if engine_of == "afflib_torch" and target.startswith("afflib") and not (
                    target.startswith("afflib_torch") or target.startswith("afflib.core") or target == "afflib"):
                offenders.append(f"{module} (PyTorch engine) imports {target}")
            if engine_of.startswith("afflib") and engine_of != "afflib_torch" and target.startswith("afflib_torch"):
                offenders.append(f"{module} (MXNet engine) imports {target}")
    assert not offenders, "\n".join(offenders)


CORE_MODULES = sorted(m for m in _sources() if m == "afflib.core" or m.startswith("afflib.core."))


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_no_framework(module):
    """In a fresh interpreter of this environment, importing a core module loads neither MXNet nor torch."""
    probe = (f"import sys, {module}\n"
             f"print(','.join(m for m in {FRAMEWORKS!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=str(REPO), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"importing {module} imported {done.stdout.strip()}"
