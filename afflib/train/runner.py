"""What both training scripts do once their flags are parsed: build, resume, fit, and exit with a clear status.

The scripts own their flag names (the original release's) and their data; everything else is here, once.
"""
from __future__ import annotations

import argparse
import logging
import platform
import random
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence

import mxnet as mx
import numpy as np
from mxnet import gluon

from afflib.core.jobs import exit_hard_on_failure, is_distributed
from afflib.core.rundir import RunDir
from afflib.core.runlog import open_run
from afflib.core.runrecord import RunRecord, record_entries
from afflib.core.schedule import LRSchedule

from .checkpoint import CheckpointManager, ResumePoint
from afflib.core.training import report_errors
from .logs import want_progress
from .loop import NonFiniteLossError, Recipe, TrainingInterrupted, fit
from .nets import ready_net
from .optim import make_trainer
from .params_check import ParamsMismatchError
from .session import LocalSession
from .tasks import Classification

__all__ = ["seed_everything", "prepare_net", "start_outputs", "run_training", "exit_on_error",
           "run_config"]

def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)


def run_config(args: argparse.Namespace, contexts: Sequence[mx.Context], dtype: str, model_name: str,
               record: Optional[RunRecord] = None) -> Dict[str, Any]:
    """The run's configuration as written to ``run_config.json`` beside its outputs.

    ``record`` (network as registry name + kwargs, dataset, recipe; :func:`afflib.core.runrecord.record_entries`)
    lets every tool rebuild the network from the run's checkpoint alone. ``args`` is a flat copy of the command
    line for people and for the resume check of :mod:`afflib.core.rundir`; no tool builds a network from it.
    ``model`` is the name in the checkpoint files (``model_name``).
    """
    config: Dict[str, Any] = dict(record_entries(record)) if record is not None else {}
    config.update({"argv": sys.argv, "args": vars(args), "contexts": [str(c) for c in contexts], "dtype": dtype,
                   "model": model_name, "mxnet": mx.__version__, "python": platform.python_version(),
                   "host": platform.node()})
    return config


def prepare_net(net: gluon.HybridBlock, contexts: Sequence[mx.Context], dtype: str, init: mx.init.Initializer,
                resume: Optional[ResumePoint] = None, hybrid: bool = True, model_name: str = "the model",
                pretrained: bool = False) -> None:
    """Initialise (or load the resume weights), cast and hybridize ``net`` in place (:func:`afflib.train.ready_net`).

    ``pretrained``: ``net`` already holds weights (``get_model(..., pretrained=True)``); only move them.
    """
    ready_net(net, contexts, resume.params if resume is not None else None, pretrained, init, dtype, hybrid,
              model_name=model_name)


def start_outputs(log: logging.Logger, session: LocalSession, folder: str, args: argparse.Namespace, model_name: str,
                  resume_params: Optional[str], log_file: Optional[str], plot_file: Optional[str]) -> RunDir:
    """The run's first writes, once its arguments and inputs are validated: claim ``folder`` (rank 0 checks it is
    not another run's, and that a resume keeps the recipe; see :mod:`afflib.core.rundir`), then open the log."""
    return open_run(log, folder, args, model_name, resume_params, log_file, plot_file, session.is_chief,
                    session.log_file(log_file))


def run_training(net: gluon.HybridBlock, model_name: str, tag: str, train_source, val_source,
                 contexts: Sequence[mx.Context], recipe: Recipe, schedule: LRSchedule, args: argparse.Namespace,
                 log: logging.Logger, save_dir: str, save_frequency: int, best_as_accuracy: bool, kvstore: Any,
                 resume: Optional[ResumePoint] = None, teacher: Optional[gluon.Block] = None,
                 temperature: float = 20.0, hard_weight: float = 0.5,
                 epoch_line: Optional[Callable[[Dict[str, Any]], str]] = None,
                 run_dir: Optional[RunDir] = None, record: Optional[RunRecord] = None,
                 session: Optional[LocalSession] = None, task: Optional[Any] = None, optimizer_kind: str = "nag",
                 extra_config: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
    """Trainer, loss, checkpoints and the loop for an initialised ``net``; returns the history.

    ``model_name`` names the checkpoint files; ``record`` (network, dataset, recipe) is written into
    ``run_config.json`` and its network logged.

    ``kvstore`` comes from :func:`afflib.train.make_kvstore`. ``session`` says what differs for this process
    (:class:`afflib.train.session.LocalSession` by default; a ``dist_*`` store needs the job's
    ``afflib.distributed.DistSession``: only worker 0 validates and writes checkpoints, with the servers'
    optimizer states, and the schedule runs on the servers).

    ``task``: :class:`afflib.train.tasks.Classification` (default) or ``Segmentation`` (its loss and validation);
    ``optimizer_kind``: ``nag`` (the paper's classification recipes), ``sgd`` or ``adagrad``
    (:func:`afflib.train.make_trainer`); ``extra_config``: more entries of ``run_config.json`` (a segmentation
    run's scenes).
    """
    session = session if session is not None else LocalSession()
    if is_distributed(kvstore) and not session.active:
        raise ValueError(f"a {getattr(kvstore, 'type', kvstore)} kvstore trains as one worker of a job: pass its "
                         f"session, afflib.distributed.DistSession(kvstore), to run_training")
    trainer = make_trainer(net, lr=schedule.base_lr, momentum=args.momentum, wd=args.wd, no_wd=args.no_wd,
                           dtype=recipe.dtype, optimizer=optimizer_kind, kvstore=kvstore)
    session.prepare_trainer(trainer, schedule, train_source.batch_size, resume.start_epoch if resume else 0,
                            resume.states if resume else None)
    val_source = session.validation_source(val_source)
    checkpoints = CheckpointManager(save_dir, tag, model_name, save_frequency, best_as_accuracy,
                                    writer=session.checkpoint_writer())
    checkpoints.remove_stale_temp(log)
    run_dir = run_dir or RunDir(save_dir)
    checkpoints.write_config(dict(run_config(args, contexts, recipe.dtype, model_name, record),
                                  **run_dir.config_extra(resume.params if resume else None), **(extra_config or {})),
                            run_dir.config_name)
    if record is not None:
        log.info("model: %s", record.spec.text())
    start = resume.start_epoch if resume is not None else 0
    if resume is not None:
        log.info("resuming %s from %s at epoch %d (learning rate %.6f)", model_name, resume.params, start,
                 schedule(start * schedule.iters_per_epoch + 1))
    task = task if task is not None else Classification()
    loss_fn = task.loss(teacher is not None, temperature, hard_weight)
    history = fit(net, trainer, train_source, val_source, contexts, schedule, recipe, loss_fn, checkpoints, log,
                  start_epoch=start, teacher=teacher, show_progress=want_progress(args.no_progress),
                  epoch_line=epoch_line, workers=session.num_workers, task=task)
    session.finish(net, log)
    if checkpoints.best_path:
        log.info("best validation checkpoint: %s", checkpoints.best_path)
    return history


def exit_on_error(main: Callable[[], Any]) -> None:
    """Run ``main``; turn the engine's expected failures into one clear line on stderr and an exit status
    (:func:`afflib.core.training.report_errors`; MXNet's own errors keep their traceback).

    A failing worker of a dist_* job ends at once (MXNet's kvstore shutdown would wait for the other workers).
    """
    exit_hard_on_failure(lambda: report_errors(main, (ValueError, OSError, RuntimeError, ParamsMismatchError),
                                               bugs=(mx.base.MXNetError,)), always=False)
