"""The training loop: ``train_epoch``, ``evaluate`` and ``fit``, with explicit arguments (pycls style)."""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from .checkpoint import CheckpointManager
from .devices import split_batch
from .logs import progress_bar
from afflib.core import logformat
from afflib.core.training import NonFiniteLossError, Recipe, StopFlag, TrainingInterrupted, close_epoch
from afflib.core.metrics import EvalResult
from afflib.core.schedule import LRSchedule
from .tasks import Classification

__all__ = ["Recipe", "EvalResult", "NonFiniteLossError", "TrainingInterrupted", "StopFlag", "train_epoch",
           "sync_running_stats", "evaluate", "fit"]


def train_epoch(epoch: int, source: Iterable, net: gluon.Block, loss_fn: gluon.loss.Loss, trainer: gluon.Trainer,
                schedule: LRSchedule, contexts: Sequence[mx.Context], recipe: Recipe, log: logging.Logger,
                teacher: Optional[gluon.Block] = None, stop: Optional[StopFlag] = None,
                show_progress: bool = False, on_interrupt: Optional[Callable[[int, int], Optional[str]]] = None,
                workers: int = 1, task: Optional[Any] = None) -> Dict[str, float]:
    """Train one epoch; returns ``{'loss', 'accuracy', 'samples', 'seconds', 'lr'}``.

    The learning rate of every update comes from ``schedule(global update number)``. A non-finite loss raises
    :class:`NonFiniteLossError` before the update; a signal in ``stop`` calls ``on_interrupt(epoch, batch)``
    (which saves) and raises :class:`TrainingInterrupted`. ``workers``: processes of a distributed run (their
    gradients are summed, so the update is normalised by the global batch). ``task``: what the batches are
    (:mod:`afflib.train.tasks`: classification by default, or segmentation, whose accuracy counts pixels).
    """
    task = task if task is not None else Classification()
    rng = np.random.RandomState(recipe.seed * 100003 + epoch)
    meter = task.meter()
    iters = schedule.iters_per_epoch
    tic = interval_tic = time.time()
    samples = interval_samples = 0
    lr = float("nan")
    bar = progress_bar(len(source), f"epoch {epoch}", show_progress)
    try:
        for i, batch in enumerate(source):
            rows = batch.data.shape[0]
            real = rows - int(batch.pad)
            data, targets, labels = task.targets(batch.data, batch.label, recipe, epoch, rng)
            if batch.pad:  # filler rows repeat real samples: keep shapes static, give them no weight
                targets = task.drop_padding(targets, real, int(batch.pad))
            parts = [x.astype(recipe.dtype, copy=False) for x in split_batch(data, contexts)]
            target_parts = split_batch(targets, contexts)
            teacher_out = [teacher(x) for x in parts] if teacher is not None else None
            with autograd.record():
                outputs = [net(x).astype("float32", copy=False) for x in parts]
                if teacher_out is None:
                    losses = [loss_fn(o, t) for o, t in zip(outputs, target_parts)]
                else:
                    losses = [loss_fn(o, t, s.astype("float32", copy=False))
                              for o, t, s in zip(outputs, target_parts, teacher_out)]
            autograd.backward(losses)
            loss_values = np.concatenate([l.asnumpy() for l in losses])
            if not np.isfinite(loss_values).all():
                raise NonFiniteLossError(
                    f"loss is {'NaN' if np.isnan(loss_values).any() else 'infinite'} at epoch {epoch} batch {i}; "
                    f"stopped before updating the weights (lower --lr, or check the data); the last good "
                    f"checkpoint is kept")
            lr = schedule(epoch * iters + i + 1)
            trainer.set_learning_rate(lr)
            trainer.step(rows * workers)
            logits = np.concatenate([o.asnumpy() for o in outputs])[:real]
            meter.update(loss_values[:real], logits, labels.asnumpy()[:real])
            samples += real
            interval_samples += real
            bar.update(1)
            if recipe.log_interval and (i + 1) % recipe.log_interval == 0:
                speed = interval_samples / max(time.time() - interval_tic, 1e-9)
                log.info(logformat.batch_line(epoch, i, speed, [("loss", meter.get()[0])], lr))
                interval_tic, interval_samples = time.time(), 0
            if stop is not None and stop.signum is not None:
                path = on_interrupt(epoch, i) if on_interrupt else None
                raise TrainingInterrupted(stop.signum, epoch, i, path)
    finally:
        bar.close()
    loss, accuracy = meter.get()
    return {"loss": loss, "accuracy": accuracy, "samples": samples, "seconds": time.time() - tic, "lr": lr}


def sync_running_stats(net: gluon.Block) -> None:
    """Average BatchNorm running statistics over the devices (each saw only its share of the batches), so that
    validation on several devices and a saved checkpoint (which stores the average) give the same numbers."""
    for param in net.collect_params().values():
        if param.grad_req == "null" and param._data is not None and len(param.list_ctx()) > 1:
            copies = param.list_data()
            mean = mx.nd.add_n(*[c.as_in_context(copies[0].context) for c in copies]) / len(copies)
            for copy in copies:  # in place: Parameter.set_data would make the Trainer re-initialise its KVStore
                mean.copyto(copy)


def evaluate(net: gluon.Block, source: Iterable, contexts: Sequence[mx.Context], dtype: str = "float32",
             show_progress: bool = False, task: Optional[Any] = None) -> EvalResult:
    """The ``task``'s validation of ``net`` over one pass of ``source`` (filler rows dropped); classification
    (the default): top-1/top-5 error."""
    task = task if task is not None else Classification()
    return task.evaluate(net, source, contexts, dtype, show_progress)


def fit(net: gluon.Block, trainer: gluon.Trainer, train_source, val_source, contexts: Sequence[mx.Context],
        schedule: LRSchedule, recipe: Recipe, loss_fn: gluon.loss.Loss, checkpoints: CheckpointManager,
        log: logging.Logger, start_epoch: int = 0, teacher: Optional[gluon.Block] = None,
        show_progress: bool = False, epoch_line: Optional[Callable[[Dict[str, Any]], str]] = None,
        workers: int = 1, task: Optional[Any] = None) -> List[Dict[str, Any]]:
    """Train from ``start_epoch`` to ``recipe.num_epochs``, checkpointing (``-last``) then validating after every
    epoch (numbered and best checkpoints after validation).

    Logs the original release's lines (``[Epoch N] training: ...``, ``[Epoch N] speed: ...``,
    ``[Epoch N] validation: err-top1=... err-top5=...``) plus ``epoch_line(record)`` if given.
    Returns the per-epoch history (also written to ``history.json``). ``task``: :mod:`afflib.train.tasks`
    (classification by default; a segmentation's validation logs ``mIoU=.. pixAcc=..``).
    """
    history = checkpoints.resume_history(start_epoch)

    def save_interrupted(epoch: int, batch: int) -> Optional[str]:
        sync_running_stats(net)
        return checkpoints.save_interrupted(net, trainer, epoch, batch, {"history": history})

    with StopFlag() as stop:
        for epoch in range(start_epoch, recipe.num_epochs):
            stats = train_epoch(epoch, train_source, net, loss_fn, trainer, schedule, contexts, recipe, log,
                                teacher=teacher, stop=stop, show_progress=show_progress,
                                on_interrupt=save_interrupted, workers=workers, task=task)
            sync_running_stats(net)
            close_epoch(epoch, stats, history, checkpoints, net, trainer,
                        lambda: evaluate(net, val_source, contexts, recipe.dtype, show_progress, task)
                        if val_source is not None else None, log, epoch_line)
            if stop.signum is not None:  # signal during validation or saving: the epoch is complete and saved
                raise TrainingInterrupted(stop.signum, epoch, schedule.iters_per_epoch - 1,
                                          checkpoints.last_good)
    return history
