"""Train a CIFAR-style AFF network on CIFAR-10, CIFAR-100 (fine or coarse labels) or Fashion-MNIST.

The release's runs are recipes (``--recipe NAME``; the files are ``afflib/core/recipes/*.json``, their exact
settings; ``cmd_scripts.txt`` lists one command per run). Example, the release's AFF-ResNet-32 on the 20 CIFAR-100
superclasses the paper reports::

    .venv/bin/python scripts/train_cifar.py --recipe cifar100_coarse_aff_resnet32 --gpus 0,1,2,3 -j 16

Flags given next to ``--recipe`` override its values (the log names each override).
"""
import argparse
import os
from typing import Tuple

import mxnet as mx

from afflib.train import (LRSchedule, Recipe, find_resume_point, make_kvstore, resolve_dtype,
                          select_contexts, setup_logging)
from afflib.core.runrecord import RunRecord
from afflib.train.cifar import cifar_model, dataset_classes, registry_model, small_image_source
from afflib.train.plot import plot_history
from afflib.core.rundir import output_folder
from afflib.distributed import DistSession
from afflib.core.flagtable import RecipeUse
from afflib.core.trainflags import parse_training, train_cifar_parser
from afflib.core.logformat import cifar_epoch_line
from afflib.train.runner import (exit_on_error, prepare_net, run_training,
                                 seed_everything, start_outputs)


def make_arg_parser() -> argparse.ArgumentParser:
    """The flags both engines read (:func:`afflib.core.trainflags.train_cifar_parser`)."""
    return train_cifar_parser()


def parse_cli(argv=None) -> Tuple[argparse.Namespace, RecipeUse]:
    """The flags over the defaults of ``--recipe`` (if given), and which of the recipe's values they override;
    PyTorch-engine flags refused."""
    return parse_training("train_cifar", argv, "mxnet")


def parse_args(argv=None) -> argparse.Namespace:
    return parse_cli(argv)[0]


def build_model(args, classes: int, channels: int):
    """(network, model spec) of --model-name (explicit flags that contradict it were refused while parsing) or of
    the original --model/--blocks/... flags."""
    if args.model_name:
        return registry_model(args.model_name, classes, channels)
    return cifar_model(args.model, args.askc_type, args.blocks, args.channel_times, args.start_layer, classes,
                       channels, args.deep_stem)


def main(argv=None) -> None:
    args, recipe_use = parse_cli(argv)
    if args.drop_rate:
        raise ValueError("--drop-rate: the CIFAR AFF networks have no dropout; use 0")
    if args.mode not in ("hybrid", "imperative"):
        raise ValueError(f"--mode must be hybrid or imperative, got {args.mode!r}")
    classes, channels = dataset_classes(args.dataset, args.coarse_labels)
    contexts = select_contexts(args.gpus, args.num_gpus, args.cpus)
    net, spec = build_model(args, classes, channels)
    name = spec.tag()                                   # in file names; spec.text() is what tools print and accept
    labels = "-coarse" if args.coarse_labels else ""
    folder = output_folder(args.save_dir, name, args.dataset + labels, args.resume_from)
    log_dir = folder if args.logging_dir is None else args.logging_dir
    log_file = os.path.join(log_dir, f"train_{args.dataset}{labels}-{name}.log") if log_dir else None
    plot_dir = folder if args.save_plot_dir is None else args.save_plot_dir
    plot_file = os.path.join(plot_dir, f"{args.dataset}{labels}-{name}.png") if plot_dir else None
    kvstore = make_kvstore(args.kvstore, contexts)     # a dist_* store joins the job: rank 0 alone writes the log
    dist = DistSession(kvstore)
    log = dist.configure_logging(setup_logging(defer_file=True))   # the file opens once everything is checked
    log.info(str(args))
    for line in recipe_use.lines():
        log.info(line)
    dtype = resolve_dtype(args.dtype, contexts, log)
    seed_everything(args.seed)
    if args.summary:
        net.initialize()
        size = 28 if args.dataset == "fashion-mnist" else 32
        net.summary(mx.nd.zeros((1, channels, size, size)))
        net, spec = build_model(args, classes, channels)
    resume = find_resume_point(args.resume_from, "", args.resume_epoch) if args.resume_from else None
    prepare_net(net, contexts, dtype, mx.init.Xavier(magnitude=2), resume, args.mode == "hybrid", spec.text())
    batch_size = args.batch_size * len(contexts)
    num_parts, part_index = dist.shard
    common = dict(batch_size=batch_size, data_dir=args.data_dir, rec_dir=args.rec_dir,
                  coarse_labels=args.coarse_labels, num_workers=args.num_workers, seed=args.seed, log=log)
    train = small_image_source(args.dataset, True, auto_augment=args.auto_aug, num_parts=num_parts,
                               part_index=part_index, **common)
    val = small_image_source(args.dataset, False, **common)
    recipe = Recipe(num_epochs=args.num_epochs, classes=classes, label_smoothing=0.1 if args.label_smoothing else 0.0,
                    mixup=args.mixup, mixup_alpha=args.mixup_alpha, mixup_off_epoch=args.mixup_off_epoch,
                    log_interval=args.log_interval, dtype=dtype, seed=args.seed)
    schedule = LRSchedule("cosine" if args.cosine else "step", args.lr, args.num_epochs, len(train),
                          args.warmup_epochs, args.warmup_lr,
                          step_epochs=[int(e) for e in args.lr_decay_epoch.split(",") if e.strip()],
                          step_factor=args.lr_decay, step_period=args.lr_decay_period)

    def cifar_line(record) -> str:  # the original CIFAR script's epoch line
        val_acc = 1 - record["val_top1_error"] if record["val_top1_error"] is not None else float("nan")
        return cifar_epoch_line(record["epoch"], record["train_accuracy"], val_acc, record["train_loss"],
                                record["lr"], record["train_seconds"])

    run_dir = start_outputs(log, dist, folder, args, name, args.resume_from, log_file, plot_file)
    history = run_training(net, name, args.dataset + labels, train, val, contexts, recipe, schedule, args, log,
                           folder, args.save_period, best_as_accuracy=True, kvstore=kvstore, resume=resume,
                           epoch_line=cifar_line, run_dir=run_dir, session=dist,
                           record=RunRecord(spec, args.dataset, classes, channels, coarse_labels=args.coarse_labels,
                                            recipe=getattr(args, "recipe", None)))
    if plot_file and history and dist.is_chief:
        path = plot_history(history, plot_file, f"{spec.text()} on {args.dataset}{labels}")
        log.info("training curves: %s", path)
    if history and history[-1]["val_top1_error"] is not None:
        log.info("final test accuracy: %.4f", 1 - history[-1]["val_top1_error"])


def run() -> None:
    """Console-script entry point ``afflib-train-cifar``."""
    exit_on_error(main)


if __name__ == "__main__":
    run()
