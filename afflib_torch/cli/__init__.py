"""Command-line tools of the PyTorch engine, installed as console scripts; each checks for torch first."""
from afflib.core.entrypoints import require_module


def run_convert() -> None:
    """``afflib-convert``: MXNet ``.params`` <-> PyTorch checkpoints."""
    require_module("torch", "afflib-convert", "torch")
    from .convert import run
    run()
