"""A training run's record in ``run_config.json``: the network (registry name + constructor kwargs), the dataset
(name, label set, classes, channels, evaluation size) and the recipe, read and written without any CLI flag name.

The training engine writes :func:`record_entries` into the run's ``run_config.json`` (next to a flat copy of the
command line's arguments, kept for people: nothing reads it to build a network). Every tool that takes a run's
checkpoint alone (eval, predict, gradcam, export, convert, either engine) reads it back with
:func:`read_run_record`. Records of earlier versions still load: two small readers here (``_model_spec_record``,
``_flags_record``), the only code that still knows the training flag names, turn them into a :class:`RunRecord`.
Framework-free: the PyTorch tools import it too.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

from .datasets import EVAL_CROP_RATIO, SMALL_IMAGE_DATASETS
from .modelspec import ModelSpec, cifar_spec, format_value, full_args

__all__ = ["RUN_CONFIG", "RECORD_FORMAT", "RunRecord", "record_entries", "read_run_record", "record_from_config",
           "flag_given", "refuse_conflicts", "checked_run_record", "use_imagenet_record"]

RUN_CONFIG = "run_config.json"
RECORD_FORMAT = "afflib-run/2"


@dataclass
class RunRecord:
    """The network of a run, the data it was trained on and its recipe, as its ``run_config.json`` records them."""

    spec: ModelSpec
    dataset: str                      # cifar10, cifar100, fashion-mnist or imagenet
    classes: int
    in_channels: int
    path: str = ""                    # the run_config.json it was read from ('' for one being written)
    coarse_labels: bool = False
    input_size: Optional[int] = None  # the training crop (ImageNet); None: the dataset's image size
    crop_ratio: float = EVAL_CROP_RATIO
    recipe: Optional[str] = None      # the named recipe the run followed (``--recipe``), if any

    @property
    def label_set(self) -> str:
        """The dataset with its label set: ``cifar100-coarse`` for the 20 superclasses."""
        return self.dataset + ("-coarse" if self.coarse_labels else "")


def record_entries(record: RunRecord) -> Dict[str, Any]:
    """The keys the training engine writes into ``run_config.json`` for ``record``: ``network`` (registry name,
    constructor kwargs, and the one-line text for people), ``dataset`` and ``recipe``."""
    return {"record_format": RECORD_FORMAT,
            "network": {"name": record.spec.name, "kwargs": dict(record.spec.kwargs), "text": record.spec.text()},
            "dataset": {"name": record.dataset, "coarse_labels": record.coarse_labels, "classes": record.classes,
                        "in_channels": record.in_channels, "input_size": record.input_size,
                        "crop_ratio": record.crop_ratio},
            "recipe": record.recipe}


def read_run_record(params: str) -> Optional[RunRecord]:
    """The record of the run ``params`` belongs to (``run_config.json`` beside it), or None if there is none."""
    path = Path(params).parent / RUN_CONFIG
    if not path.is_file():
        return None
    try:
        with open(path, encoding="utf-8") as stream:
            config = json.load(stream)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable run record ({err})") from None
    return record_from_config(config, str(path))


def record_from_config(config: Any, path: str) -> RunRecord:
    """A :class:`RunRecord` from a loaded ``run_config.json``: this version's ``network``/``dataset``/``recipe``
    keys, else the issue-12 ``model_spec`` key, else the flags of a record from before both (main @13122a3)."""
    if not isinstance(config, dict):
        raise ValueError(f"{path} is not a run record (a JSON object)")
    if "network" in config:
        return _current_record(config, path)
    if not isinstance(config.get("args"), dict):
        raise ValueError(f"{path} has neither a 'network' record nor an 'args' record of the training command line")
    if config.get("model_spec") is not None:
        return _model_spec_record(config, path)
    return _flags_record(config, path)


def _current_record(config: Dict[str, Any], path: str) -> RunRecord:
    network, data = config.get("network"), config.get("dataset")
    try:
        if not isinstance(network, dict) or not isinstance(data, dict):
            raise TypeError("'network' and 'dataset' must be objects")
        kwargs = network.get("kwargs", {})
        if not isinstance(kwargs, dict):
            raise TypeError("network 'kwargs' must be an object")
        spec = ModelSpec.create(network["name"], **kwargs)
        size = data.get("input_size")
        return RunRecord(spec, str(data["name"]), int(data["classes"]), int(data["in_channels"]), path,
                         bool(data.get("coarse_labels")), None if size is None else int(size),
                         float(data.get("crop_ratio", EVAL_CROP_RATIO)), config.get("recipe"))
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: bad run record ({type(err).__name__}: {err})") from None


# Records written before this version. Their network is known only through the flags of the command line that
# trained them: these two readers are the one place that still knows those flag names, and only to read old runs.

def _model_spec_record(config: Dict[str, Any], path: str) -> RunRecord:
    """Issue 12 (e.g. main @ed509e5): ``model_spec`` = spec + dataset; the evaluation size from the flags."""
    entry, args = config["model_spec"], config["args"]
    try:
        spec = ModelSpec.create(entry["name"], **entry.get("kwargs", {}))
        return RunRecord(spec, entry["dataset"], int(entry["classes"]), int(entry["in_channels"]), path,
                         bool(entry.get("coarse_labels")), args.get("input_size"),
                         args.get("crop_ratio", EVAL_CROP_RATIO))
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: bad model_spec record ({err})") from None


def _need(mapping: Dict[str, Any], key: str, path: str, what: str) -> Any:
    if key not in mapping:
        raise ValueError(f"{path}: {what} has no {key!r}; pass the model flags explicitly")
    return mapping[key]


def _flags_record(config: Dict[str, Any], path: str) -> RunRecord:
    """Before issue 12 (main @13122a3): only ``args`` (the training script's flags) and ``model`` (a file tag)."""
    args = config["args"]
    dataset = args.get("dataset")
    if dataset in SMALL_IMAGE_DATASETS:                       # scripts/train_cifar.py
        coarse = bool(args.get("coarse_labels"))
        classes, channels = SMALL_IMAGE_DATASETS[dataset]
        classes = 20 if coarse else classes
        if args.get("model_name"):
            spec = ModelSpec.create(args["model_name"], classes=classes, in_channels=channels)
        else:
            spec = cifar_spec(*(_need(args, k, path, "args") for k in ("model", "askc_type", "blocks",
                                                                      "channel_times", "start_layer")),
                              classes, channels, bool(args.get("deep_stem")))
        return RunRecord(spec, dataset, classes, channels, path, coarse)
    name = config.get("model") or _need(args, "model_name", path, "args")   # scripts/train_imagenet.py
    kwargs = {"classes": args.get("classes", 1000)}
    if not args.get("model_name"):
        kwargs.update(start_layer=_need(args, "start_layer", path, "args"), fusion_r=_need(args, "r", path, "args"))
    spec = ModelSpec.create(name, **kwargs)
    return RunRecord(spec, "imagenet", kwargs["classes"], 3, path, False, args.get("input_size"),
                     args.get("crop_ratio", EVAL_CROP_RATIO))


def flag_given(argv: Sequence[str], *flags: str) -> Optional[str]:
    """The first of ``flags`` written on the command line ``argv`` (``--x v`` or ``--x=v``), else None."""
    for token in argv:
        name = str(token).split("=", 1)[0]
        if name in flags:
            return name
    return None


def refuse_conflicts(record: RunRecord, params: str, pairs: Iterable[Tuple[str, Any, Any]]) -> None:
    """Raise a ValueError naming the first flag whose value contradicts the run's record.

    ``pairs``: (flag, value given, value recorded), only for flags written on the command line.
    """
    for flag, given, recorded in pairs:
        if given != recorded:
            show = [v if isinstance(v, str) else format_value(v) for v in (given, recorded)]
            raise ValueError(f"{flag} {show[0]} conflicts with the run record of {params}, {record.path} ({show[1]}; "
                             f"the run trained {record.spec.text()} on {record.label_set}): drop {flag}")


def checked_run_record(params: str, argv: Sequence[str], model: Optional[str], model_kwargs: Dict[str, Any],
                       classes: Optional[int], in_channels: Optional[int]) -> Optional[RunRecord]:
    """The run record beside ``params`` after refusing the model flags of ``argv`` (``--model``, ``--model-kwargs``,
    ``--classes``, ``--in-channels``) that contradict it; None if ``params`` has no record."""
    record = read_run_record(params)
    if record is None:
        return None
    recorded = full_args(record.spec)
    pairs = [("--classes", classes, record.classes), ("--in-channels", in_channels, record.in_channels)]
    pairs += [("--model-kwargs", f"{k}={format_value(v)}", f"{k}={format_value(recorded.get(k))}")
              for k, v in model_kwargs.items()]
    if model:
        args = dict(model_kwargs, classes=record.classes if classes is None else classes,
                    in_channels=record.in_channels if in_channels is None else in_channels)
        pairs.append(("--model", ModelSpec.create(model, **args).text(), record.spec.text()))
    refuse_conflicts(record, params, [p for p in pairs if flag_given(argv, p[0])])
    return record


def use_imagenet_record(args: Any, argv: Sequence[str]) -> None:
    """The eval_imagenet tools (both engines): model, classes, input size and crop ratio from the run of
    ``args.params`` (``run_config.json`` beside it) where not given; a contradicting --model or --classes is refused.
    Without a record, --model is needed."""
    given = args.classes if flag_given(argv, "--classes") else None
    record = checked_run_record(args.params, argv, args.model, {}, given, None) if args.params else None
    if record is None:
        if not args.model:
            raise ValueError(f"--model is needed: {args.params or 'no --params'} has no {RUN_CONFIG} beside it")
        return
    if record.dataset != "imagenet":
        raise ValueError(f"{args.params} is from a {record.label_set} run ({record.path}); use eval_cifar.py")
    args.model, args.classes = record.spec.text(), record.classes
    for flag, key in (("--input-size", "input_size"), ("--crop-ratio", "crop_ratio")):
        if not flag_given(argv, flag) and getattr(record, key):
            setattr(args, key, getattr(record, key))
