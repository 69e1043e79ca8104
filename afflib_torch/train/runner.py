"""What the PyTorch training tools do once their flags are parsed: initialise, resume, fit, plot, and exit with a
clear status (the twin of :mod:`afflib.train.runner`; everything framework-free is the core's)."""
from __future__ import annotations

import argparse
import logging
import math
import platform
import random
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from afflib.core.checkpoint_manager import SetWriter
from afflib.core.plot import plot_history
from afflib.core.progress import want_progress
from afflib.core.rundir import RunDir
from afflib.core.runlog import setup_logging
from afflib.core.runrecord import RunRecord, record_entries
from afflib.core.schedule import LRSchedule
from afflib.core.training import Recipe, report_errors

from ..convert import CheckpointMismatch
from ..engine import RunConfig
from .checkpoint import ResumeState, make_checkpoints
from .loop import Trainee, fit
from .optim import make_optimizer
from .session import TorchSession

__all__ = ["seed_everything", "init_weights", "run_config", "make_run_config", "begin_run", "run_training",
           "save_plot", "exit_on_error"]

INITS = ("xavier", "msra")


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators (the network's initialisation)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def init_weights(model: nn.Module, kind: str) -> nn.Module:
    """Initialise convolution and dense weights as the MXNet engine does; biases 0; BatchNorm as built (gamma 1,
    beta 0, or a zero last gamma the network chose).

    ``xavier``: MXNet's ``Xavier(magnitude=2)`` of ``train_cifar``: uniform in ``+-sqrt(2 * 2 / (fan_in +
    fan_out))``; ``msra``: ``MSRAPrelu()`` of ``train_imagenet``: normal with std ``sqrt(2 / 1.0625 / ((fan_in +
    fan_out) / 2))``. Fans as MXNet counts them: ``shape[1] * k * k`` and ``shape[0] * k * k``.
    """
    if kind not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {kind!r}")
    with torch.no_grad():
        for module in model.modules():
            if not isinstance(module, (nn.Conv2d, nn.Linear)):
                continue
            weight = module.weight
            receptive = int(np.prod(weight.shape[2:])) if weight.dim() > 2 else 1
            fans = (weight.shape[1] * receptive + weight.shape[0] * receptive) / 2.0
            if kind == "xavier":
                bound = math.sqrt(2.0 / fans)
                weight.uniform_(-bound, bound)
            else:
                weight.normal_(0.0, math.sqrt(2.0 / (1 + 0.25 ** 2) / fans))
            if module.bias is not None:
                module.bias.zero_()
    return model


def make_run_config(args: argparse.Namespace, session: Optional[TorchSession] = None) -> RunConfig:
    """The :class:`afflib_torch.engine.RunConfig` of ``--device/--dtype/--channels-last/--compile`` (the session's
    device under torchrun); float16 on the CPU is refused with the way out."""
    device = str(session.device) if session is not None and session.world_size > 1 else args.device
    try:
        config = RunConfig.create(device, args.channels_last, args.dtype, args.compile)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"--device {device} --dtype {args.dtype}: {err}") from None
    if args.threads:
        torch.set_num_threads(args.threads)
    return config


def begin_run(args: argparse.Namespace, recipe_lines: Sequence[str],
              session: TorchSession) -> Tuple[logging.Logger, RunConfig]:
    """The start both training tools share: the log (its file opens once everything is checked), the arguments
    and recipe lines, the run config, and the seeds."""
    log = setup_logging(defer_file=True)
    log.info(str(args))
    for line in recipe_lines:
        log.info(line)
    config = make_run_config(args, session)
    seed_everything(args.seed)
    return log, config


def run_config(args: argparse.Namespace, config: RunConfig, model_name: str, session: TorchSession,
               record: Optional[RunRecord] = None) -> Dict[str, Any]:
    """The run's configuration as written to ``run_config.json`` (the MXNet engine's keys, with the device and
    torch versions in place of MXNet's contexts)."""
    out: Dict[str, Any] = dict(record_entries(record)) if record is not None else {}
    out.update({"argv": sys.argv, "args": vars(args), "engine": "torch", "contexts": [str(config.device)],
                "world_size": session.world_size, "dtype": args.dtype, "channels_last": config.channels_last,
                "compile": config.compile, "model": model_name, "torch": torch.__version__,
                "python": platform.python_version(), "host": platform.node()})
    return out


def run_training(model: nn.Module, model_name: str, tag: str, train_data, val_data, config: RunConfig,
                 recipe: Recipe, schedule: LRSchedule, args: argparse.Namespace, log: logging.Logger,
                 save_dir: str, save_frequency: int, best_as_accuracy: bool, session: TorchSession,
                 resume: Optional[ResumeState] = None, run_dir: Optional[RunDir] = None,
                 record: Optional[RunRecord] = None, teacher: Optional[nn.Module] = None,
                 temperature: float = 20.0, hard_weight: float = 0.5, writer: Optional[SetWriter] = None,
                 epoch_line: Optional[Callable[[Dict[str, Any]], str]] = None, task: Optional[Any] = None,
                 optimizer_kind: str = "nag", extra_config: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
    """Optimizer, scaler, checkpoints and the loop for an initialised (or resumed) ``model``; returns the history.

    ``model`` is moved to the device and memory format here; the session wraps it (DDP) and ``--compile``
    compiles the wrapper. The optimizer/scaler states and the position of ``resume`` continue exactly.
    ``task``: :class:`afflib_torch.train.tasks.Classification` (default) or ``Segmentation``; ``optimizer_kind``:
    ``nag`` (the paper's classification recipes), ``sgd`` or ``adagrad`` (:func:`make_optimizer`);
    ``extra_config``: more entries of ``run_config.json`` (a segmentation run's scenes).
    """
    model = model.to(config.device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, schedule.base_lr, args.momentum, args.wd, getattr(args, "no_wd", False),
                               optimizer_kind)
    runner = session.wrap(model)
    runner = torch.compile(runner) if config.compile else runner
    trainee = Trainee(model, runner, optimizer, config, teacher=teacher, temperature=temperature,
                      hard_weight=hard_weight, task=task)
    if resume is not None and resume.saved is not None:
        optimizer.load_state_dict(resume.saved["optimizer"])
        if resume.saved.get("scaler"):
            trainee.scaler.load_state_dict(resume.saved["scaler"])
    checkpoints = make_checkpoints(save_dir, tag, model_name, save_frequency, best_as_accuracy,
                                   writer if writer is not None else session.checkpoint_writer())
    checkpoints.remove_stale_temp(log)
    run_dir = run_dir or RunDir(save_dir)
    checkpoints.write_config(dict(run_config(args, config, model_name, session, record),
                                  **run_dir.config_extra(resume.params if resume else None), **(extra_config or {})),
                            run_dir.config_name)
    if record is not None:
        log.info("model: %s", record.spec.text())
    start_epoch, start_batch = (resume.epoch, resume.batch) if resume is not None else (0, 0)
    if resume is not None:
        log.info("resuming %s from %s at epoch %d batch %d (learning rate %.6f)", model_name, resume.params,
                 start_epoch, start_batch, schedule(start_epoch * schedule.iters_per_epoch + start_batch + 1))
    history = fit(trainee, train_data, val_data, schedule, recipe, checkpoints, log, session, start_epoch,
                  start_batch, resume.meter if resume is not None else None, want_progress(args.no_progress),
                  epoch_line)
    session.finish()
    if checkpoints.best_path:
        log.info("best validation checkpoint: %s", checkpoints.best_path)
    return history


def save_plot(history: List[Dict[str, Any]], path: Optional[str], title: str, log: logging.Logger) -> None:
    """The training-curve PNG (the core's plot); a clear line instead where matplotlib is not installed."""
    if not path or not history:
        return
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        log.info("training curves: not drawn (matplotlib is not installed in this environment: pip install "
                 "matplotlib); the numbers are in history.json")
        return
    log.info("training curves: %s", plot_history(history, path, title))


def exit_on_error(main: Callable[[], Any]) -> None:
    """Run ``main``; bad flags, files or data end with one line on stderr and status 2, a NaN loss with 3, a
    signal with 130/143 (:func:`afflib.core.training.report_errors`)."""
    report_errors(main, (ValueError, OSError, CheckpointMismatch))
