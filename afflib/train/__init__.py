"""The one training engine of afflib, shared by the ImageNet and the CIFAR/Fashion-MNIST scripts.

Small modules with explicit arguments: devices (:mod:`.devices`), optimizer (:mod:`.optim`), losses
(:mod:`.losses`), checkpoints (:mod:`.checkpoint`; who writes them: :class:`CheckpointWriter`), the run's
session (:mod:`.session`: one process; ``afflib.distributed`` adds a job's), a network built and made ready
(:mod:`.nets`), logging and progress (:mod:`.logs`), the loop (:mod:`.loop`) and the check of a ``.params``
file against a model (:mod:`.params_check`). Schedules and metrics are framework-free (:mod:`afflib.core`).
"""
from .checkpoint import CheckpointManager, CheckpointWriter, ResumePoint, atomic_write, find_resume_point
from .devices import make_kvstore, resolve_dtype, select_contexts
from .logs import setup_logging
from .loop import EvalResult, NonFiniteLossError, Recipe, TrainingInterrupted, evaluate, fit, train_epoch
from .losses import DistillationLoss, SoftTargetLoss
from afflib.core.metrics import RunningLoss, TopKErrors
from .nets import build_net, ready_net
from .optim import make_trainer
from .params_check import ParamsMismatchError, check_params_fit, load_checked
from .session import LocalSession
from afflib.core.schedule import LRSchedule

__all__ = ["CheckpointManager", "CheckpointWriter", "LocalSession", "build_net", "ready_net", "ResumePoint",
           "atomic_write", "find_resume_point", "make_kvstore", "resolve_dtype", "select_contexts", "setup_logging", "EvalResult", "NonFiniteLossError", "Recipe",
           "TrainingInterrupted", "evaluate", "fit", "train_epoch", "DistillationLoss", "SoftTargetLoss",
           "RunningLoss", "TopKErrors", "make_trainer", "ParamsMismatchError", "check_params_fit",
           "load_checked", "LRSchedule"]
