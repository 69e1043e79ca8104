"""The flags of ``scripts/train_segmentation.py`` and ``scripts/eval_segmentation.py``, framework-free, so that both
engines parse one command line; the segmentation recipes (``afflib/core/recipes/segmentation/*.json``: the
paper's and a short CPU one) set the flags' defaults, explicit flags override them.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .cliargs import float_range, int_range, make_parser, nonneg_float, nonneg_int, positive_float, positive_int, seed_int
from .fusion import canonical_fusion
from .trainflags import DTYPES, ENGINES, TORCH_ONLY

__all__ = ["SEG_RECIPE_DIR", "SEG_DATASETS", "SEG_OPTIMIZERS", "list_seg_recipes", "load_seg_recipe",
           "train_segmentation_parser", "eval_segmentation_parser", "parse_train_segmentation",
           "parse_eval_segmentation", "segmentation_model", "segmentation_spec", "scene_settings"]

SEG_RECIPE_DIR = Path(__file__).with_name("recipes") / "segmentation"
#: the generated dataset, and GluonCV's (MXNet engine, for users who have them on disk)
SEG_DATASETS = ("fashion-mnist-scenes", "voc", "ade20k", "coco")
SEG_OPTIMIZERS = ("adagrad", "nag", "sgd")
_LR_MODES = ("poly", "cosine", "step", "constant")
DEFAULT_RECIPE = "segmentation_short"
#: GluonCV's crop of its segmentation datasets (its train scripts' --crop-size)
DEFAULT_CROP = 480


def list_seg_recipes() -> List[str]:
    """Names of the segmentation recipes shipped with afflib."""
    return sorted(p.stem for p in SEG_RECIPE_DIR.glob("*.json"))


def load_seg_recipe(name_or_path: str) -> Dict[str, Any]:
    """A segmentation recipe's fields, by name or as a ``.json`` path; ValueError naming the choices otherwise."""
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = SEG_RECIPE_DIR / f"{name_or_path}.json"
    if not path.is_file():
        raise ValueError(f"--recipe {name_or_path!r}: no such segmentation recipe (choices: "
                         f"{', '.join(list_seg_recipes())}, or a .json file)")
    try:
        fields = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"--recipe {path}: not valid JSON ({err})") from None
    if not isinstance(fields, dict):
        raise ValueError(f"--recipe {path}: expected a JSON object of flag values")
    return fields


def _engine_and_torch(p: argparse.ArgumentParser, training: bool) -> None:
    p.add_argument("--engine", type=str, default="mxnet", choices=ENGINES,
                   help="mxnet (the release's stack, .venv) or torch (PyTorch, .venv-torch; the script re-runs itself "
                        "there when this Python has no torch)")
    group = p.add_argument_group("PyTorch engine (--engine torch)")
    group.add_argument("--device", type=str, default="auto", help="auto, cpu, cuda, cuda:N")
    group.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    group.add_argument("--compile", action="store_true", help="torch.compile the network")
    group.add_argument("--threads", type=positive_int, default=None, help="torch.set_num_threads")
    p.add_argument("--dtype", type=str, default="float32", choices=DTYPES,
                   help="bfloat16/float16: PyTorch engine (autocast); MXNet trains in float32")
    p.add_argument("--gpus", type=str, default="", help="MXNet: GPU ids, e.g. 0 (empty: CPU)")


def _data_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", type=str, default="fashion-mnist-scenes", choices=SEG_DATASETS,
                   help="fashion-mnist-scenes: Fashion-MNIST garments pasted on larger canvases at random scales, "
                        "generated from the local IDX files on first use (afflib.core.segscenes); voc/ade20k/coco: "
                        "GluonCV's datasets from --data-dir (MXNet engine)")
    p.add_argument("--data-dir", type=str, default=None,
                   help="fashion-mnist-scenes: the Fashion-MNIST IDX folder (default /usr/share/datasets/fashion-mnist);"
                        " GluonCV datasets: their root")
    p.add_argument("--cache-dir", type=str, default=None,
                   help="where generated scenes are kept (default ~/.afflib/datasets/fashion-mnist-scenes)")
    p.add_argument("--binary", type=int_range(0, 9), nargs="?", const=0, default=None,
                   help="one class vs background (the StopSign task): pixels of garments of CLASS (0-9, Fashion-MNIST "
                        "labels; 0 without a value) are foreground, everything else background")
    p.add_argument("--canvas", type=int_range(16, 512), default=64, help="scene size in pixels (divisible by 4)")
    p.add_argument("--test-size", type=nonneg_int, default=0, help="test scenes to evaluate (0: all 10000)")
    p.add_argument("--batch-size", type=positive_int, default=32, help="batch size")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (they only show on a terminal)")


def train_segmentation_parser() -> argparse.ArgumentParser:
    """``scripts/train_segmentation.py``: FPN segmentation with a fusion form in the long skips."""
    p = make_parser("Train a segmentation network (ResNet-20-b + FPN, any fusion form in the long skips) and report "
                    "mIoU and pixel accuracy on the test split.")
    _engine_and_torch(p, True)
    p.add_argument("--recipe", type=str, default=DEFAULT_RECIPE,
                   help=f"segmentation recipe ({', '.join(list_seg_recipes())} or a .json file): it sets the "
                        f"defaults of the flags it names; explicit flags override it")
    _data_flags(p)
    p.add_argument("--train-size", type=nonneg_int, default=0, help="training scenes (0: one per training image, 60000)")
    p.add_argument("--crop-size", type=int_range(16, 4096), default=None,
                   help="GluonCV datasets only: the square crop of training (random scale 0.5-2x of base size "
                        "crop*13/12, random crop and flip) and validation (short side resized, centre crop) (480)")
    p.add_argument("--blocks", type=int_range(1, 8), default=1, help="b: blocks per backbone stage (depth 6b + 2)")
    p.add_argument("--fusion", type=str, default="aff", help="the form in the long skips (docs/ablation.md)")
    p.add_argument("--fusion-r", type=positive_int, default=None,
                   help="the form's reduction r (default: the paper preset, afflib.core.ablation.preset_r)")
    p.add_argument("--channel-times", type=positive_int, default=1, help="backbone widths 16C/16C/32C/64C")
    p.add_argument("--model-name", type=str, default="",
                   help="a registry FPN network or spec instead of --blocks/--fusion (e.g. aff_resnet50_fpn)")
    p.add_argument("--num-epochs", type=positive_int, default=4, help="epochs")
    p.add_argument("--optimizer", type=str, default="adagrad", choices=SEG_OPTIMIZERS, help="the paper: AdaGrad")
    p.add_argument("--lr", type=positive_float, default=0.01, help="learning rate")
    p.add_argument("--lr-mode", type=str, default="poly", choices=_LR_MODES, help="decay after warmup")
    p.add_argument("--power", type=positive_float, default=0.9, help="poly decay power")
    p.add_argument("--warmup-epochs", type=nonneg_int, default=0, help="epochs of linear warmup")
    p.add_argument("--momentum", type=float_range(0, 1, hi_open=True), default=0.9, help="nag/sgd momentum")
    p.add_argument("--wd", type=nonneg_float, default=0.0, help="weight decay")
    p.add_argument("--seed", type=seed_int, default=0, help="initialisation, shuffling and scene generation seed")
    p.add_argument("--save-dir", type=str, default=None,
                   help="the run's folder (default: runs/<model>-<dataset>-<date-time>/ or --resume-from's)")
    p.add_argument("--resume-from", type=str, default=None, help="a -last.params of the run to continue")
    p.add_argument("--overwrite", action="store_true", help="let the run write into a folder holding another run")
    p.add_argument("--allow-recipe-change", action="store_true", help="let a resume change the recipe")
    p.add_argument("--save-period", type=nonneg_int, default=0, help="numbered checkpoint every N epochs (0: none)")
    p.add_argument("--log-interval", type=nonneg_int, default=50, help="a log line every N batches (0: none)")
    p.add_argument("--overlays", type=nonneg_int, default=8,
                   help="test scenes drawn with their predictions into overlays.png (0: none)")
    p.add_argument("--mode", type=str, default="hybrid", choices=("hybrid", "imperative"), help="MXNet graph mode")
    return p


def eval_segmentation_parser() -> argparse.ArgumentParser:
    """``scripts/eval_segmentation.py``: a run's checkpoint on the test split (mIoU, pixel accuracy, overlays)."""
    p = make_parser("Evaluate a segmentation checkpoint on its dataset's test split (the run_config.json beside it "
                    "says which network and data).")
    _engine_and_torch(p, False)
    p.add_argument("--params", type=str, required=True, help="a .params checkpoint of a train_segmentation run")
    _data_flags(p)
    p.add_argument("--overlays", type=nonneg_int, default=8, help="test scenes drawn into the overlays PNG (0: none)")
    p.add_argument("--out", type=str, default=None, help="overlays PNG path (default: beside --params)")
    return p


def _explicit(parser: argparse.ArgumentParser, argv: Sequence[str]) -> set:
    """Dests given on the command line (parsed against a copy whose defaults are all a sentinel)."""
    sentinel = object()
    probe = argparse.Namespace(**{a.dest: sentinel for a in parser._actions if a.dest != "help"})
    parser.parse_known_args(list(argv), namespace=probe)
    return {k for k, v in vars(probe).items() if v is not sentinel}


def _check_engine(args: argparse.Namespace, explicit: set, engine: str) -> None:
    if engine == "mxnet":
        for dest in ("device", "channels_last", "compile", "threads"):
            if dest in explicit:
                raise ValueError(f"{TORCH_ONLY.get(dest, '--' + dest)} is a PyTorch engine flag; add --engine torch")
        if args.dtype != "float32":
            raise ValueError(f"--dtype {args.dtype}: the MXNet engine trains segmentation in float32")
    elif "gpus" in explicit and args.gpus:
        raise ValueError("--gpus is the MXNet engine's flag; the PyTorch engine takes --device cuda:N")
    if args.dataset != "fashion-mnist-scenes":
        if engine != "mxnet":
            raise ValueError(f"--dataset {args.dataset}: GluonCV's datasets are read by the MXNet engine; the "
                             f"PyTorch engine trains on fashion-mnist-scenes")
        if "binary" in explicit and args.binary is not None:
            raise ValueError("--binary applies to --dataset fashion-mnist-scenes only")
        for dest in ("train_size", "test_size"):   # a recipe's sizes are the scenes'; GluonCV's: all unless given
            if hasattr(args, dest) and dest not in explicit:
                setattr(args, dest, 0)
        if getattr(args, "crop_size", None) is None and hasattr(args, "crop_size"):
            args.crop_size = DEFAULT_CROP
        if getattr(args, "crop_size", None) is not None and args.crop_size % 4:
            raise ValueError(f"--crop-size {args.crop_size}: must be divisible by 4 (32 for aff_resnet50_fpn)")
    elif getattr(args, "crop_size", None) is not None:
        raise ValueError("--crop-size applies to GluonCV's datasets (--dataset voc, ade20k, coco) only")
    if args.canvas % 4:
        raise ValueError(f"--canvas {args.canvas}: must be divisible by 4 (the FPN's strides)")


def parse_train_segmentation(argv: Optional[Sequence[str]], engine: str) -> Tuple[argparse.Namespace, List[str]]:
    """The flags of a training run with its recipe's defaults under explicit flags; also the log lines saying
    which recipe set what. ValueError for a bad combination."""
    import sys
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = train_segmentation_parser()
    first = parser.parse_args(argv)
    recipe = load_seg_recipe(first.recipe)
    known = {a.dest for a in parser._actions}
    unknown = sorted(set(recipe) - known - {"name", "about"})
    if unknown:
        raise ValueError(f"--recipe {first.recipe}: unknown fields {', '.join(unknown)}")
    parser.set_defaults(**{k: v for k, v in recipe.items() if k in known})
    args = parser.parse_args(argv)
    explicit = _explicit(parser, argv)
    _check_engine(args, explicit, engine)
    canonical_fusion(args.fusion)   # a clear error for an unknown form, before anything is written
    overridden = sorted(d for d in explicit if d in recipe)
    lines = [f"recipe {recipe.get('name', first.recipe)}: {recipe.get('about', '')}".rstrip()]
    if overridden:
        lines.append("flags over the recipe: " + ", ".join(f"{d}={getattr(args, d)!r}" for d in overridden))
    return args, lines


def parse_eval_segmentation(argv: Optional[Sequence[str]], engine: str) -> argparse.Namespace:
    """The flags of an evaluation; ValueError for a bad combination."""
    import sys
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = eval_segmentation_parser()
    args = parser.parse_args(argv)
    _check_engine(args, _explicit(parser, argv), engine)
    return args


def scene_settings(args: argparse.Namespace) -> Dict[str, Any]:
    """The dataset's settings of a run (kept in run_config.json so evaluation rebuilds the same test scenes, or
    GluonCV's validation crops: their ``crop_size`` and ``data_dir``)."""
    settings = {"dataset": args.dataset, "canvas": args.canvas, "binary": args.binary,
                "train_size": getattr(args, "train_size", 0), "seed": getattr(args, "seed", 0)}
    if args.dataset != "fashion-mnist-scenes":   # GluonCV's: eval rebuilds the same validation crops
        settings.update(crop_size=args.crop_size, data_dir=os.path.abspath(args.data_dir) if args.data_dir else None)
    return settings


def segmentation_model(args: argparse.Namespace, classes: int, in_channels: int) -> str:
    """The model spec text of a run: ``--model-name`` as given, or the paper's ResNet-20-b + FPN at depth 6b + 2
    with ``--fusion`` in the long skips (its r: ``--fusion-r`` or the paper preset)."""
    from .ablation import preset_r
    if args.model_name:
        return args.model_name
    fusion = canonical_fusion(args.fusion)
    r = args.fusion_r if args.fusion_r is not None else preset_r(fusion)
    widths = [16 * args.channel_times, 16 * args.channel_times, 32 * args.channel_times, 64 * args.channel_times]
    family = fusion if fusion in ("aff", "iaff", "add") else "aff"
    extra = ("" if family == fusion else f", fusion={fusion!r}") + ("" if r is None else f", fusion_r={r}")
    return (f"cifar_{family}_fpn{6 * args.blocks + 2}(channels={widths}, classes={classes}, "
            f"in_channels={in_channels}{extra})")


def segmentation_spec(args: argparse.Namespace, classes: int, in_channels: int):
    """The :class:`afflib.core.modelspec.ModelSpec` of a run: :func:`segmentation_model`'s text, a ``--model-name``
    given the data's classes and input channels (e.g. ``aff_resnet50_fpn`` on 11-class single-channel scenes)."""
    from .modelspec import ModelSpec
    text = segmentation_model(args, classes, in_channels)
    if args.model_name:
        return ModelSpec.create(text, classes=classes, in_channels=in_channels)
    return ModelSpec.create(text)
