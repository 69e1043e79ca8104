"""Command-line tools installed as console scripts; ``scripts/`` keeps a thin wrapper of each for the checkout.

Each tool module has ``main(argv) -> int`` (tests, wrappers) and ``run()``. The console scripts point at the
functions below, which check for the tool's engine before importing it (the torch environment has no MXNet).
"""
from afflib.core.entrypoints import require_module


def run_download_params() -> None:
    """``afflib-download-params``: framework-free, runs in either environment."""
    from .download_params import run
    run()


def run_pack_fashion_mnist() -> None:
    """``afflib-pack-fashion-mnist`` (MXNet RecordIO)."""
    require_module("mxnet", "afflib-pack-fashion-mnist", "mxnet")
    from .pack_fashion_mnist import run
    run()


def run_prepare_imagenet() -> None:
    """``afflib-prepare-imagenet`` (MXNet RecordIO)."""
    require_module("mxnet", "afflib-prepare-imagenet", "mxnet")
    from .prepare_imagenet import run
    run()
