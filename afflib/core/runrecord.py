"""What a training run's ``run_config.json`` says about its network: model spec, dataset, classes, input channels.

Every tool that takes a run's checkpoint alone (eval_cifar, eval_torch, convert, predict, gradcam, export) reads
it here. Runs written before the ``model_spec`` key (only ``args`` and ``model``) are understood from their flags.
Framework-free: the PyTorch tools import it too.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

from .modelspec import ModelSpec, cifar_spec, format_value, full_args

__all__ = ["RUN_CONFIG", "RunRecord", "spec_record", "read_run_record", "record_from_config", "flag_given",
           "refuse_conflicts", "checked_run_record"]

RUN_CONFIG = "run_config.json"
SMALL_IMAGE_DATASETS = {"cifar10": (10, 3), "cifar100": (100, 3), "fashion-mnist": (10, 1)}


@dataclass
class RunRecord:
    """The network of a run and the data it was trained on, as its ``run_config.json`` records them."""

    spec: ModelSpec
    dataset: str                      # cifar10, cifar100, fashion-mnist or imagenet
    classes: int
    in_channels: int
    path: str                         # the run_config.json it was read from
    coarse_labels: bool = False
    input_size: Optional[int] = None
    crop_ratio: float = 0.875

    @property
    def label_set(self) -> str:
        """The dataset with its label set: ``cifar100-coarse`` for the 20 superclasses."""
        return self.dataset + ("-coarse" if self.coarse_labels else "")


def spec_record(spec: ModelSpec, dataset: str, classes: int, in_channels: int,
                coarse_labels: bool = False) -> Dict[str, Any]:
    """The ``model_spec`` entry training writes into ``run_config.json``."""
    return dict(spec.record(), dataset=dataset, coarse_labels=coarse_labels, classes=classes, in_channels=in_channels)


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


def _need(mapping: Dict[str, Any], key: str, path: str, what: str) -> Any:
    if key not in mapping:
        raise ValueError(f"{path}: {what} has no {key!r}; pass the model flags explicitly")
    return mapping[key]


def record_from_config(config: Any, path: str) -> RunRecord:
    """A :class:`RunRecord` from a loaded ``run_config.json`` (``model_spec`` key, or an older ``args`` record)."""
    if not isinstance(config, dict) or not isinstance(config.get("args"), dict):
        raise ValueError(f"{path} has no 'args' record of the training command line")
    args = config["args"]
    size, crop = args.get("input_size"), args.get("crop_ratio", 0.875)
    entry = config.get("model_spec")
    if entry is not None:
        try:
            spec = ModelSpec.create(entry["name"], **entry.get("kwargs", {}))
            return RunRecord(spec, entry["dataset"], int(entry["classes"]), int(entry["in_channels"]), path,
                             bool(entry.get("coarse_labels")), size, crop)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{path}: bad model_spec record ({err})") from None
    dataset = args.get("dataset")
    if dataset in SMALL_IMAGE_DATASETS:                       # scripts/train_cifar.py before model_spec
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
    return RunRecord(spec, "imagenet", kwargs["classes"], 3, path, False, size, crop)


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
