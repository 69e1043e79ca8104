"""Command-line tools installed as console scripts; ``scripts/`` keeps a thin wrapper of each for the checkout.

Each tool module has ``main(argv) -> int`` (tests, wrappers) and ``run()`` (also ``python -m afflib.cli.<tool>``).
The console scripts point at the functions below, which check for the tool's engine before importing it (the torch
environment has no MXNet).
"""
import importlib
from typing import Optional

from afflib.core.entrypoints import require_module


def _run(module: str, needs: Optional[str] = "mxnet") -> None:
    """Run ``afflib.cli.<module>``, console script ``afflib-<module with dashes>``, once ``needs`` is importable."""
    if needs:
        require_module(needs, "afflib-" + module.replace("_", "-"), needs)
    importlib.import_module(f"{__name__}.{module}").run()


def run_download_params() -> None:
    """``afflib-download-params``: framework-free, runs in either environment."""
    _run("download_params", needs=None)


def run_pack_fashion_mnist() -> None:
    """``afflib-pack-fashion-mnist`` (MXNet RecordIO)."""
    _run("pack_fashion_mnist")


def run_prepare_imagenet() -> None:
    """``afflib-prepare-imagenet`` (MXNet RecordIO)."""
    _run("prepare_imagenet")


def run_train_cifar() -> None:
    """``afflib-train-cifar``: CIFAR-10/100 and Fashion-MNIST training."""
    _run("train_cifar")


def run_train_imagenet() -> None:
    """``afflib-train-imagenet``: ImageNet training (the release's flags)."""
    _run("train_imagenet")


def run_eval_cifar() -> None:
    """``afflib-eval-cifar``: test accuracy on CIFAR-10/100 or Fashion-MNIST."""
    _run("eval_cifar")


def run_eval_imagenet() -> None:
    """``afflib-eval-imagenet``: ImageNet validation error."""
    _run("eval_imagenet")


def run_export() -> None:
    """``afflib-export``: MXNet symbol files or ONNX, checked against MXNet."""
    _run("export")


def run_predict() -> None:
    """``afflib-predict``: top-k classes of image files."""
    _run("predict")


def run_gradcam() -> None:
    """``afflib-gradcam``: Grad-CAM figures of image files."""
    _run("gradcam")


def run_launch() -> None:
    """``afflib-launch``: a distributed job (scheduler, servers, workers); the servers run MXNet."""
    _run("launch")


def run_summary() -> None:
    """``afflib-summary``: per-layer shapes, parameters and MACs of a registry model."""
    _run("summary")


def run_benchmark() -> None:
    """``afflib-benchmark``: interleaved throughput of an AFF network and its baselines."""
    _run("benchmark")


def run_demo() -> None:
    """``afflib-demo``: the README's main command (Fashion-MNIST on the CPU)."""
    _run("demo")
