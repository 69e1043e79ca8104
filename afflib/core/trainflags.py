"""The flags of the training and evaluation tools, framework-free, so that both engines parse the same command line.

``scripts/train_cifar.py --engine torch ...`` and ``--engine mxnet`` (the default) read one parser: the original
release's flag names (they differ between the CIFAR and ImageNet scripts, and stay so), the flags afflib adds to
both, and a group the PyTorch engine alone reads. :func:`check_engine` refuses a flag the chosen engine would
ignore, naming the flag and the engine that has it.
"""
from __future__ import annotations

import argparse
from typing import Dict, Iterable, Optional, Sequence, Tuple

from .cliargs import (float_range, int_list, int_range, make_parser, nonneg_float, nonneg_int, positive_float,
                      positive_int, seed_int)
from .flagtable import RecipeUse, explicit_dests, parse_with_recipe
from .specs import MODEL_SPECS, canonical_fusion

__all__ = ["ENGINES", "DEFAULT_FMNIST_REC_DIR", "DTYPES", "train_cifar_parser", "train_imagenet_parser",
           "eval_cifar_parser", "eval_imagenet_parser", "parse_training", "parse_eval", "check_engine",
           "TORCH_ONLY", "MXNET_ONLY", "imagenet_model"]

ENGINES = ("mxnet", "torch")
DEFAULT_FMNIST_REC_DIR = "~/.mxnet/datasets/fashion-mnist/rec"
DTYPES = ("float32", "float16", "bfloat16")

#: flags only the PyTorch engine reads (dest -> flag); giving one with --engine mxnet is refused
TORCH_ONLY: Dict[str, str] = {"device": "--device", "channels_last": "--channels-last", "compile": "--compile",
                              "threads": "--threads", "sync_bn": "--sync-bn", "dali": "--dali",
                              "train_size": "--train-size"}
#: flags only the MXNet engine reads, with the PyTorch engine's way instead
MXNET_ONLY: Dict[str, Tuple[str, str]] = {
    "kvstore": ("--kvstore", "launch the PyTorch engine with torchrun for data parallelism (docs/distributed.md)"),
    "cpus": ("--cpus", "several CPU processes: torchrun --nproc_per_node N (gloo); one process: drop the flag"),
}


def _engine_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", type=str, default="mxnet", choices=ENGINES,
                   help="mxnet (the release's stack, .venv) or torch (PyTorch, .venv-torch; the script re-runs itself "
                        "there when this Python has no torch)")


def _torch_flags(p: argparse.ArgumentParser, training: bool) -> None:
    group = p.add_argument_group("PyTorch engine (--engine torch)")
    group.add_argument("--device", type=str, default="auto",
                       help="auto (the first CUDA GPU if any, else the CPU), cpu, cuda, cuda:N; under torchrun each "
                            "process takes cuda:LOCAL_RANK")
    group.add_argument("--channels-last", action="store_true", help="channels-last memory format (faster with bf16/fp16)")
    group.add_argument("--compile", action="store_true", help="torch.compile the network (slow start, faster steps)")
    group.add_argument("--threads", type=positive_int, default=None,
                       help="torch.set_num_threads (default: torch's choice)")
    if training:
        group.add_argument("--sync-bn", action="store_true",
                           help="SyncBatchNorm across the processes of a torchrun job (GPUs)")
        group.add_argument("--dali", action="store_true",
                           help="ImageNet records through an NVIDIA DALI pipeline with GPU JPEG decode "
                                "(pip install 'afflib[dali]')")
        group.add_argument("--train-size", type=nonneg_int, default=0,
                           help="train on the first N images of a seeded shuffle of the training split (0: all)")


def _run_flags(group: argparse._ArgumentGroup) -> None:
    """Flags afflib adds to both training scripts (same names in both)."""
    group.add_argument("--cpus", type=nonneg_int, default=0,
                       help="train on N CPU contexts (data parallelism without GPUs); default: one CPU if no GPU flag")
    group.add_argument("--kvstore", type=str, default="local",
                       help="KVStore for gradient aggregation: local, device, nccl, dist_sync, ...")
    group.add_argument("--seed", type=seed_int, default=0, help="random seed of initialisation, shuffling and mixup")
    group.add_argument("--no-progress", action="store_true", help="no progress bars (they only show on a terminal)")
    group.add_argument("--recipe", type=str, default=None,
                       help="a training recipe: a name (afflib/core/recipes/*.json) or a .json file; it sets the "
                            "defaults of the flags it has a field for and explicit flags override them (logged). "
                            "A switch the recipe turns on (--mixup, --no-wd, ...) cannot be turned off by a flag: "
                            "copy the file and edit it")
    group.add_argument("--model-name", type=str, default="",
                       help="any afflib registry model or printed spec (afflib.get_model_list()) instead of "
                            "--model/--askc-type/...; an explicit architecture flag that contradicts it is refused")
    group.add_argument("--overwrite", action="store_true",
                       help="let a new run write into a folder that holds another run's files (same names replaced)")
    group.add_argument("--allow-recipe-change", action="store_true",
                       help="let a resume change epochs/lr/schedule/batch size/model; the run's run_config.json is "
                            "kept and the resume's settings go to run_config.resume-N.json")


def _schedule_flags(p: argparse.ArgumentParser, decay_epoch_help: str) -> None:
    """Optimiser and schedule flags of both training scripts (the release's names)."""
    p.add_argument("--num-epochs", type=positive_int, default=3, help="epochs to train (counted from 0)")
    p.add_argument("--lr", type=positive_float, default=0.1, help="learning rate after warmup")
    p.add_argument("--momentum", type=float_range(0, 1, hi_open=True), default=0.9, help="Nesterov momentum")
    p.add_argument("--wd", type=nonneg_float, default=0.0001, help="weight decay")
    p.add_argument("--lr-decay", type=positive_float, default=0.1, help="step mode: factor at each decay")
    p.add_argument("--lr-decay-period", type=nonneg_int, default=0,
                   help="step mode: decay every N epochs (0: at --lr-decay-epoch)")
    p.add_argument("--lr-decay-epoch", type=int_list(0), default="40,60", help=decay_epoch_help)
    p.add_argument("--warmup-lr", type=nonneg_float, default=0.0, help="learning rate at the start of warmup")
    p.add_argument("--warmup-epochs", type=nonneg_int, default=0, help="epochs of linear warmup")


def _recipe_flags(p: argparse.ArgumentParser, mixup_alpha: float, auto_aug_help: str) -> None:
    """What happens to every batch (both training scripts)."""
    p.add_argument("--mixup", action="store_true", help="mixup training")
    p.add_argument("--mixup-alpha", type=positive_float, default=mixup_alpha, help="mixup Beta(alpha, alpha) parameter")
    p.add_argument("--mixup-off-epoch", type=nonneg_int, default=0, help="no mixup in the last N epochs")
    p.add_argument("--label-smoothing", action="store_true", help="label smoothing with eta 0.1")
    p.add_argument("--no-wd", action="store_true", help="no weight decay on biases and BN gamma/beta")
    p.add_argument("--auto_aug", "--auto-aug", dest="auto_aug", action="store_true", help=auto_aug_help)
    p.add_argument("--mode", type=str, default="hybrid", choices=("hybrid", "imperative"),
                   help="MXNet: hybrid (compiled graph, faster) or imperative; PyTorch: eager either way "
                        "(--compile compiles)")


def _device_flags(p: argparse.ArgumentParser, batch_default: int, workers_default: int, gpus_first: bool) -> None:
    """Batch size, dtype, devices and loader workers (the evaluation tools' and the training tools' shared part)."""
    p.add_argument("--batch-size", type=positive_int, default=batch_default, help="batch size PER DEVICE")
    p.add_argument("--dtype", type=str, default="float32", choices=DTYPES,
                   help="float16 needs GPUs (MXNet CPU runs fall back to float32, warned; PyTorch: autocast with a "
                        "gradient scaler); bfloat16: PyTorch engine only (autocast, CPU or GPU)")
    if gpus_first:
        p.add_argument("--gpus", type=str, default="", help="GPU ids, e.g. 0,1; empty: CPU")
    p.add_argument("--num-gpus", type=nonneg_int, default=0, help="use the first N GPUs (instead of --gpus)")
    p.add_argument("-j", "--num-data-workers", dest="num_workers", default=workers_default, type=nonneg_int,
                   help="data loading worker processes")


def _cifar_model_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=str, default="resnet", choices=("resnet", "resnext"), help="network family")
    p.add_argument("--askc-type", type=str, default="ASKCFuse", help="fusion: ASKCFuse/AFF, iAFF, DirectAdd/add")
    p.add_argument("--blocks", type=positive_int, default=3, help="blocks per stage (ResNet depth 6B+2, ResNeXt 9B+2)")
    p.add_argument("--channel-times", type=positive_int, default=4, help="width multiplier: stage widths 16C, 32C, 64C")
    p.add_argument("--start-layer", type=int_range(1, 3), default=1,
                   help="first of the 3 stages that uses the fusion (earlier stages add plainly)")
    p.add_argument("--deep-stem", action="store_true", help="three 3x3 convolutions as the stem")


def _small_data_flags(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--dataset", type=str, default="cifar10", choices=("cifar10", "cifar100", "fashion-mnist"),
                   help=f"cifar10 / cifar100: the binary archive{what} downloaded (~160 MB) into --data-dir on first "
                        "use; fashion-mnist: the local IDX files (MXNet: packed into --rec-dir)")
    p.add_argument("--coarse-labels", action="store_true",
                   help="CIFAR-100: the 20 superclasses (what the paper's CIFAR numbers are) instead of 100")


def train_cifar_parser() -> argparse.ArgumentParser:
    """``scripts/train_cifar.py``: the original CIFAR script's flags, afflib's additions, the PyTorch group."""
    p = make_parser("Train an AFF network on CIFAR-10/100 or Fashion-MNIST.")
    _engine_flag(p)
    _small_data_flags(p, " is")
    p.add_argument("--data-dir", type=str, default=None,
                   help="dataset folder (CIFAR: the binary files, downloaded if absent; Fashion-MNIST: the IDX files; "
                        "default: ~/.mxnet/datasets/<dataset>, for Fashion-MNIST also /usr/share/datasets)")
    p.add_argument("--rec-dir", type=str, default=DEFAULT_FMNIST_REC_DIR,
                   help="MXNet: Fashion-MNIST RecordIO folder (train/test .rec/.idx; packed there on first use)")
    p.add_argument("--use-rec", action="store_true", help="Fashion-MNIST always reads records; accepted for clarity")
    _cifar_model_flags(p)
    p.add_argument("--drop-rate", type=nonneg_float, default=0.0,
                   help="(original flag; dropout is not supported: 0 only)")
    _device_flags(p, 32, 2, gpus_first=True)
    _schedule_flags(p, "step decay epochs, counted from 0 with warmup included (the release counted them after "
                       "warmup: its value = this + --warmup-epochs)")
    p.add_argument("--cosine", action="store_true", help="cosine decay after warmup instead of steps")
    _recipe_flags(p, 1.0, "CIFAR AutoAugment policy (CIFAR-10/100 only)")
    p.add_argument("--save-period", type=nonneg_int, default=10,
                   help="keep a numbered checkpoint every N epochs (0: only -last and -best)")
    p.add_argument("--save-dir", type=str, default=None,
                   help="the run's folder (checkpoints -best/-last/numbered, run_config.json, history.json; '' : "
                        "none); default: a new runs/<model>-<dataset>-<date-time>/, or the folder of --resume-from")
    p.add_argument("--logging-dir", type=str, default=None,
                   help="folder of the log file ('': stdout only; default: the run's folder)")
    p.add_argument("--resume-from", type=str, default=None,
                   help="params file to resume from (the files beside it give optimizer state and position; "
                        "default: a new run)")
    p.add_argument("--resume-epoch", type=nonneg_int, default=None,
                   help="override the epoch to resume at (default: from the checkpoint's record)")
    p.add_argument("--save-plot-dir", type=str, default=None,
                   help="folder of the training-history PNG ('' : none; default: the run's folder)")
    p.add_argument("--log-interval", type=nonneg_int, default=50, help="log a line every N batches (0: none)")
    p.add_argument("--summary", action="store_true", help="print the network summary before training")
    _run_flags(p.add_argument_group("afflib additions"))
    _torch_flags(p, training=True)
    return p


def train_imagenet_parser() -> argparse.ArgumentParser:
    """``scripts/train_imagenet.py``: the original ImageNet script's flags, afflib's additions, the PyTorch group."""
    p = make_parser("Train an AFF network on ImageNet (original release's flags).")
    _engine_flag(p)
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
    _device_flags(p, 32, 4, gpus_first=False)
    _schedule_flags(p, "step mode: epochs (counted from 0, warmup included) at which the rate decays (the "
                       "release counted them after warmup: its value = this + --warmup-epochs)")
    p.add_argument("--lr-mode", type=str, default="step", choices=("cosine", "step", "poly"),
                   help="cosine, step or poly (after warmup)")
    p.add_argument("--last-gamma", action="store_true", help="zero-initialise the last BN gamma of each block")
    p.add_argument("--model", type=str, default="resnet", choices=("resnet", "resnext"), help="resnet or resnext")
    p.add_argument("--askc-type", type=str, default="ASKCFuse",
                   help="fusion: ASKCFuse/AFF, ResGlobLocaforGlobLocaCha/iAFF, DirectAdd/add")
    p.add_argument("--num-layer", type=int, default=50, choices=(18, 34, 50, 101, 152),
                   help="network depth (18/34: basic blocks, ResNet only; no released weights)")
    p.add_argument("--start-layer", type=int_range(1, 4), default=3,
                   help="first of the 4 stages that uses the fusion (earlier stages add plainly)")
    p.add_argument("--r", type=positive_int, default=None,
                   help="channel reduction of the attention branches (default: the release's by block type: 16 in "
                        "bottlenecks, 4 in basic blocks)")
    p.add_argument("--classes", type=int_range(2), default=1000, help="classifier outputs")
    p.add_argument("--input-size", type=int_range(16), default=224, help="training crop size in pixels")
    p.add_argument("--crop-ratio", type=float_range(0, 1, lo_open=True), default=0.875,
                   help="validation: crop / resize ratio")
    p.add_argument("--use-pretrained", action="store_true", help="start from the released weights of the model")
    _recipe_flags(p, 0.2, "ImageNet AutoAugment policy on training images (both data paths)")
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
    _run_flags(p.add_argument_group("afflib additions"))
    _torch_flags(p, training=True)
    return p


def eval_cifar_parser() -> argparse.ArgumentParser:
    """``scripts/eval_cifar.py``: test accuracy of a params file on a small-image test split."""
    p = make_parser("Accuracy of an AFF CIFAR-style network on a test split.")
    _engine_flag(p)
    _small_data_flags(p, " is")
    p.add_argument("--params", type=str, default="",
                   help=".params file to evaluate; of a training run, it alone is enough (its run_config.json gives "
                        "model and dataset)")
    p.add_argument("--pretrained", action="store_true", help="evaluate the released weights (needs --model-name)")
    p.add_argument("--model-name", type=str, default="", help="registry model (instead of --model/--blocks/...)")
    _cifar_model_flags(p)
    p.add_argument("--data-dir", type=str, default=None,
                   help="dataset folder (default: ~/.mxnet/datasets/<dataset>, for Fashion-MNIST also /usr/share)")
    p.add_argument("--rec-dir", type=str, default=DEFAULT_FMNIST_REC_DIR, help="MXNet: Fashion-MNIST RecordIO folder")
    _device_flags(p, 256, 2, gpus_first=True)
    p.add_argument("--cpus", type=nonneg_int, default=0, help="CPU contexts (0: one CPU unless GPUs are given)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it only shows on a terminal)")
    _torch_flags(p, training=False)
    return p


def eval_imagenet_parser() -> argparse.ArgumentParser:
    """``scripts/eval_imagenet.py``: top-1/top-5 error and images/s of a params file on ImageNet validation data."""
    p = make_parser("Evaluate an AFF ImageNet model: top-1/top-5 error and images/s.")
    _engine_flag(p)
    p.add_argument("--model", type=str, default=None, help="registry model name or printed spec, e.g. aff_resnet50; "
                   "default: the run's (run_config.json beside --params)")
    p.add_argument("--params", type=str, default="", help=".params file to evaluate; of a training run, it alone "
                   "gives the model, classes and input size")
    p.add_argument("--pretrained", action="store_true", help="evaluate the released weights (model store)")
    p.add_argument("--classes", type=int_range(2), default=1000, help="classifier outputs")
    p.add_argument("--use-rec", action="store_true", help="read val RecordIO files instead of a val/ folder")
    p.add_argument("--rec-val", type=str, default="~/.mxnet/datasets/imagenet/rec/val.rec",
                   help="validation records (with --use-rec)")
    p.add_argument("--rec-val-idx", type=str, default="~/.mxnet/datasets/imagenet/rec/val.idx",
                   help="index of --rec-val")
    p.add_argument("--data-dir", type=str, default="~/.mxnet/datasets/imagenet", help="folder with val/")
    p.add_argument("--input-size", type=int_range(16), default=224, help="centre crop size in pixels")
    p.add_argument("--crop-ratio", type=float_range(0, 1, lo_open=True), default=0.875,
                   help="crop / resized shorter side")
    _device_flags(p, 32, 4, gpus_first=True)
    p.add_argument("--cpus", type=nonneg_int, default=0, help="CPU contexts (0: one CPU unless GPUs are given)")
    p.add_argument("--mode", type=str, default="hybrid", choices=("hybrid", "imperative"),
                   help="MXNet: hybrid (compiled graph) or imperative; PyTorch: eager (--compile compiles)")
    p.add_argument("--synthetic", type=nonneg_int, default=0,
                   help="measure images/s on N batches of random data instead (no dataset needed; 0: off)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it only shows on a terminal)")
    _torch_flags(p, training=False)
    return p


def imagenet_model(args: argparse.Namespace) -> Tuple[str, Dict[str, object]]:
    """(registry name, constructor overrides) of train_imagenet's --model/--askc-type/--num-layer/--r flags, or of
    --model-name (explicit architecture flags that contradict it were refused while parsing)."""
    kwargs: Dict[str, object] = {"classes": args.classes}
    if args.model_name:
        return args.model_name, kwargs
    fusion = canonical_fusion(args.askc_type)
    kwargs.update(start_layer=args.start_layer, last_gamma=args.last_gamma)
    if args.r is not None:
        kwargs["fusion_r"] = args.r
    if args.model == "resnet":
        name = f"{fusion}_resnet{args.num_layer}"
    elif args.model == "resnext":
        name = f"{fusion}_resnext{args.num_layer}_32x4d"
        kwargs["original_last_gamma"] = not args.fix_last_gamma
    else:
        raise ValueError(f"--model must be resnet or resnext, got {args.model!r} (or give --model-name)")
    if name not in MODEL_SPECS:
        depths = sorted({int(n.split("resnext" if args.model == "resnext" else "resnet")[1].split("_")[0])
                         for n in MODEL_SPECS if n.startswith(f"{fusion}_{args.model}")})
        raise ValueError(f"no registry model {name!r} for --model {args.model} --num-layer {args.num_layer}; "
                         f"valid depths: {', '.join(map(str, depths))}")
    return name, kwargs


_TRAIN_PARSERS = {"train_cifar": train_cifar_parser, "train_imagenet": train_imagenet_parser}
_EVAL_PARSERS = {"eval_cifar": eval_cifar_parser, "eval_imagenet": eval_imagenet_parser}


def _gpu_count(args: argparse.Namespace) -> int:
    ids = [g for g in str(getattr(args, "gpus", "") or "").split(",") if g.strip()]
    return max(len(ids), getattr(args, "num_gpus", 0) or 0)


def check_engine(parser: argparse.ArgumentParser, args: argparse.Namespace, given: Iterable[str],
                 engine: str) -> None:
    """Refuse (``parser.error``: exit 2 naming the flag) what ``engine`` would ignore: a PyTorch-group flag under
    MXNet, an MXNet-only flag or several devices in one PyTorch process, bfloat16 under MXNet. ``given``: the
    dests set on the command line."""
    given = set(given)
    if "engine" in given and args.engine != engine:
        parser.error(f"--engine {args.engine} was given to the {engine} engine's module; run scripts/ or the "
                     f"afflib-* command, which choose the engine")
    args.engine = engine  # an engine's module run directly (python -m afflib_torch.cli...) is that engine
    if engine == "mxnet":
        for dest, flag in TORCH_ONLY.items():
            if dest in given and getattr(args, dest, None) not in (None, False, 0, "auto"):
                parser.error(f"{flag} belongs to the PyTorch engine: add --engine torch (or drop {flag})")
        if args.dtype == "bfloat16":
            parser.error("--dtype bfloat16 needs the PyTorch engine (--engine torch); MXNet 1.9.1 trains in "
                         "float32 or float16")
        return
    for dest, (flag, instead) in MXNET_ONLY.items():
        value = getattr(args, dest, None)
        if dest in given and value not in (None, 0, "local", "", "device"):
            parser.error(f"{flag} {value} is an MXNet-engine flag; with --engine torch, {instead}")
    if _gpu_count(args) > 1:
        parser.error("--gpus/--num-gpus: one PyTorch process trains on one GPU; for several, launch with "
                     "torchrun --nproc_per_node N (docs/distributed.md)")


def parse_training(tool: str, argv: Optional[Sequence[str]], engine: str) -> Tuple[argparse.Namespace, RecipeUse]:
    """The flags of ``tool`` (train_cifar / train_imagenet) over ``--recipe``'s defaults, checked for ``engine``."""
    parser = _TRAIN_PARSERS[tool]()
    args, recipe_use = parse_with_recipe(parser, argv, tool)
    check_engine(parser, args, explicit_dests(parser, argv), engine)
    return args, recipe_use


def parse_eval(tool: str, argv: Optional[Sequence[str]], engine: str) -> argparse.Namespace:
    """The flags of ``tool`` (eval_cifar / eval_imagenet), checked for ``engine``."""
    parser = _EVAL_PARSERS[tool]()
    args = parser.parse_args(argv)
    check_engine(parser, args, explicit_dests(parser, argv), engine)
    return args

