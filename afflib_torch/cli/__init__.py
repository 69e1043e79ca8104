"""Command-line tools of the PyTorch engine, installed as console scripts; each checks for torch first.

Each tool module has ``main(argv) -> int`` and ``run()`` (also ``python -m afflib_torch.cli.<tool>``).
"""
import importlib

from afflib.core.entrypoints import require_module


def _run(module: str, tool: str) -> None:
    """Run ``afflib_torch.cli.<module>`` (console script ``tool``) once torch is importable."""
    require_module("torch", tool, "torch")
    importlib.import_module(f"{__name__}.{module}").run()


def run_convert() -> None:
    """``afflib-convert``: MXNet ``.params`` <-> PyTorch checkpoints."""
    _run("convert", "afflib-convert")


def run_eval_torch() -> None:
    """``afflib-eval-torch``: top-1/top-5 error and images/s of a checkpoint in PyTorch."""
    _run("eval_torch", "afflib-eval-torch")


def run_benchmark_torch() -> None:
    """``afflib-benchmark-torch``: training images/s of the PyTorch twins."""
    _run("benchmark_torch", "afflib-benchmark-torch")
