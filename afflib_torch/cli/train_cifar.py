"""Train a CIFAR-style AFF network on CIFAR-10, CIFAR-100 (fine or coarse labels) or Fashion-MNIST with PyTorch.

The same flags, recipes, log lines, run folder, checkpoints (``.params`` in MXNet's format + ``.pt``) and exit
codes as the MXNet engine's ``afflib.cli.train_cifar``; chosen by ``scripts/train_cifar.py --engine torch``.
Example (the demo recipe, on the CPU)::

    .venv-torch/bin/python -m afflib_torch.cli.train_cifar --recipe demo --batch-size 128 --save-dir runs/fm

``--resume-from RUN/...-last.params`` continues exactly where the run stopped (mid-epoch after a signal).
"""
from __future__ import annotations

import argparse
import os

from afflib.core.datasets import SMALL_IMAGE_DATASETS
from afflib.core.logformat import cifar_record_line, final_accuracy_line
from afflib.core.modelspec import ModelSpec, cifar_spec
from afflib.core.rundir import output_folder
from afflib.core.runlog import open_run
from afflib.core.runrecord import RunRecord
from afflib.core.schedule import LRSchedule
from afflib.core.trainflags import parse_training
from afflib.core.training import Recipe

from ..registry import get_model
from ..train.checkpoint import load_resume_state
from ..train.runner import begin_run, exit_on_error, init_weights, run_training, save_plot
from ..train.smalldata import small_image_data

from ..train.distributed import make_session


def model_spec(args: argparse.Namespace, classes: int, channels: int) -> ModelSpec:
    """The network of ``--model-name`` or of the original ``--model/--blocks/...`` flags."""
    if args.model_name:
        return ModelSpec.create(args.model_name, classes=classes, in_channels=channels)
    return cifar_spec(args.model, args.askc_type, args.blocks, args.channel_times, args.start_layer, classes,
                      channels, args.deep_stem)


def refuse_unsupported(args: argparse.Namespace) -> None:
    """Flags of the release this engine does not run, refused with the reason (exit 2)."""
    if args.drop_rate:
        raise ValueError("--drop-rate: the CIFAR AFF networks have no dropout; use 0")
    if args.auto_aug and args.dataset == "fashion-mnist":
        raise ValueError("--auto_aug: there is no Fashion-MNIST AutoAugment policy (CIFAR-10/100 only)")


def run() -> None:
    """Console entry (``afflib-train-cifar --engine torch``): clear errors and exit codes."""
    exit_on_error(main)


def main(argv=None) -> None:
    args, recipe_use = parse_training("train_cifar", argv, "torch")
    refuse_unsupported(args)
    if args.dataset not in SMALL_IMAGE_DATASETS:
        raise ValueError(f"--dataset must be one of {', '.join(SMALL_IMAGE_DATASETS)}, got {args.dataset!r}")
    if args.coarse_labels and args.dataset != "cifar100":
        raise ValueError(f"--coarse-labels only applies to cifar100 (20 superclasses), not {args.dataset}")
    classes, channels = SMALL_IMAGE_DATASETS[args.dataset]
    classes = 20 if args.coarse_labels else classes
    spec = model_spec(args, classes, channels)
    name = spec.tag()
    labels = "-coarse" if args.coarse_labels else ""
    run_tag = args.dataset + labels
    folder = output_folder(args.save_dir, name, run_tag, args.resume_from)
    log_dir = folder if args.logging_dir is None else args.logging_dir
    log_file = os.path.join(log_dir, f"train_{run_tag}-{name}.log") if log_dir else None
    plot_dir = folder if args.save_plot_dir is None else args.save_plot_dir
    plot_file = os.path.join(plot_dir, f"{run_tag}-{name}.png") if plot_dir else None

    session = make_session(args)
    log, config = begin_run(args, recipe_use.lines(), session)
    model = init_weights(get_model(spec.text()), "xavier")
    if args.summary:
        log.info("%s", model)
    resume = load_resume_state(args.resume_from, model, args.resume_epoch, log) if args.resume_from else None
    data = dict(data_dir=args.data_dir, coarse_labels=args.coarse_labels, seed=args.seed)
    train = small_image_data(args.dataset, True, args.batch_size, shard=session.shard, limit=args.train_size,
                             auto_augment=args.auto_aug, **data)
    val = small_image_data(args.dataset, False, args.batch_size, **data)
    recipe = Recipe(num_epochs=args.num_epochs, classes=classes, label_smoothing=0.1 if args.label_smoothing else 0.0,
                    mixup=args.mixup, mixup_alpha=args.mixup_alpha, mixup_off_epoch=args.mixup_off_epoch,
                    log_interval=args.log_interval, dtype=args.dtype, seed=args.seed)
    schedule = LRSchedule("cosine" if args.cosine else "step", args.lr, args.num_epochs, len(train),
                          args.warmup_epochs, args.warmup_lr,
                          step_epochs=[int(e) for e in args.lr_decay_epoch.split(",") if e.strip()],
                          step_factor=args.lr_decay, step_period=args.lr_decay_period)
    run_dir = open_run(log, folder, args, name, args.resume_from, log_file, plot_file, session.is_chief)
    history = run_training(model, name, run_tag, train, val, config, recipe, schedule, args, log, folder,
                           args.save_period, True, session, resume, run_dir,
                           RunRecord(spec, args.dataset, classes, channels, coarse_labels=args.coarse_labels,
                                     recipe=getattr(args, "recipe", None)), epoch_line=cifar_record_line)
    if session.is_chief:
        save_plot(history, plot_file, f"{spec.text()} on {run_tag}", log)
    if final_accuracy_line(history):
        log.info(final_accuracy_line(history))


if __name__ == "__main__":
    run()
