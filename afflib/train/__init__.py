"""The one training engine of afflib, shared by the ImageNet and the CIFAR/Fashion-MNIST scripts.

Small modules with explicit arguments: devices (:mod:`.devices`), learning-rate schedules (:mod:`.schedule`),
optimizer (:mod:`.optim`), losses (:mod:`.losses`), metrics (:mod:`.metrics`), checkpoints
(:mod:`.checkpoint`), logging and progress (:mod:`.logs`), the loop (:mod:`.loop`) and the check of a
``.params`` file against a model (:mod:`.params_check`).
"""
from .checkpoint import CheckpointManager, ResumePoint, atomic_write, find_resume_point
from .devices import make_kvstore, resolve_dtype, select_contexts
from .logs import setup_logging
from .loop import EvalResult, NonFiniteLossError, Recipe, TrainingInterrupted, evaluate, fit, train_epoch
from .losses import DistillationLoss, SoftTargetLoss
from afflib.core.metrics import RunningLoss, TopKErrors
from .optim import make_trainer
from .params_check import ParamsMismatchError, check_params_fit, load_checked
from afflib.core.schedule import LRSchedule

__all__ = ["CheckpointManager", "ResumePoint", "atomic_write", "find_resume_point", "make_kvstore",
           "resolve_dtype", "select_contexts", "setup_logging", "EvalResult", "NonFiniteLossError", "Recipe",
           "TrainingInterrupted", "evaluate", "fit", "train_epoch", "DistillationLoss", "SoftTargetLoss",
           "RunningLoss", "TopKErrors", "make_trainer", "ParamsMismatchError", "check_params_fit",
           "load_checked", "LRSchedule"]
