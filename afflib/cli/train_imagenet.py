"""Train AFF-ResNet / AFF-ResNeXt on ImageNet (flags of the original release).

The release's four runs are recipes (``--recipe NAME``; the files are ``afflib/core/recipes/imagenet_*.json``, their
exact settings; ``cmd_scripts.txt`` and ``scripts/train_*50.sh`` use them). Example, the release's AFF-ResNet-50::

    .venv/bin/python scripts/train_imagenet.py --recipe imagenet_aff_resnet50 --use-rec \
        --rec-train rec/train.rec --rec-train-idx rec/train.idx --rec-val rec/val.rec --rec-val-idx rec/val.idx \
        --num-gpus 4 -j 32 --save-dir params_aff_resnet50 --logging-file aff_resnet50.log

Flags given next to ``--recipe`` override its values (the log names each override).
"""
import argparse
import os
from typing import Tuple

import mxnet as mx

import afflib
from afflib.core.modelspec import ModelSpec
from afflib.core.runrecord import RunRecord
from afflib.train import (LRSchedule, Recipe, find_resume_point, make_kvstore, resolve_dtype,
                          build_net, select_contexts, setup_logging)
from afflib.distributed import DistSession
from afflib.core.rundir import output_folder
from afflib.core.flagtable import RecipeUse
from afflib.core.trainflags import imagenet_model, parse_training, train_imagenet_parser
from afflib.train.runner import (exit_on_error, prepare_net, run_training,
                                 seed_everything, start_outputs)


def make_arg_parser() -> argparse.ArgumentParser:
    """The flags both engines read (:func:`afflib.core.trainflags.train_imagenet_parser`)."""
    return train_imagenet_parser()


def parse_cli(argv=None) -> Tuple[argparse.Namespace, RecipeUse]:
    """The flags over the defaults of ``--recipe`` (if given), and which of the recipe's values they override;
    PyTorch-engine flags refused."""
    return parse_training("train_imagenet", argv, "mxnet")


def parse_args(argv=None) -> argparse.Namespace:
    return parse_cli(argv)[0]


def model_from_flags(args: argparse.Namespace):
    """(registry name, constructor overrides) of the flags (:func:`afflib.core.trainflags.imagenet_model`)."""
    return imagenet_model(args)


def data_sources(args, batch_size: int, num_parts: int, part_index: int):
    from afflib.data import imagenet
    if args.use_rec:
        paths = [os.path.expanduser(p) for p in (args.rec_train, args.rec_train_idx, args.rec_val, args.rec_val_idx)]
        for path in paths:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"record file not found: {path} (pack one with scripts/prepare_imagenet.py)")
        common = dict(batch_size=batch_size, input_size=args.input_size, crop_ratio=args.crop_ratio,
                      num_workers=args.num_workers, num_parts=num_parts, part_index=part_index, seed=args.seed)
        train = imagenet.record_source(paths[0], paths[1], train=True, auto_augment=args.auto_aug,
                                       faithful_aug=args.faithful_aug, **common)
        val = imagenet.record_source(paths[2], paths[3], train=False, **common)
        return train, val
    root = os.path.expanduser(args.data_dir)
    for split in ("train", "val"):
        if not os.path.isdir(os.path.join(root, split)):
            raise FileNotFoundError(f"image folder not found: {os.path.join(root, split)} (or use --use-rec)")
    common = dict(batch_size=batch_size, input_size=args.input_size, crop_ratio=args.crop_ratio,
                  num_workers=args.num_workers, num_parts=num_parts, part_index=part_index, seed=args.seed)
    train = imagenet.folder_source(os.path.join(root, "train"), train=True, auto_augment=args.auto_aug, **common)
    val = imagenet.folder_source(os.path.join(root, "val"), train=False, auto_augment=False, **common)
    return train, val


def main(argv=None) -> None:
    args, recipe_use = parse_cli(argv)
    for flag in ("batch_norm", "use_se", "use_gn"):
        if getattr(args, flag):
            raise ValueError(f"--{flag.replace('_', '-')} belongs to other GluonCV models; AFF networks don't have it")
    if args.mode not in ("hybrid", "imperative"):
        raise ValueError(f"--mode must be hybrid or imperative, got {args.mode!r}")
    contexts = select_contexts(args.gpus, args.num_gpus, args.cpus)
    kvstore = make_kvstore(args.kvstore, contexts)     # a dist_* store joins the job: rank 0 alone writes the log
    dist = DistSession(kvstore)
    log = dist.configure_logging(setup_logging(defer_file=True))   # the file opens once everything is checked
    log.info(str(args))
    for line in recipe_use.lines():
        log.info(line)
    dtype = resolve_dtype(args.dtype, contexts, log)
    seed_everything(args.seed)
    name, kwargs = model_from_flags(args)
    spec = ModelSpec.create(name, **kwargs)
    name = spec.tag()                                   # in file names; spec.text() is what tools print and accept
    folder = output_folder(args.save_dir, name, "imagenet", args.resume_params or None)
    log_file = os.path.join(folder, "train_imagenet.log") if args.logging_file is None else args.logging_file
    resume = None
    if args.resume_params:
        resume = find_resume_point(args.resume_params, args.resume_states, args.resume_epoch)
    pretrained = args.use_pretrained and resume is None
    net = afflib.get_model(spec.name, pretrained=pretrained, **spec.kwargs)
    if args.summary:
        net.initialize()
        net.summary(mx.nd.zeros((1, 3, args.input_size, args.input_size)))
        net = afflib.get_model(spec.name, pretrained=pretrained, **spec.kwargs)
    prepare_net(net, contexts, dtype, mx.init.MSRAPrelu(), resume, args.mode == "hybrid", spec.text(), pretrained)
    teacher = None
    if args.teacher:
        teacher = build_net(args.teacher, contexts, args.teacher_params or None, not args.teacher_params, dtype=dtype,
                            classes=args.classes)
    num_parts, part_index = dist.shard
    train, val = data_sources(args, args.batch_size * len(contexts), num_parts, part_index)
    recipe = Recipe(num_epochs=args.num_epochs, classes=args.classes,
                    label_smoothing=0.1 if args.label_smoothing else 0.0, mixup=args.mixup,
                    mixup_alpha=args.mixup_alpha, mixup_off_epoch=args.mixup_off_epoch,
                    log_interval=args.log_interval, dtype=dtype, seed=args.seed)
    schedule = LRSchedule(args.lr_mode, args.lr, args.num_epochs, len(train), args.warmup_epochs, args.warmup_lr,
                          step_epochs=[int(e) for e in args.lr_decay_epoch.split(",") if e.strip()],
                          step_factor=args.lr_decay, step_period=args.lr_decay_period, power=2.0)
    run_dir = start_outputs(log, dist, folder, args, name, args.resume_params or None, log_file, None)
    run_training(net, name, "imagenet", train, val, contexts, recipe, schedule, args, log, folder,
                 args.save_frequency, best_as_accuracy=False, kvstore=kvstore, resume=resume, teacher=teacher,
                 temperature=args.temperature, hard_weight=args.hard_weight, run_dir=run_dir, session=dist,
                 record=RunRecord(spec, "imagenet", args.classes, 3, input_size=args.input_size,
                                  crop_ratio=args.crop_ratio, recipe=getattr(args, "recipe", None)))


def run() -> None:
    """Console-script entry point ``afflib-train-imagenet``."""
    exit_on_error(main)


if __name__ == "__main__":
    run()
