"""The one table between the training scripts' flags (the original release's names), recipe fields and the
release's Namespace keys; ``--recipe`` parsing; ``--model-name`` conflicts with explicit architecture flags.

A flag's dest is also the key the release's logs print in their ``Namespace(...)`` line (afflib kept the original
names), with one difference of meaning: the release subtracted the warmup epochs from ``--lr-decay-epoch`` (GluonCV's
``LRSequential`` counts its step epochs after warmup), afflib's decay epochs are absolute.
"""
from __future__ import annotations

import argparse
import math
import os
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from .modelspec import entry, full_args, parse_spec
from .recipes import Recipe, RecipeError, load_recipe
from .specs import canonical_fusion

__all__ = ["FlagRow", "FLAG_TABLE", "AUGMENTATION_FLAGS", "recipe_args", "release_args", "release_mismatches",
           "same_value", "explicit_dests", "RecipeUse", "parse_with_recipe", "named_model_values",
           "model_name_conflicts", "flag_table_markdown", "field_of"]


@dataclass(frozen=True)
class FlagRow:
    """Recipe ``field`` <-> ``--flag`` of train_cifar.py / train_imagenet.py (None: no such flag) -> ``kind``."""

    field: str
    cifar: Optional[str]
    imagenet: Optional[str]
    kind: str = "value"          # value | list | smoothing | cosine | augmentation | none
    note: str = ""

    def flag(self, script: str) -> Optional[str]:
        return self.cifar if script == "train_cifar" else self.imagenet


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


FLAG_TABLE: Tuple[FlagRow, ...] = (
    FlagRow("dataset", "--dataset", None),
    FlagRow("coarse_labels", "--coarse-labels", None, note="CIFAR-100's 20 superclasses (not in the release's flags)"),
    FlagRow("model.family", "--model", "--model"),
    FlagRow("model.fusion", "--askc-type", "--askc-type", note="release names ASKCFuse, ResGlobLocaforGlobLocaCha"),
    FlagRow("model.blocks", "--blocks", None),
    FlagRow("model.channel_times", "--channel-times", None),
    FlagRow("model.depth", None, "--num-layer"),
    FlagRow("model.start_layer", "--start-layer", "--start-layer"),
    FlagRow("model.deep_stem", "--deep-stem", None),
    FlagRow("model.r", None, "--r"),
    FlagRow("model.last_gamma", None, "--last-gamma"),
    FlagRow("model.registry", None, None, "none", "the registry name the model fields build (--model-name)"),
    FlagRow("devices", None, None, "none", "the release's device count: --gpus/--num-gpus/--cpus stay flags"),
    FlagRow("epochs", "--num-epochs", "--num-epochs"),
    FlagRow("batch_per_device", "--batch-size", "--batch-size"),
    FlagRow("optimizer", None, None, "none", "NAG in both scripts"),
    FlagRow("momentum", "--momentum", "--momentum"),
    FlagRow("wd", "--wd", "--wd"),
    FlagRow("no_wd", "--no-wd", "--no-wd"),
    FlagRow("lr", "--lr", "--lr"),
    FlagRow("warmup_epochs", "--warmup-epochs", "--warmup-epochs"),
    FlagRow("warmup_lr", "--warmup-lr", "--warmup-lr"),
    FlagRow("lr_mode", "--cosine", "--lr-mode", "cosine", "train_cifar: --cosine for cosine, step without it"),
    FlagRow("decay_epochs", "--lr-decay-epoch", "--lr-decay-epoch", "list",
            "absolute epochs, warmup included; the release counted its --lr-decay-epoch after warmup "
            "(release value = absolute + warmup_epochs); null keeps the flag's default (unused outside step mode)"),
    FlagRow("decay_factor", "--lr-decay", "--lr-decay"),
    FlagRow("decay_period", "--lr-decay-period", "--lr-decay-period"),
    FlagRow("mixup", "--mixup", "--mixup"),
    FlagRow("mixup_alpha", "--mixup-alpha", "--mixup-alpha"),
    FlagRow("mixup_off_epochs", "--mixup-off-epoch", "--mixup-off-epoch"),
    FlagRow("label_smoothing", "--label-smoothing", "--label-smoothing", "smoothing", "0.1 <-> the switch given"),
    FlagRow("dtype", "--dtype", "--dtype"),
    FlagRow("init", None, None, "none", "train_cifar: Xavier(magnitude=2); train_imagenet: MSRA (Kaiming)"),
    FlagRow("augmentation", "--auto_aug", "--auto_aug", "augmentation", "a preset: see AUGMENTATION_FLAGS"),
    FlagRow("input_size", None, "--input-size"),
    FlagRow("crop_ratio", None, "--crop-ratio"),
    FlagRow("save_every", "--save-period", "--save-frequency", note="numbered checkpoint every N epochs (0: none)"),
    FlagRow("mode", "--mode", "--mode"),
    FlagRow("log_interval", "--log-interval", "--log-interval"),
)
# Augmentation preset -> the flags' values (train_imagenet's --faithful-aug: --auto_aug ignored on records).
AUGMENTATION_FLAGS: Dict[str, Dict[str, bool]] = {
    "cifar_crop_flip": {"auto_aug": False},
    "cifar_autoaugment": {"auto_aug": True},
    "imagenet_inception": {"auto_aug": False, "faithful_aug": False},
    "imagenet_autoaugment": {"auto_aug": True, "faithful_aug": False},
    "imagenet_release_records": {"auto_aug": True, "faithful_aug": True},
}


def _field(recipe: Mapping[str, Any], field: str) -> Any:
    value: Any = recipe
    for part in field.split("."):
        value = value[part]
    return value


def recipe_args(recipe: Recipe, script: Optional[str] = None) -> Dict[str, Any]:
    """``{dest: value}`` the recipe gives ``script``'s flags, as argparse would hold them after parsing."""
    script = script or recipe.script
    args: Dict[str, Any] = {}
    for row in FLAG_TABLE:
        flag = row.flag(script)
        if flag is None or row.kind == "none":
            continue
        value = _field(recipe, row.field)
        if row.kind == "augmentation":
            args.update(AUGMENTATION_FLAGS[value])
        elif row.kind == "list":
            if value is not None:
                args[_dest(flag)] = ",".join(str(v) for v in value)
        elif row.kind == "smoothing":
            args[_dest(flag)] = bool(value)
        elif row.kind == "cosine" and flag == "--cosine":      # train_cifar's switch; --lr-mode takes the name
            args[_dest(flag)] = value == "cosine"
        else:
            args[_dest(flag)] = value
    return args


def field_of(dest: str, script: str) -> str:
    """The recipe field behind a flag dest (``lr_decay_epoch`` -> ``decay_epochs``)."""
    for row in FLAG_TABLE:
        flag = row.flag(script)
        if flag and (_dest(flag) == dest or (row.kind == "augmentation" and dest in ("auto_aug", "faithful_aug"))):
            return row.field
    return dest


def release_args(recipe: Recipe) -> Dict[str, Any]:
    """The recipe as the release's Namespace line would print it (decay epochs counted after warmup)."""
    args = recipe_args(recipe)
    args.pop("faithful_aug", None)
    if "lr_decay_epoch" in args:
        args["lr_decay_epoch"] = ",".join(str(e + recipe["warmup_epochs"]) for e in recipe["decay_epochs"])
    return args


def same_value(dest: str, a: Any, b: Any) -> bool:
    """Equal flag values: fusion names by meaning, numbers within rounding, epoch lists by their integers."""
    if dest == "askc_type":
        try:
            return canonical_fusion(a) == canonical_fusion(b)
        except ValueError:
            return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if dest == "lr_decay_epoch" and isinstance(a, str) and isinstance(b, str):
        return [int(e) for e in a.split(",") if e.strip()] == [int(e) for e in b.split(",") if e.strip()]
    return a == b


def release_mismatches(recipe: Recipe, namespace: Mapping[str, Any]) -> List[str]:
    """Where the recipe differs from a release Namespace (keys it lacks are skipped), one line each."""
    return [f"{field_of(dest, recipe.script)} (--{dest}): recipe {value!r}, release {namespace[dest]!r}"
            for dest, value in release_args(recipe).items()
            if dest in namespace and not same_value(dest, value, namespace[dest])]


_UNSET = object()


def explicit_dests(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]]) -> Set[str]:
    """The dests that ``argv`` sets explicitly (a flag equal to its default counts; a default does not)."""
    blank = argparse.Namespace(**{dest: _UNSET for dest in vars(parser.parse_args([]))})
    parsed, _ = parser.parse_known_args(argv, namespace=blank)
    return {dest for dest, value in vars(parsed).items() if value is not _UNSET}


@dataclass
class RecipeUse:
    """The recipe a run started from and the flags that overrode it (``{dest: (recipe value, flag value)}``)."""

    recipe: Optional[Recipe]
    overrides: Dict[str, Tuple[Any, Any]]
    model_name: str = ""

    def lines(self) -> List[str]:
        """Log lines: the recipe and where it came from, each override by field and flag."""
        if self.recipe is None:
            return []
        lines = [f"recipe: {self.recipe.name} ({self.recipe.source})"]
        for dest, (old, new) in self.overrides.items():
            lines.append(f"recipe field {field_of(dest, self.recipe.script)} overridden by --{dest.replace('_', '-')}:"
                         f" {old!r} -> {new!r}")
        if self.model_name:
            lines.append(f"recipe field model ({self.recipe['model']['registry']}) overridden by --model-name: "
                         f"{self.model_name}")
        return lines


def parse_with_recipe(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]],
                      script: str) -> Tuple[argparse.Namespace, RecipeUse]:
    """Parse ``argv`` with ``--recipe NAME|PATH`` setting the defaults (explicit flags override them); refuse,
    with exit status 2, a recipe of the other script and explicit architecture flags that contradict
    ``--model-name``. ``args.recipe`` becomes the recipe's name (its absolute path for a file outside the package)."""
    given = parser.parse_args(argv).recipe          # the parser itself, so that abbreviations read the same
    recipe, defaults = None, {}
    if given:
        try:
            recipe = load_recipe(given)
        except RecipeError as err:
            parser.error(f"argument --recipe: {err}")
        if recipe.script != script:
            parser.error(f"argument --recipe: {recipe.name} is a recipe of {recipe.script}.py, not {script}.py")
        defaults = recipe_args(recipe, script)
        parser.set_defaults(**defaults)
    args = parser.parse_args(argv)
    explicit = explicit_dests(parser, argv)
    if recipe is not None:
        args.recipe = recipe.name if recipe.builtin else os.path.abspath(recipe.source)
    model_name = getattr(args, "model_name", "")
    if model_name:
        given = {dest: getattr(args, dest) for dest in explicit}
        problems = model_name_conflicts(model_name, given, script)
        if problems:
            parser.error("; ".join(problems))
    overrides = {dest: (value, getattr(args, dest)) for dest, value in defaults.items()
                 if dest in explicit and not same_value(dest, value, getattr(args, dest))}
    return args, RecipeUse(recipe, overrides, model_name if recipe is not None else "")


# The architecture flags of each script that --model-name fixes.
MODEL_FLAGS = {"train_cifar": ("model", "askc_type", "blocks", "channel_times", "start_layer", "deep_stem"),
               "train_imagenet": ("model", "askc_type", "num_layer", "start_layer", "r", "last_gamma")}


def named_model_values(spec_text: str) -> Dict[str, Any]:
    """The values the architecture flags would need to describe the model ``spec_text`` (None: not expressible)."""
    spec = parse_spec(spec_text)
    family, _ = entry(spec.name)
    family = getattr(family, "__name__", family)
    args = full_args(spec)
    layers, widths = args.get("layers"), args.get("channels")
    depth = re.search(r"resne(?:x)?t(\d+)", spec.name)
    return {
        "model": "resnext" if "ResNeXt" in str(family) else "resnet",
        "askc_type": canonical_fusion(args.get("fusion", "aff")),
        "blocks": layers[0] if isinstance(layers, list) and len(set(layers)) == 1 else None,
        "channel_times": (widths[0] // 16 if isinstance(widths, list) and len(widths) == 4 and widths[0] % 16 == 0
                          and widths == [widths[0], widths[0], 2 * widths[0], 4 * widths[0]] else None),
        "start_layer": args.get("start_layer"),
        "deep_stem": bool(args.get("deep_stem", False)),
        "num_layer": int(depth.group(1)) if depth else None,
        "r": args.get("fusion_r"),
        "last_gamma": bool(args.get("last_gamma", False)),
    }


def model_name_conflicts(spec_text: str, given: Mapping[str, Any], script: str) -> List[str]:
    """One message per explicit architecture flag in ``given`` (``{dest: value}``) that contradicts the named
    model (torchvision's ``_ovewrite_named_param``: equal values are fine). An unknown name gives no message here:
    building the model reports it."""
    try:
        named = named_model_values(spec_text)
    except ValueError:
        return []
    problems = []
    for dest in MODEL_FLAGS[script]:
        if dest not in given:
            continue
        model_value = named[dest]
        if model_value is None or not same_value(dest, given[dest], model_value):
            shown = "no single value" if model_value is None else repr(model_value)
            value = "" if given[dest] is True else f" {given[dest]!r}"
            problems.append(f"--{dest.replace('_', '-')}{value} conflicts with --model-name {spec_text}, which has "
                            f"{dest} {shown}; drop the flag or name a model that has it")
    return problems


def flag_table_markdown() -> str:
    """The table as Markdown (for docs/training.md)."""
    rows = ["| recipe field | train_cifar.py | train_imagenet.py | note |", "|---|---|---|---|"]
    for row in FLAG_TABLE:
        cells = [f"`{row.field}`"] + [f"`{f}`" if f else "-" for f in (row.cifar, row.imagenet)] + [row.note]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)
