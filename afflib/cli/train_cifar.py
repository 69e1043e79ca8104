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
from afflib.train.cifar import (DEFAULT_FMNIST_REC_DIR, cifar_model, dataset_classes, registry_model,
                                small_image_source)
from afflib.train.plot import plot_history
from afflib.core.rundir import output_folder
from afflib.distributed import DistSession
from afflib.core.cliargs import (float_range, int_list, int_range, make_parser, nonneg_float,
                            nonneg_int, positive_float, positive_int)
from afflib.core.flagtable import RecipeUse, parse_with_recipe
from afflib.core.logformat import cifar_epoch_line
from afflib.train.runner import (add_engine_flags, exit_on_error, prepare_net, run_training,
                                 seed_everything, start_outputs)


def make_arg_parser() -> argparse.ArgumentParser:
    p = make_parser("Train an AFF network on CIFAR-10/100 or Fashion-MNIST.")
    p.add_argument("--dataset", type=str, default="cifar10", choices=("cifar10", "cifar100", "fashion-mnist"),
                   help="cifar10 / cifar100: the binary archives are downloaded (~160 MB each) into --data-dir on "
                        "first use; fashion-mnist: the local IDX files, packed into --rec-dir")
    p.add_argument("--coarse-labels", action="store_true",
                   help="CIFAR-100: train on the 20 superclasses (what the paper's CIFAR numbers are) instead of 100")
    p.add_argument("--data-dir", type=str, default=None,
                   help="dataset folder (CIFAR: the binary files, downloaded if absent; Fashion-MNIST: the IDX files; "
                        "default: ~/.mxnet/datasets/<dataset>, for Fashion-MNIST also /usr/share/datasets)")
    p.add_argument("--rec-dir", type=str, default=DEFAULT_FMNIST_REC_DIR,
                   help="Fashion-MNIST RecordIO folder (train/test .rec/.idx; packed there on first use)")
    p.add_argument("--use-rec", action="store_true", help="Fashion-MNIST always reads records; accepted for clarity")
    p.add_argument("--model", type=str, default="resnet", choices=("resnet", "resnext"), help="network family")
    p.add_argument("--askc-type", type=str, default="ASKCFuse", help="fusion: ASKCFuse/AFF, iAFF, DirectAdd/add")
    p.add_argument("--blocks", type=positive_int, default=3, help="blocks per stage (ResNet depth 6B+2, ResNeXt 9B+2)")
    p.add_argument("--channel-times", type=positive_int, default=4, help="width multiplier: stage widths 16C, 32C, 64C")
    p.add_argument("--start-layer", type=int_range(1, 3), default=1,
                   help="first of the 3 stages that uses the fusion (earlier stages add plainly)")
    p.add_argument("--deep-stem", action="store_true", help="three 3x3 convolutions as the stem")
    p.add_argument("--drop-rate", type=nonneg_float, default=0.0,
                   help="(original flag; dropout is not supported: 0 only)")
    p.add_argument("--batch-size", type=positive_int, default=32, help="batch size PER DEVICE")
    p.add_argument("--gpus", type=str, default="", help="GPU ids, e.g. 0,1; empty: CPU")
    p.add_argument("--num-gpus", type=nonneg_int, default=0, help="use the first N GPUs (instead of --gpus)")
    p.add_argument("-j", "--num-data-workers", dest="num_workers", default=2, type=nonneg_int,
                   help="data loading worker processes")
    p.add_argument("--num-epochs", type=positive_int, default=3, help="epochs to train (counted from 0)")
    p.add_argument("--lr", type=positive_float, default=0.1, help="learning rate after warmup")
    p.add_argument("--momentum", type=float_range(0, 1, hi_open=True), default=0.9, help="Nesterov momentum")
    p.add_argument("--wd", type=nonneg_float, default=0.0001, help="weight decay")
    p.add_argument("--lr-decay", type=positive_float, default=0.1, help="step mode: factor at each decay")
    p.add_argument("--lr-decay-period", type=nonneg_int, default=0,
                   help="step mode: decay every N epochs (0: at --lr-decay-epoch)")
    p.add_argument("--lr-decay-epoch", type=int_list(0), default="40,60",
                   help="step decay epochs, counted from 0 with warmup included (the release counted "
                        "them after warmup: its value = this + --warmup-epochs)")
    p.add_argument("--cosine", action="store_true", help="cosine decay after warmup instead of steps")
    p.add_argument("--warmup-lr", type=nonneg_float, default=0.0, help="learning rate at the start of warmup")
    p.add_argument("--warmup-epochs", type=nonneg_int, default=0, help="epochs of linear warmup")
    p.add_argument("--mixup", action="store_true", help="mixup training")
    p.add_argument("--mixup-alpha", type=positive_float, default=1.0, help="mixup Beta(alpha, alpha) parameter")
    p.add_argument("--mixup-off-epoch", type=nonneg_int, default=0, help="no mixup in the last N epochs")
    p.add_argument("--auto_aug", "--auto-aug", dest="auto_aug", action="store_true",
                   help="CIFAR AutoAugment policy (CIFAR-10/100 only)")
    p.add_argument("--label-smoothing", action="store_true", help="label smoothing with eta 0.1")
    p.add_argument("--no-wd", action="store_true", help="no weight decay on biases and BN gamma/beta")
    p.add_argument("--mode", type=str, default="hybrid", choices=("hybrid", "imperative"),
                   help="hybrid (compiled graph, faster) or imperative")
    p.add_argument("--dtype", type=str, default="float32", choices=("float32", "float16"),
                   help="float16 needs GPUs (CPU runs fall back to float32, warned)")
    p.add_argument("--save-period", type=nonneg_int, default=10,
                   help="keep a numbered checkpoint every N epochs (0: only -last and -best)")
    p.add_argument("--save-dir", type=str, default=None,
                   help="the run's folder (checkpoints -best/-last/numbered, run_config.json, history.json; '' : "
                        "none); default: a new runs/<model>-<dataset>-<date-time>/, or the folder of --resume-from")
    p.add_argument("--logging-dir", type=str, default=None,
                   help="folder of the log file ('': stdout only; default: the run's folder)")
    p.add_argument("--resume-from", type=str, default=None,
                   help="params file to resume from (its .states/.json beside it give optimizer state and epoch; "
                        "default: a new run)")
    p.add_argument("--resume-epoch", type=nonneg_int, default=None,
                   help="override the epoch to resume at (default: from the checkpoint's record)")
    p.add_argument("--save-plot-dir", type=str, default=None,
                   help="folder of the training-history PNG ('' : none; default: the run's folder)")
    p.add_argument("--log-interval", type=nonneg_int, default=50, help="log a line every N batches (0: none)")
    p.add_argument("--summary", action="store_true", help="print the network summary before training")
    add_engine_flags(p)
    return p


def parse_cli(argv=None) -> Tuple[argparse.Namespace, RecipeUse]:
    """The flags over the defaults of ``--recipe`` (if given), and which of the recipe's values they override."""
    return parse_with_recipe(make_arg_parser(), argv, "train_cifar")


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
