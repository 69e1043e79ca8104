"""Device selection, mixed precision and compilation for the PyTorch twins (CPU now, CUDA-ready).

One place decides how a model runs: :class:`RunConfig` (device, channels_last, autocast dtype, compile)
and :func:`prepare` apply it; :func:`train_step_fn` builds the SGD step used by the benchmark.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Tuple

import torch
from torch import nn

from afflib.core.metrics import EvalResult, TopKErrors

__all__ = ["RunConfig", "EvalResult", "select_device", "bf16_supported", "autocast_context", "prepare",
           "train_step_fn", "evaluate"]

AMP_DTYPES = {"float32": None, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float16": torch.float16,
              "fp16": torch.float16}


def select_device(name: str = "auto") -> torch.device:
    """``'auto'`` -> the first CUDA GPU when one is usable, else the CPU; ``'cuda:1'``, ``'cpu'``... as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but this PyTorch build sees no CUDA GPU "
                           f"(torch {torch.__version__}); use --device cpu")
    return device


def bf16_supported(device: torch.device) -> bool:
    """Whether bfloat16 autocast runs natively (CUDA: Ampere or newer; CPU: AVX512-BF16 or AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


@dataclass
class RunConfig:
    """How to run a model: device, memory format, autocast dtype (None = float32) and torch.compile."""

    device: torch.device = torch.device("cpu")
    channels_last: bool = False
    amp_dtype: Optional[torch.dtype] = None
    compile: bool = False

    @classmethod
    def create(cls, device: str = "auto", channels_last: bool = False, amp: str = "float32",
               compile: bool = False) -> "RunConfig":
        """Validate user choices: ``amp`` in float32 / bfloat16 / float16 (float16 only on CUDA)."""
        if amp not in AMP_DTYPES:
            raise ValueError(f"amp must be one of {sorted(AMP_DTYPES)}, got {amp!r}")
        dev = select_device(device)
        dtype = AMP_DTYPES[amp]
        if dtype is torch.float16 and dev.type != "cuda":
            raise ValueError("float16 autocast needs a CUDA device; on the CPU use bfloat16")
        if dtype is torch.bfloat16 and not bf16_supported(dev):
            raise ValueError(f"bfloat16 is not supported natively on {dev}; use float32")
        return cls(dev, channels_last, dtype, compile)


def autocast_context(config: RunConfig):
    """``torch.autocast`` for the configured dtype, or a no-op for float32."""
    if config.amp_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(config.device.type, dtype=config.amp_dtype)


def prepare(model: nn.Module, config: RunConfig) -> nn.Module:
    """Move ``model`` to the device and memory format; wrap it in ``torch.compile`` when asked."""
    model = model.to(config.device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return torch.compile(model) if config.compile else model


def train_step_fn(model: nn.Module, config: RunConfig, batch: torch.Tensor, labels: torch.Tensor,
                  lr: float = 0.1) -> Callable[[], float]:
    """One SGD (momentum 0.9) step of cross-entropy on a fixed batch; returns the loss (synchronises)."""
    model.train()
    batch = batch.to(config.device)
    if config.channels_last:
        batch = batch.contiguous(memory_format=torch.channels_last)
    labels = labels.to(config.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    scaler = torch.amp.GradScaler(config.device.type, enabled=config.amp_dtype is torch.float16)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        with autocast_context(config):
            loss = loss_fn(model(batch), labels)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        return float(loss.detach())

    return step


def evaluate(model: nn.Module, batches: Iterable[Tuple[torch.Tensor, torch.Tensor]], config: RunConfig,
             progress: Optional[Callable[[int], None]] = None) -> EvalResult:
    """Inference-mode top-1/top-5 error of ``model`` (already :func:`prepare`-d) over labelled batches, counted
    by the core's :class:`~afflib.core.metrics.TopKErrors` as in the MXNet engine."""
    model.eval()
    meter = TopKErrors((1, 5))
    start = time.perf_counter()
    with torch.inference_mode(), autocast_context(config):
        for images, labels in batches:
            images = images.to(config.device, non_blocking=True)
            if config.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            meter.update(model(images).float().cpu().numpy(), labels.numpy())
            if progress is not None:
                progress(len(labels))
    result = meter.result(time.perf_counter() - start)
    if result.samples == 0:
        raise ValueError("no images to evaluate")
    return result
