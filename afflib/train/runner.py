"""What both training scripts do once their flags are parsed: build, resume, fit, and exit with a clear status.

The scripts own their flag names (the original release's) and their data; everything else is here, once.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence

import mxnet as mx
import numpy as np
from mxnet import gluon

from afflib.distributed.session import DistSession
from afflib.distributed.worker import exit_hard_on_failure

from .checkpoint import ResumePoint
from .logs import want_progress
from .loop import NonFiniteLossError, Recipe, TrainingInterrupted, fit
from .losses import make_loss
from .optim import make_trainer
from .params_check import ParamsMismatchError, load_checked
from .schedule import LRSchedule

__all__ = ["add_engine_flags", "seed_everything", "prepare_net", "run_training", "exit_on_error", "run_config"]

EXIT_INTERRUPTED = {2: 130, 15: 143}  # shell convention: 128 + signal number


def add_engine_flags(parser: argparse.ArgumentParser) -> None:
    """Flags both training scripts add to the original ones (same names in both)."""
    group = parser.add_argument_group("afflib additions")
    group.add_argument("--cpus", type=int, default=0,
                       help="train on N CPU contexts (data parallelism without GPUs); default: one CPU if no GPU flag")
    group.add_argument("--kvstore", type=str, default="local",
                       help="KVStore for gradient aggregation: local, device, nccl, dist_sync, ... (default local)")
    group.add_argument("--seed", type=int, default=0, help="random seed of initialisation, shuffling and mixup")
    group.add_argument("--no-progress", action="store_true", help="no progress bars (they only show on a terminal)")
    group.add_argument("--model-name", type=str, default="",
                       help="any afflib registry model (afflib.get_model_list()); overrides --model/--askc-type/...")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)


def run_config(args: argparse.Namespace, contexts: Sequence[mx.Context], dtype: str, model_name: str,
               model_spec: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The run's configuration as written to ``run_config.json`` beside its outputs; ``model_spec``
    (:func:`afflib.runrecord.spec_record`) lets every tool rebuild the network from the run's checkpoint alone."""
    config = {"argv": sys.argv, "args": vars(args), "contexts": [str(c) for c in contexts], "dtype": dtype,
              "model": model_name, "mxnet": mx.__version__, "python": platform.python_version(),
              "host": platform.node()}
    if model_spec is not None:
        config["model_spec"] = model_spec
    return config


def prepare_net(net: gluon.HybridBlock, contexts: Sequence[mx.Context], dtype: str, init: mx.init.Initializer,
                resume: Optional[ResumePoint] = None, hybrid: bool = True, model_name: str = "the model",
                pretrained: bool = False) -> None:
    """Initialise (or load the resume weights), cast and hybridize ``net`` in place.

    ``pretrained``: ``net`` already holds weights (``get_model(..., pretrained=True)``); only move them.
    """
    if pretrained:
        net.collect_params().reset_ctx(list(contexts))
    else:
        net.initialize(init, ctx=list(contexts))
    if resume is not None:
        load_checked(net, resume.params, ctx=list(contexts), model_name=model_name)
    if dtype != "float32":
        net.cast(dtype)
    if hybrid:
        net.hybridize(static_alloc=True, static_shape=True)


def run_training(net: gluon.HybridBlock, model_name: str, tag: str, train_source, val_source,
                 contexts: Sequence[mx.Context], recipe: Recipe, schedule: LRSchedule, args: argparse.Namespace,
                 log: logging.Logger, save_dir: str, save_frequency: int, best_as_accuracy: bool, kvstore: Any,
                 resume: Optional[ResumePoint] = None, teacher: Optional[gluon.Block] = None,
                 temperature: float = 20.0, hard_weight: float = 0.5,
                 epoch_line: Optional[Callable[[Dict[str, Any]], str]] = None,
                 model_spec: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
    """Trainer, loss, checkpoints and the loop for an initialised ``net``; returns the history.

    ``model_name`` names the checkpoint files; ``model_spec`` (:func:`afflib.runrecord.spec_record`) is recorded
    in ``run_config.json`` and logged.

    ``kvstore`` comes from :func:`afflib.train.make_kvstore`. In distributed mode (``dist_*``) the
    :class:`afflib.distributed.DistSession` of the run decides what differs: only worker 0 validates and writes
    checkpoints (with the servers' optimizer states, so dist runs resume exactly), the schedule runs on the servers.
    """
    dist = DistSession(kvstore)
    trainer = make_trainer(net, lr=schedule.base_lr, momentum=args.momentum, wd=args.wd, no_wd=args.no_wd,
                           dtype=recipe.dtype, optimizer="nag", kvstore=kvstore)
    if dist.active:
        dist.prepare_trainer(trainer, schedule, train_source.batch_size, resume.start_epoch if resume else 0,
                             resume.states if resume else None)
        val_source = dist.validation_source(val_source)
    elif resume is not None and resume.states:
        trainer.load_states(resume.states)
    checkpoints = dist.checkpoint_manager(save_dir, tag, model_name, save_frequency, best_as_accuracy)
    checkpoints.write_config(run_config(args, contexts, recipe.dtype, model_name, model_spec))
    if model_spec is not None:
        log.info("model: %s", model_spec["text"])
    start = resume.start_epoch if resume is not None else 0
    if resume is not None:
        log.info("resuming %s from %s at epoch %d (learning rate %.6f)", model_name, resume.params, start,
                 schedule(start * schedule.iters_per_epoch + 1))
    loss_fn = make_loss(teacher is not None, temperature, hard_weight)
    history = fit(net, trainer, train_source, val_source, contexts, schedule, recipe, loss_fn, checkpoints, log,
                  start_epoch=start, teacher=teacher, show_progress=want_progress(args.no_progress),
                  epoch_line=epoch_line, workers=dist.num_workers)
    dist.finish(net, log)
    if checkpoints.best_path:
        log.info("best validation checkpoint: %s", checkpoints.best_path)
    return history


def exit_on_error(main: Callable[[], Any]) -> None:
    """Run ``main``; turn the engine's expected failures into one clear line on stderr and an exit status.

    A failing worker of a dist_* job ends at once (MXNet's kvstore shutdown would wait for the other workers).
    """
    exit_hard_on_failure(lambda: _report_errors(main), always=False)


def _report_errors(main: Callable[[], Any]) -> None:
    try:
        main()
    except TrainingInterrupted as err:
        print(f"interrupted: {err}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED.get(err.signum, 1))
    except NonFiniteLossError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(3)
    except ModuleNotFoundError as err:
        if not (err.name or "").startswith("afflib"):
            raise
        print(f"error: this afflib checkout lacks {err.name} (needed for released weights / this data set)",
              file=sys.stderr)
        sys.exit(2)
    except (ValueError, OSError, RuntimeError, ParamsMismatchError) as err:
        if isinstance(err, mx.base.MXNetError):
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
