"""One command per task, two engines: ``scripts/train_cifar.py --engine torch`` runs ``afflib_torch.cli.train_cifar``,
``--engine mxnet`` (the default) ``afflib.cli.train_cifar``.

The engines live in separate environments (gluoncv refuses to import beside torch >= 2). When the Python running
the command lacks the chosen engine's framework and the checkout has that engine's environment (``make venv`` /
``make venv-torch``), the command re-runs itself there; otherwise it says what to install (exit 2).
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from .cliargs import EXIT_BAD_INPUT

__all__ = ["ENGINE_TOOLS", "FRAMEWORK", "engine_of", "engine_module", "environment_python", "dispatch",
           "train_cifar", "train_imagenet", "eval_cifar", "eval_imagenet", "demo", "train_segmentation",
           "eval_segmentation"]

#: tools with one command line for both engines
ENGINE_TOOLS = ("train_cifar", "train_imagenet", "eval_cifar", "eval_imagenet", "demo", "train_segmentation",
                "eval_segmentation")
FRAMEWORK = {"mxnet": "mxnet", "torch": "torch"}
_PACKAGE = {"mxnet": "afflib.cli", "torch": "afflib_torch.cli"}
_VENV = {"mxnet": ".venv", "torch": ".venv-torch"}
_MAKE = {"mxnet": "make venv", "torch": "make venv-torch"}
#: set in the re-run process so that a broken environment cannot make it re-run forever
_RERUN_MARK = "AFFLIB_ENGINE_RERUN"


def engine_of(argv: Sequence[str]) -> str:
    """The ``--engine`` value of a command line (the last one wins, as argparse does); ``mxnet`` when absent."""
    engine = "mxnet"
    for i, word in enumerate(argv):
        if word == "--":
            break
        if word == "--engine" and i + 1 < len(argv):
            engine = argv[i + 1]
        elif word.startswith("--engine="):
            engine = word.split("=", 1)[1]
    return engine


def engine_module(tool: str, engine: str) -> str:
    """The module that runs ``tool`` on ``engine``."""
    return f"{_PACKAGE[engine]}.{tool}"


def environment_python(engine: str, checkout: Optional[Path] = None) -> Optional[Path]:
    """The checkout's environment of ``engine`` (``.venv/bin/python`` or ``.venv-torch/bin/python``) when it exists."""
    root = checkout if checkout is not None else Path(__file__).resolve().parents[2]
    python = root / _VENV[engine] / "bin" / "python"
    return python if python.is_file() else None


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def dispatch(tool: str, argv: Optional[Sequence[str]] = None) -> None:
    """Run ``tool`` on the engine its command line names, re-running under that engine's environment if needed."""
    args: List[str] = list(sys.argv[1:] if argv is None else argv)
    engine = engine_of(args)
    command = f"{tool.replace('_', '-')}"
    if engine not in _PACKAGE:
        print(f"{command}: error: argument --engine: invalid choice: {engine!r} (choose from 'mxnet', 'torch')",
              file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    if not _has(FRAMEWORK[engine]):
        python = environment_python(engine)
        # venvs share the base interpreter binary: compare environments, not resolved executables
        elsewhere = python is not None and python.parent.parent.resolve() != Path(sys.prefix).resolve()
        if elsewhere and not os.environ.get(_RERUN_MARK):
            env = dict(os.environ, **{_RERUN_MARK: "1"})
            os.execve(str(python), [str(python), "-m", engine_module(tool, engine), *args], env)
        print(f"{command}: error: --engine {engine} needs {FRAMEWORK[engine]}, which this Python ({sys.executable}) "
              f"lacks; create its environment with `{_MAKE[engine]}` in the checkout (then this command runs there "
              f"by itself), or install afflib with the {'[torch]' if engine == 'torch' else '[cpu]'} extra",
              file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    importlib.import_module(engine_module(tool, engine)).run()


def train_cifar() -> None:
    """Console script ``afflib-train-cifar``."""
    dispatch("train_cifar")


def train_imagenet() -> None:
    """Console script ``afflib-train-imagenet``."""
    dispatch("train_imagenet")


def eval_cifar() -> None:
    """Console script ``afflib-eval-cifar``."""
    dispatch("eval_cifar")


def eval_imagenet() -> None:
    """Console script ``afflib-eval-imagenet``."""
    dispatch("eval_imagenet")


def demo() -> None:
    """Console script ``afflib-demo``."""
    dispatch("demo")


def train_segmentation() -> None:
    """Console script ``afflib-train-segmentation``."""
    dispatch("train_segmentation")


def eval_segmentation() -> None:
    """Console script ``afflib-eval-segmentation``."""
    dispatch("eval_segmentation")
