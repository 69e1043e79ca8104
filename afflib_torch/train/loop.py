"""The PyTorch training loop: ``train_epoch``, ``evaluate`` and ``fit`` with explicit arguments, mirroring
:mod:`afflib.train.loop` (same log lines, history, checkpoints, NaN stop and signal handling).

Differences that PyTorch allows: an interrupted epoch is saved at the batch it reached and a resume continues
there exactly (the data order is a pure function of seed, epoch and sample; the ``.pt`` holds the position and the
epoch's running meter).
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, List, Optional

import torch
from torch import nn

from afflib.core import logformat
from afflib.core.checkpoint_manager import CheckpointManager
from afflib.core.metrics import EvalResult
from afflib.core.progress import progress_bar
from afflib.core.schedule import LRSchedule
from afflib.core.training import NonFiniteLossError, Recipe, StopFlag, TrainingInterrupted, close_epoch

from ..engine import RunConfig, autocast_context
from .checkpoint import TrainState
from .optim import set_learning_rate
from .session import TorchSession
from .tasks import Classification

__all__ = ["Trainee", "train_epoch", "evaluate", "fit"]


class Trainee:
    """The model being trained and what steps it: ``module`` (as built: saved and converted), ``runner`` (what
    runs batches: DDP's wrapper and/or ``torch.compile`` of it), optimizer, gradient scaler, run config, an
    optional distillation teacher (``temperature``, ``hard_weight``) and the task (:mod:`afflib_torch.train.tasks`:
    classification by default, or segmentation)."""

    def __init__(self, module: nn.Module, runner: nn.Module, optimizer: torch.optim.Optimizer, config: RunConfig,
                 scaler: Optional[Any] = None, teacher: Optional[nn.Module] = None, temperature: float = 20.0,
                 hard_weight: float = 0.5, task: Optional[Any] = None):
        self.module, self.runner, self.optimizer, self.config = module, runner, optimizer, config
        self.scaler = scaler if scaler is not None else torch.amp.GradScaler(
            config.device.type, enabled=config.amp_dtype is torch.float16)
        self.teacher, self.temperature, self.hard_weight = teacher, temperature, hard_weight
        self.state = TrainState(optimizer, self.scaler)
        self.task = task if task is not None else Classification()

    def to_device(self, images: torch.Tensor, labels: torch.Tensor):
        device = self.config.device
        images = images.to(device, non_blocking=True)
        if self.config.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images, labels.to(device, non_blocking=True)

    def step(self, images: torch.Tensor, targets: torch.Tensor):
        """Forward and backward of one batch; returns (per-sample losses, logits), detached. The update itself
        is :meth:`update` (after the loss was checked)."""
        self.optimizer.zero_grad(set_to_none=True)
        teacher_logits = None
        if self.teacher is not None:
            with torch.no_grad(), autocast_context(self.config):
                teacher_logits = self.teacher(images)
        with autocast_context(self.config):
            logits = self.runner(images)
        losses = self.task.losses(logits, targets, teacher_logits, self.temperature, self.hard_weight)
        self.scaler.scale(losses.mean()).backward()
        return losses.detach(), logits.detach()

    def update(self) -> None:
        self.scaler.step(self.optimizer)
        self.scaler.update()


def train_epoch(epoch: int, data, trainee: Trainee, schedule: LRSchedule, recipe: Recipe, log: logging.Logger,
                session: TorchSession, stop: Optional[StopFlag] = None, show_progress: bool = False,
                on_interrupt: Optional[Callable[[int, int, Dict[str, float]], Optional[str]]] = None,
                start_batch: int = 0, meter: Optional[Dict[str, float]] = None) -> Dict[str, float]:
    """Train epoch ``epoch`` from batch ``start_batch``; returns ``{'loss', 'accuracy', 'samples', 'seconds',
    'lr'}`` over all of this epoch's batches in every process (``meter``: the totals of batches before
    ``start_batch``, from a resumed checkpoint). The loss is per sample; accuracy counts what the task scores
    (images, or pixels of a segmentation: pixel accuracy).

    The learning rate of every update comes from ``schedule(global update number)``. A non-finite loss in any
    process raises :class:`NonFiniteLossError` before the update; a signal in ``stop`` calls
    ``on_interrupt(epoch, next batch, meter)`` (which saves) and raises :class:`TrainingInterrupted`.
    """
    totals = dict(meter or {"loss": 0.0, "correct": 0.0, "count": 0.0, "seconds": 0.0})
    correct = torch.zeros((), dtype=torch.int64, device=trainee.config.device)
    iters = schedule.iters_per_epoch
    tic = interval_tic = time.time()
    interval_samples = 0
    lr = float("nan")
    trainee.runner.train()
    bar = progress_bar(len(data) - start_batch, f"epoch {epoch}", show_progress)

    def meter_now() -> Dict[str, float]:
        return dict(totals, correct=totals["correct"] + float(correct), seconds=totals["seconds"] + time.time() - tic)

    try:
        for i, (images, labels) in enumerate(data.batches(epoch, start_batch), start_batch):
            images, labels = trainee.to_device(images, labels)
            inputs, targets, scored = trainee.task.targets(images, labels, recipe, epoch, i)
            losses, logits = trainee.step(inputs, targets)
            loss_sum = float(losses.sum())
            stopping = stop is not None and stop.signum is not None
            bad, stopped = session.all_sum([0.0 if loss_sum == loss_sum and abs(loss_sum) != float("inf") else 1.0,
                                            1.0 if stopping else 0.0])
            if bad:
                raise NonFiniteLossError(
                    f"loss is {'NaN' if loss_sum != loss_sum else 'not finite'} at epoch {epoch} batch {i}; "
                    f"stopped before updating the weights (lower --lr, or check the data); the last good "
                    f"checkpoint is kept")
            lr = set_learning_rate(trainee.optimizer, schedule, epoch * iters + i + 1)
            trainee.update()
            correct += (logits.argmax(dim=1) == scored).sum()
            totals["loss"] += loss_sum
            totals["scored"] = totals.get("scored", totals["count"]) + scored.numel()
            totals["count"] += len(labels)
            interval_samples += len(labels)
            bar.update(1)
            if recipe.log_interval and (i + 1) % recipe.log_interval == 0:
                speed = interval_samples / max(time.time() - interval_tic, 1e-9)
                log.info(logformat.batch_line(epoch, i, speed, [("loss", totals["loss"] / totals["count"])], lr))
                interval_tic, interval_samples = time.time(), 0
            if stopped:
                signum = stop.signum if stop is not None and stop.signum is not None else 15
                path = on_interrupt(epoch, i + 1, meter_now()) if on_interrupt else None
                raise TrainingInterrupted(signum, epoch, i, path)
    finally:
        bar.close()
    final = meter_now()
    loss, right, count, scored = session.all_sum([final["loss"], final["correct"], final["count"],
                                                  final.get("scored", final["count"])])
    return {"loss": loss / count if count else float("nan"), "accuracy": right / scored if scored else float("nan"),
            "samples": count, "seconds": final["seconds"], "lr": lr}


def evaluate(model: nn.Module, data, config: RunConfig, show_progress: bool = False,
             task: Optional[Any] = None) -> EvalResult:
    """The ``task``'s validation of ``model`` over one in-order pass of ``data`` (classification: top-1/top-5
    error, :func:`afflib_torch.engine.evaluate`); leaves ``model`` in training mode."""
    bar = progress_bar(len(data), "validation", show_progress)
    task = task if task is not None else Classification()
    try:
        return task.evaluate(model, data.batches(0), config, progress=lambda n: bar.update(1))
    finally:
        bar.close()
        model.train()


def fit(trainee: Trainee, train_data, val_data, schedule: LRSchedule, recipe: Recipe,
        checkpoints: CheckpointManager, log: logging.Logger, session: Optional[TorchSession] = None,
        start_epoch: int = 0, start_batch: int = 0, meter: Optional[Dict[str, float]] = None,
        show_progress: bool = False,
        epoch_line: Optional[Callable[[Dict[str, Any]], str]] = None) -> List[Dict[str, Any]]:
    """Train from ``start_epoch`` (batch ``start_batch``) to ``recipe.num_epochs``, checkpointing (``-last``) then
    validating after every epoch (numbered and best checkpoints after validation), as the MXNet engine's ``fit``.

    Logs the original release's lines plus ``epoch_line(record)`` if given; returns the per-epoch history (also
    written to ``history.json``). ``val_data`` None or a session that does not validate: no validation.
    """
    session = session if session is not None else TorchSession(trainee.config.device)
    history = checkpoints.resume_history(start_epoch)
    state = trainee.state

    def save_interrupted(epoch: int, next_batch: int, running: Dict[str, float]) -> Optional[str]:
        state.at(epoch, next_batch, running)
        return checkpoints.save_interrupted(trainee.module, state, epoch, next_batch - 1, {"history": history})

    def validate() -> Optional[EvalResult]:
        # the module itself, not the runner: a DDP wrapper's forward would wait for the other ranks' buffers
        if val_data is None or not session.validates:
            return None
        return evaluate(trainee.module, val_data, trainee.config, show_progress, trainee.task)

    with StopFlag() as stop:
        for epoch in range(start_epoch, recipe.num_epochs):
            first = epoch == start_epoch
            stats = train_epoch(epoch, train_data, trainee, schedule, recipe, log, session, stop, show_progress,
                                save_interrupted, start_batch if first else 0, meter if first else None)
            state.at(epoch + 1, 0)
            close_epoch(epoch, stats, history, checkpoints, trainee.module, state, validate, log, epoch_line)
            session.barrier()
            if stop.signum is not None:  # signal during validation or saving: the epoch is complete and saved
                raise TrainingInterrupted(stop.signum, epoch, schedule.iters_per_epoch - 1, checkpoints.last_good)
    return history
