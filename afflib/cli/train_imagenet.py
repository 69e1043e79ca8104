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
from afflib.nn.fusion import canonical_fusion
from afflib.core.runrecord import RunRecord
from afflib.train import (LRSchedule, Recipe, find_resume_point, make_kvstore, resolve_dtype,
                          build_net, select_contexts, setup_logging)
from afflib.distributed import DistSession
from afflib.core.cliargs import (float_range, int_list, int_range, make_parser, nonneg_float,
                            nonneg_int, positive_float, positive_int)
from afflib.core.rundir import output_folder
from afflib.core.flagtable import RecipeUse, parse_with_recipe
from afflib.train.runner import (add_engine_flags, exit_on_error, prepare_net, run_training,
                                 seed_everything, start_outputs)


def make_arg_parser() -> argparse.ArgumentParser:
    p = make_parser("Train an AFF network on ImageNet (original release's flags).")
    p.add_argument("--data-dir", type=str, default="~/.mxnet/datasets/imagenet",
                   help="folder with train/ and val/ class folders (without --use-rec)")
    p.add_argument("--rec-train", type=str, default="~/.mxnet/datasets/imagenet/rec/train.rec",
                   help="training records (with --use-rec; scripts/prepare_imagenet.py packs them)")
    p.add_argument("--rec-train-idx", type=str, default="~/.mxnet/datasets/imagenet/rec/train.idx",
                   help="index of --rec-train")
    p.add_argument("--rec-val", type=str, default="~/.mxnet/datasets/imagenet/rec/val.rec",
                   help="validation records (with --use-rec)")
    p.add_argument("--rec-val-idx", type=str, default="~/.mxnet/datasets/imagenet/rec/val.idx",
                   help="index of --rec-val")
    p.add_argument("--use-rec", action="store_true", help="read RecordIO files instead of image folders")
    p.add_argument("--batch-size", type=positive_int, default=32, help="batch size PER DEVICE")
    p.add_argument("--dtype", type=str, default="float32", choices=("float32", "float16"),
                   help="float32 or float16 (float16 needs GPUs)")
    p.add_argument("--num-gpus", type=nonneg_int, default=0, help="use the first N GPUs")
    p.add_argument("-j", "--num-data-workers", dest="num_workers", default=4, type=nonneg_int,
                   help="data loading workers")
    p.add_argument("--num-epochs", type=positive_int, default=3, help="epochs to train (counted from 0)")
    p.add_argument("--lr", type=positive_float, default=0.1, help="learning rate after warmup")
    p.add_argument("--momentum", type=float_range(0, 1, hi_open=True), default=0.9, help="Nesterov momentum")
    p.add_argument("--wd", type=nonneg_float, default=0.0001, help="weight decay")
    p.add_argument("--lr-mode", type=str, default="step", choices=("cosine", "step", "poly"),
                   help="cosine, step or poly (after warmup)")
    p.add_argument("--lr-decay", type=positive_float, default=0.1, help="step mode: factor at each decay")
    p.add_argument("--lr-decay-period", type=nonneg_int, default=0,
                   help="step mode: decay every N epochs (0: use --lr-decay-epoch)")
    p.add_argument("--lr-decay-epoch", type=int_list(0), default="40,60",
                   help="step mode: epochs (counted from 0, warmup included) at which the rate decays (the "
                        "release counted them after warmup: its value = this + --warmup-epochs)")
    p.add_argument("--warmup-lr", type=nonneg_float, default=0.0, help="learning rate at the start of warmup")
    p.add_argument("--warmup-epochs", type=nonneg_int, default=0, help="epochs of linear warmup")
    p.add_argument("--last-gamma", action="store_true", help="zero-initialise the last BN gamma of each block")
    p.add_argument("--mode", type=str, default="hybrid", choices=("hybrid", "imperative"),
                   help="hybrid (compiled graph, faster) or imperative")
    p.add_argument("--model", type=str, default="resnet", choices=("resnet", "resnext"), help="resnet or resnext")
    p.add_argument("--askc-type", type=str, default="ASKCFuse",
                   help="fusion: ASKCFuse/AFF, ResGlobLocaforGlobLocaCha/iAFF, DirectAdd/add")
    p.add_argument("--num-layer", type=int, default=50, choices=(50, 101, 152), help="network depth")
    p.add_argument("--start-layer", type=int_range(1, 4), default=3,
                   help="first of the 4 stages that uses the fusion (earlier stages add plainly)")
    p.add_argument("--r", type=positive_int, default=16, help="channel reduction of the attention branches")
    p.add_argument("--classes", type=int_range(2), default=1000, help="classifier outputs")
    p.add_argument("--input-size", type=int_range(16), default=224, help="training crop size in pixels")
    p.add_argument("--crop-ratio", type=float_range(0, 1, lo_open=True), default=0.875,
                   help="validation: crop / resize ratio")
    p.add_argument("--use-pretrained", action="store_true", help="start from the released weights of the model")
    p.add_argument("--mixup", action="store_true", help="mixup training")
    p.add_argument("--mixup-alpha", type=positive_float, default=0.2, help="mixup Beta(alpha, alpha) parameter")
    p.add_argument("--mixup-off-epoch", type=nonneg_int, default=0, help="no mixup in the last N epochs")
    p.add_argument("--label-smoothing", action="store_true", help="label smoothing with eta 0.1")
    p.add_argument("--no-wd", action="store_true", help="no weight decay on biases and BN gamma/beta")
    p.add_argument("--auto_aug", "--auto-aug", dest="auto_aug", action="store_true",
                   help="ImageNet AutoAugment policy on training images (both data paths)")
    p.add_argument("--faithful-aug", action="store_true",
                   help="reproduce the original release: ignore --auto_aug when reading records (--use-rec)")
    p.add_argument("--fix-last-gamma", action="store_true",
                   help="ResNeXt: GluonCV's meaning of --last-gamma (the release's is inverted)")
    p.add_argument("--teacher", type=str, default=None,
                   help="registry model to distil from (released weights; default: no distillation)")
    p.add_argument("--teacher-params", type=str, default="",
                   help="params file of the teacher instead of the released weights")
    p.add_argument("--temperature", type=positive_float, default=20, help="distillation temperature")
    p.add_argument("--hard-weight", type=float_range(0, 1), default=0.5,
                   help="weight of the hard-label loss in distillation")
    p.add_argument("--batch-norm", action="store_true", help="(GluonCV VGG flag; not applicable, refused)")
    p.add_argument("--use-se", action="store_true", help="(GluonCV SE flag; not applicable, refused)")
    p.add_argument("--use-gn", action="store_true", help="(GluonCV GroupNorm flag; not applicable, refused)")
    p.add_argument("--save-frequency", type=nonneg_int, default=10,
                   help="keep a numbered checkpoint every N epochs (0: only -last and -best)")
    p.add_argument("--save-dir", type=str, default=None,
                   help="the run's folder (checkpoints -best/-last/numbered, run_config.json, history.json; '' : "
                        "none); default: a new runs/<model>-imagenet-<date-time>/, or the folder of --resume-params")
    p.add_argument("--resume-epoch", type=nonneg_int, default=None,
                   help="epoch to resume at (default: from the record)")
    p.add_argument("--resume-params", type=str, default="",
                   help="params file to resume from (.states and epoch are read from the files beside it)")
    p.add_argument("--resume-states", type=str, default="",
                   help="optimizer states to resume (default: the .states beside --resume-params)")
    p.add_argument("--log-interval", type=nonneg_int, default=50, help="log a line every N batches (0: none)")
    p.add_argument("--logging-file", type=str, default=None,
                   help="log file, also printed on stdout ('': stdout only; default: train_imagenet.log in the "
                        "run's folder)")
    p.add_argument("--summary", action="store_true", help="print the network summary")
    p.add_argument("--gpus", type=str, default="", help="GPU ids, e.g. 0,1 (instead of --num-gpus)")
    add_engine_flags(p)
    return p


def parse_cli(argv=None) -> Tuple[argparse.Namespace, RecipeUse]:
    """The flags over the defaults of ``--recipe`` (if given), and which of the recipe's values they override."""
    return parse_with_recipe(make_arg_parser(), argv, "train_imagenet")


def parse_args(argv=None) -> argparse.Namespace:
    return parse_cli(argv)[0]


def model_from_flags(args: argparse.Namespace):
    """(registry name, constructor overrides) for --model/--askc-type/--num-layer, or --model-name (explicit
    architecture flags that contradict it were refused while parsing)."""
    kwargs = {"classes": args.classes}
    if args.model_name:
        return args.model_name, kwargs
    fusion = canonical_fusion(args.askc_type)
    kwargs.update(start_layer=args.start_layer, last_gamma=args.last_gamma, fusion_r=args.r)
    if args.model == "resnet":
        name = f"{fusion}_resnet{args.num_layer}"
    elif args.model == "resnext":
        name = f"{fusion}_resnext{args.num_layer}_32x4d"
        kwargs["original_last_gamma"] = not args.fix_last_gamma
    else:
        raise ValueError(f"--model must be resnet or resnext, got {args.model!r} (or give --model-name)")
    if name not in afflib.get_model_list():
        raise ValueError(f"no registry model {name!r} for --num-layer {args.num_layer}; valid: 50, 101, 152")
    return name, kwargs


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
