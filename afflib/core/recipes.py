"""Training recipes as data: one JSON file per run in ``afflib/core/recipes/`` (package data).

A recipe holds every setting of a run that is not about the machine: data set, model (the original flags' values
and the registry name they build), epochs, batch per device, optimizer, learning rate, warmup, schedule with
ABSOLUTE decay epochs (counted from 0, warmup included), mixup, label smoothing, no-wd, dtype, initialisation,
augmentation preset, save policy. :mod:`afflib.core.flagtable` maps the fields to the scripts' flags and to the
release's Namespace keys. JSON keeps the core free of a config parser; a new recipe is one new file.
"""
from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from .specs import canonical_fusion

__all__ = ["RECIPE_DIR", "SCRIPTS", "AUGMENTATIONS", "INITS", "Recipe", "RecipeError", "list_recipes", "load_recipe",
           "validate_recipe", "recipe_path"]

RECIPE_DIR = Path(__file__).with_name("recipes")
SCRIPTS = ("train_cifar", "train_imagenet")
# Augmentation presets: what each one means for the scripts' flags (see flagtable.AUGMENTATION_FLAGS).
AUGMENTATIONS = {
    "train_cifar": ("cifar_crop_flip", "cifar_autoaugment"),
    "train_imagenet": ("imagenet_inception", "imagenet_autoaugment", "imagenet_release_records"),
}
# The initialiser each script uses (not a flag: a recipe states it so that a run record says what was done).
INITS = {"train_cifar": "xavier", "train_imagenet": "msra"}

_Check = Tuple[Callable[[Any], bool], str]
_INT: _Check = (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer")
_NUM: _Check = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number")
_BOOL: _Check = (lambda v: isinstance(v, bool), "true or false")
_TEXT: _Check = (lambda v: isinstance(v, str) and bool(v.strip()), "a non-empty string")


def _at_least(check: _Check, lo: float) -> _Check:
    return (lambda v: check[0](v) and v >= lo, f"{check[1]} >= {lo:g}")


def _optional(check: _Check) -> _Check:
    return (lambda v: v is None or check[0](v), f"null or {check[1]}")


_EPOCH_LIST: _Check = (lambda v: v is None or (isinstance(v, list) and all(_INT[0](e) and e >= 0 for e in v)),
                       "null or a list of integers >= 0 (absolute epochs, warmup included)")
_RELEASE: _Check = (lambda v: v is None or (isinstance(v, dict) and set(v) <= {"log", "line", "result"}
                                            and isinstance(v.get("log"), str) and _INT[0](v.get("line"))),
                    'null or {"log": path under original_logs, "line": its Namespace line number, "result": text}')

# field -> (check, choices or None); every field is required (null where the script offers no such setting).
FIELDS: Dict[str, Tuple[_Check, Optional[Tuple[Any, ...]]]] = {
    "name": (_TEXT, None), "about": (_TEXT, None), "script": (_TEXT, SCRIPTS),
    "dataset": (_TEXT, ("cifar10", "cifar100", "fashion-mnist", "imagenet")),
    "model": ((lambda v: isinstance(v, dict), "an object of model fields"), None),
    "devices": (_at_least(_INT, 1), None), "epochs": (_at_least(_INT, 1), None),
    "batch_per_device": (_at_least(_INT, 1), None), "optimizer": (_TEXT, ("nag",)),
    "momentum": (_at_least(_NUM, 0), None), "wd": (_at_least(_NUM, 0), None), "no_wd": (_BOOL, None),
    "lr": (_at_least(_NUM, 0), None), "warmup_epochs": (_at_least(_INT, 0), None),
    "warmup_lr": (_at_least(_NUM, 0), None), "lr_mode": (_TEXT, ("step", "cosine", "poly")),
    "decay_epochs": (_EPOCH_LIST, None), "decay_factor": (_at_least(_NUM, 0), None),
    "decay_period": (_at_least(_INT, 0), None), "mixup": (_BOOL, None), "mixup_alpha": (_at_least(_NUM, 0), None),
    "mixup_off_epochs": (_at_least(_INT, 0), None), "label_smoothing": (_NUM, (0, 0.1)),
    "dtype": (_TEXT, ("float32", "float16")), "init": (_TEXT, ("xavier", "msra")), "augmentation": (_TEXT, None),
    "save_every": (_at_least(_INT, 0), None), "mode": (_TEXT, ("hybrid", "imperative")),
    "log_interval": (_at_least(_INT, 0), None), "release": (_RELEASE, None),
}
SCRIPT_FIELDS: Dict[str, Dict[str, Tuple[_Check, Optional[Tuple[Any, ...]]]]] = {
    "train_cifar": {"coarse_labels": (_BOOL, None)},
    "train_imagenet": {"input_size": (_at_least(_INT, 16), None), "crop_ratio": (_NUM, None)},
}
MODEL_FIELDS: Dict[str, Dict[str, Tuple[_Check, Optional[Tuple[Any, ...]]]]] = {
    "train_cifar": {"registry": (_TEXT, None), "family": (_TEXT, ("resnet", "resnext")), "fusion": (_TEXT, None),
                    "blocks": (_at_least(_INT, 1), None), "channel_times": (_at_least(_INT, 1), None),
                    "start_layer": (_at_least(_INT, 1), None), "deep_stem": (_BOOL, None)},
    "train_imagenet": {"registry": (_TEXT, None), "family": (_TEXT, ("resnet", "resnext")), "fusion": (_TEXT, None),
                       "depth": (_INT, (50, 101, 152)), "start_layer": (_at_least(_INT, 1), None),
                       "r": (_at_least(_INT, 1), None), "last_gamma": (_BOOL, None)},
}


class RecipeError(ValueError):
    """A recipe that cannot be found or read, or a field with a wrong value; the message names file and field."""


class Recipe(Mapping[str, Any]):
    """A validated recipe: read-only mapping of its fields, plus ``name``, ``script`` and ``source`` (its file)."""

    def __init__(self, fields: Mapping[str, Any], source: str):
        self._fields = dict(fields)
        self.source = source

    def __getitem__(self, key: str) -> Any:
        return self._fields[key]

    def __iter__(self):
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    @property
    def name(self) -> str:
        return self._fields["name"]

    @property
    def script(self) -> str:
        return self._fields["script"]

    @property
    def builtin(self) -> bool:
        """True for a recipe shipped in :data:`RECIPE_DIR` (its name is enough to find it again)."""
        return Path(self.source).resolve().parent == RECIPE_DIR.resolve()

    def __repr__(self) -> str:
        return f"Recipe({self.name!r}, source={self.source!r})"


def list_recipes() -> List[str]:
    """Names of the shipped recipes, sorted."""
    return sorted(p.stem for p in RECIPE_DIR.glob("*.json"))


def recipe_path(name_or_path: Union[str, os.PathLike]) -> Path:
    """The file of a recipe NAME (shipped) or PATH (any ``.json`` file); a RecipeError lists the valid names."""
    text = os.fspath(name_or_path)
    if text.endswith(".json") or os.sep in text or "/" in text:
        path = Path(os.path.expanduser(text))
        if not path.is_file():
            raise RecipeError(f"recipe file not found: {text}")
        return path
    path = RECIPE_DIR / f"{text}.json"
    if not path.is_file():
        names = list_recipes()
        close = difflib.get_close_matches(text, names, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise RecipeError(f"unknown recipe {text!r}.{hint} Valid names: {', '.join(names)} "
                          f"(or the path of a .json recipe file)")
    return path


def load_recipe(name_or_path: Union[str, os.PathLike]) -> Recipe:
    """Read and validate a recipe by shipped NAME or file PATH."""
    path = recipe_path(name_or_path)
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise RecipeError(f"recipe file {path}: not valid JSON ({err})") from None
    except OSError as err:
        raise RecipeError(f"recipe file {path}: cannot be read ({err.strerror or err})") from None
    recipe = validate_recipe(fields, str(path))
    if recipe.builtin and recipe.name != path.stem:
        raise RecipeError(f"recipe file {path}: field 'name' must be the file's name {path.stem!r}, "
                          f"got {recipe.name!r}")
    return recipe


def _check_fields(values: Mapping[str, Any], spec: Mapping[str, Tuple[_Check, Optional[Tuple[Any, ...]]]],
                  where: str, prefix: str = "") -> None:
    unknown = sorted(set(values) - set(spec))
    if unknown:
        raise RecipeError(f"{where}: unknown field {', '.join(repr(prefix + k) for k in unknown)}; valid: "
                          f"{', '.join(prefix + k for k in spec)}")
    missing = [k for k in spec if k not in values]
    if missing:
        raise RecipeError(f"{where}: missing field {', '.join(repr(prefix + k) for k in missing)} "
                          f"(use null where a setting does not apply)")
    for key, ((accept, expected), choices) in spec.items():
        value = values[key]
        if not accept(value):
            raise RecipeError(f"{where}: field {prefix + key!r} must be {expected}, got {json.dumps(value)}")
        if choices is not None and value not in choices:
            raise RecipeError(f"{where}: field {prefix + key!r} must be one of "
                              f"{', '.join(json.dumps(c) for c in choices)}, got {json.dumps(value)}")


def validate_recipe(fields: Any, source: str = "<recipe>") -> Recipe:
    """A :class:`Recipe` of ``fields`` (parsed JSON) if every field is present with a valid value, else a
    RecipeError naming ``source``, the field and what is valid."""
    where = f"recipe file {source}"
    if not isinstance(fields, dict):
        raise RecipeError(f"{where}: expected a JSON object of recipe fields, got {type(fields).__name__}")
    script = fields.get("script")
    if script not in SCRIPTS:
        raise RecipeError(f"{where}: field 'script' must be one of {', '.join(SCRIPTS)}, got {json.dumps(script)}")
    _check_fields(fields, dict(FIELDS, **SCRIPT_FIELDS[script]), where)
    _check_fields(fields["model"], MODEL_FIELDS[script], where, "model.")
    try:
        canonical_fusion(fields["model"]["fusion"])
    except ValueError as err:
        raise RecipeError(f"{where}: field 'model.fusion': {err}") from None
    if fields["augmentation"] not in AUGMENTATIONS[script]:
        raise RecipeError(f"{where}: field 'augmentation' must be one of {', '.join(AUGMENTATIONS[script])} for "
                          f"{script}, got {json.dumps(fields['augmentation'])}")
    if fields["init"] != INITS[script]:
        raise RecipeError(f"{where}: field 'init': {script} initialises with {INITS[script]!r}, got "
                          f"{json.dumps(fields['init'])}")
    if (fields["dataset"] == "imagenet") != (script == "train_imagenet"):
        raise RecipeError(f"{where}: field 'dataset' {json.dumps(fields['dataset'])} is not trained by {script}")
    if script == "train_cifar" and fields["lr_mode"] == "poly":
        raise RecipeError(f"{where}: field 'lr_mode': train_cifar offers step and cosine, got \"poly\"")
    if fields["lr_mode"] == "step" and fields["decay_epochs"] is None and not fields["decay_period"]:
        raise RecipeError(f"{where}: field 'decay_epochs': step mode needs decay epochs or a decay_period")
    if fields["warmup_epochs"] > fields["epochs"] or fields["mixup_off_epochs"] > fields["epochs"]:
        raise RecipeError(f"{where}: fields 'warmup_epochs' and 'mixup_off_epochs' must be <= 'epochs' "
                          f"({fields['epochs']})")
    return Recipe(fields, source)
