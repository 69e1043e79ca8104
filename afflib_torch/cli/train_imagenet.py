"""Train an AFF network on ImageNet with PyTorch: the MXNet engine's ``train_imagenet`` flags, recipes, log lines,
run folder and checkpoints (``scripts/train_imagenet.py --engine torch``); one GPU per process, several through
torchrun (docs/distributed.md). Example::

    torchrun --nproc_per_node 8 scripts/train_imagenet.py --engine torch --recipe imagenet_aff_resnet50 \\
        --use-rec --dtype bfloat16 --channels-last --compile -j 8
"""
from __future__ import annotations

import argparse
import os

from afflib.core.modelspec import ModelSpec
from afflib.core.rundir import output_folder
from afflib.core.runlog import open_run
from afflib.core.runrecord import RunRecord
from afflib.core.schedule import LRSchedule
from afflib.core.trainflags import imagenet_model, parse_training
from afflib.core.training import Recipe

from ..registry import get_model
from ..train.checkpoint import load_resume_state
from ..train.runner import begin_run, exit_on_error, init_weights, run_training
from .imagenet_source import train_data, val_data

from ..train.distributed import make_session


def refuse_unsupported(args: argparse.Namespace) -> None:
    for flag in ("batch_norm", "use_se", "use_gn"):
        if getattr(args, flag):
            raise ValueError(f"--{flag.replace('_', '-')} belongs to other GluonCV models; AFF networks don't have it")
    if args.resume_states:
        raise ValueError("--resume-states: the PyTorch engine keeps optimizer states in the .pt beside "
                         "--resume-params; drop --resume-states")


def main(argv=None) -> None:
    args, recipe_use = parse_training("train_imagenet", argv, "torch")
    refuse_unsupported(args)
    session = make_session(args)
    log, config = begin_run(args, recipe_use.lines(), session)
    name, kwargs = imagenet_model(args)
    spec = ModelSpec.create(name, **kwargs)
    name = spec.tag()
    folder = output_folder(args.save_dir, name, "imagenet", args.resume_params or None)
    log_file = os.path.join(folder, "train_imagenet.log") if args.logging_file is None else args.logging_file
    pretrained = args.use_pretrained and not args.resume_params
    model = get_model(spec.name, pretrained=True if pretrained else None, **spec.kwargs)
    if not pretrained:
        init_weights(model, "msra")
    if args.summary:
        log.info("%s", model)
    resume = load_resume_state(args.resume_params, model, args.resume_epoch, log) if args.resume_params else None
    teacher = None
    if args.teacher:
        teacher = get_model(args.teacher, pretrained=args.teacher_params or True, classes=args.classes)
        teacher = teacher.to(config.device).eval()
    train = train_data(args, args.batch_size, session.shard, config.device)
    val = val_data(args, args.batch_size, config.device, getattr(train, "classes", None))
    recipe = Recipe(num_epochs=args.num_epochs, classes=args.classes,
                    label_smoothing=0.1 if args.label_smoothing else 0.0, mixup=args.mixup,
                    mixup_alpha=args.mixup_alpha, mixup_off_epoch=args.mixup_off_epoch,
                    log_interval=args.log_interval, dtype=args.dtype, seed=args.seed)
    schedule = LRSchedule(args.lr_mode, args.lr, args.num_epochs, len(train), args.warmup_epochs, args.warmup_lr,
                          step_epochs=[int(e) for e in args.lr_decay_epoch.split(",") if e.strip()],
                          step_factor=args.lr_decay, step_period=args.lr_decay_period, power=2.0)
    run_dir = open_run(log, folder, args, name, args.resume_params or None, log_file, None, session.is_chief)
    run_training(model, name, "imagenet", train, val, config, recipe, schedule, args, log, folder,
                 args.save_frequency, False, session, resume, run_dir,
                 RunRecord(spec, "imagenet", args.classes, 3, input_size=args.input_size, crop_ratio=args.crop_ratio,
                           recipe=getattr(args, "recipe", None)),
                 teacher=teacher, temperature=args.temperature, hard_weight=args.hard_weight)


def run() -> None:
    """Console entry (``afflib-train-imagenet --engine torch``): clear errors and exit codes."""
    exit_on_error(main)


if __name__ == "__main__":
    run()
