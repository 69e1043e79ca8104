"""The release's log lines: writers of the lines afflib prints in the original format, and a parser that reads both
afflib's logs and the release's own (``original_logs``: ImageNet ``train_imagenet.log`` lines, CIFAR ``INFO:root:``
lines, several runs per file).

Lines written (``%f`` = six decimals, fields separated by tabs as the release wrote them)::

    Namespace(askc_type='ASKCFuse', batch_size=128, ...)                        the run's arguments
    Epoch[0] Batch [49]\tSpeed: 1391.035831 samples/sec\tloss=0.026319\tlr=0.000300
    [Epoch 0] training: loss=2.302585\taccuracy=0.100000                         (release: rmse=...)
    [Epoch 0] speed: 2106 samples/sec\ttime cost: 621.887258
    [Epoch 0] validation: err-top1=0.959224 err-top5=0.878308
    [Epoch 0] validation: mIoU=0.512345 pixAcc=0.912345                        (segmentation)
    [Epoch 0] train=0.072373 val=0.034300 loss=4.584037 lr: 0.200000 time: 29.449320   (CIFAR script)
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

__all__ = ["namespace_line", "batch_line", "training_line", "speed_line", "validation_line", "segmentation_validation_line",
           "segmentation_record_line", "final_miou_line", "cifar_epoch_line",
           "cifar_record_line", "final_accuracy_line", "cifar_test_lines", "parse_namespace", "parse_line",
           "parse_log", "LogRun"]


def namespace_line(values: Mapping[str, Any]) -> str:
    """``Namespace(k=v, ...)`` with keys sorted, as the release's Python printed ``str(args)`` (argparse sorted
    them before Python 3.9; later versions keep the order the flags were defined in, which the parser reads too)."""
    return "Namespace(" + ", ".join(f"{k}={values[k]!r}" for k in sorted(values)) + ")"


def batch_line(epoch: int, batch: int, speed: float, metrics: Sequence[Tuple[str, float]], lr: float) -> str:
    """``Epoch[E] Batch [B]\\tSpeed: S samples/sec\\tname=value...\\tlr=LR`` (``batch``: 0-based index)."""
    values = "\t".join("%s=%f" % (name, value) for name, value in metrics)
    return "Epoch[%d] Batch [%d]\tSpeed: %f samples/sec\t%s\tlr=%f" % (epoch, batch, speed, values, lr)


def training_line(epoch: int, metrics: Sequence[Tuple[str, float]]) -> str:
    """``[Epoch E] training: name=value\\t...``."""
    return "[Epoch %d] training: %s" % (epoch, "\t".join("%s=%f" % (name, value) for name, value in metrics))


def speed_line(epoch: int, samples_per_second: float, seconds: float) -> str:
    """``[Epoch E] speed: N samples/sec\\ttime cost: T`` (the speed as an integer, as the release printed it)."""
    return "[Epoch %d] speed: %d samples/sec\ttime cost: %f" % (epoch, int(samples_per_second), seconds)


def validation_line(epoch: int, top1_error: float, top5_error: float) -> str:
    """``[Epoch E] validation: err-top1=X err-top5=Y``."""
    return "[Epoch %d] validation: err-top1=%f err-top5=%f" % (epoch, top1_error, top5_error)


def segmentation_validation_line(epoch: int, miou: float, pixel_accuracy: float) -> str:
    """``[Epoch E] validation: mIoU=X pixAcc=Y`` (segmentation runs)."""
    return "[Epoch %d] validation: mIoU=%f pixAcc=%f" % (epoch, miou, pixel_accuracy)


def segmentation_record_line(record: Mapping[str, Any]) -> str:
    """A segmentation epoch's summary ``[Epoch E] train pixAcc=.. val mIoU=.. loss=.. lr: .. time: ..``."""
    miou = record.get("val_miou")
    return "[Epoch %d] train pixAcc=%f val mIoU=%f loss=%f lr: %f time: %f" % (
        record["epoch"], record["train_accuracy"], miou if miou is not None else float("nan"), record["train_loss"],
        record["lr"], record["train_seconds"])


def final_miou_line(history: Sequence[Mapping[str, Any]]) -> Optional[str]:
    """``final test mIoU: M`` of a segmentation run's last epoch (None: not validated)."""
    if not history or history[-1].get("val_miou") is None:
        return None
    return "final test mIoU: %.4f" % history[-1]["val_miou"]


def cifar_epoch_line(epoch: int, train: float, val: float, loss: float, lr: float, seconds: float) -> str:
    """The CIFAR script's epoch line ``[Epoch E] train=.. val=.. loss=.. lr: .. time: ..``."""
    return "[Epoch %d] train=%f val=%f loss=%f lr: %f time: %f" % (epoch, train, val, loss, lr, seconds)


def cifar_record_line(record: Mapping[str, Any]) -> str:
    """:func:`cifar_epoch_line` of an epoch's history record (``val`` NaN where the epoch was not validated)."""
    error = record["val_top1_error"]
    return cifar_epoch_line(record["epoch"], record["train_accuracy"], 1 - error if error is not None else float("nan"),
                            record["train_loss"], record["lr"], record["train_seconds"])


def final_accuracy_line(history: Sequence[Mapping[str, Any]]) -> Optional[str]:
    """``final test accuracy: A`` of the last epoch of a CIFAR-style run's history (None: not validated)."""
    if not history or history[-1].get("val_top1_error") is None:
        return None
    return "final test accuracy: %.4f" % (1 - history[-1]["val_top1_error"])


def cifar_test_lines(model: str, dataset: str, coarse_labels: bool, top1_error: float, top5_error: float,
                     samples: int, seconds: float) -> List[str]:
    """The eval_cifar tools' report: ``model=.. dataset=.. images=N``, ``test accuracy: A (error E, top-5 error
    F)`` and ``speed: S images/sec``."""
    labels = " (20 coarse labels)" if coarse_labels else ""
    return ["model=%s dataset=%s%s images=%d" % (model, dataset, labels, samples),
            "test accuracy: %.4f (error %.4f, top-5 error %.4f)" % (1 - top1_error, top1_error, top5_error),
            "speed: %.1f images/sec" % (samples / seconds if seconds > 0 else float("nan"))]


_PREFIX = re.compile(r"^(?:[A-Z]+:[\w.]+:)?")           # logging's default "INFO:root:" prefix
_NUM = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf)"
_PATTERNS = {
    "batch": re.compile(rf"^Epoch\[(?P<epoch>\d+)\] Batch \[(?P<batch>\d+)\]\tSpeed: (?P<speed>{_NUM}) samples/sec"
                        rf"\t(?P<metrics>.*?)\tlr=(?P<lr>{_NUM})$"),
    "training": re.compile(r"^\[Epoch (?P<epoch>\d+)\] training: (?P<metrics>.*)$"),
    "speed": re.compile(rf"^\[Epoch (?P<epoch>\d+)\] speed: (?P<speed>{_NUM}) samples/sec\ttime cost: "
                        rf"(?P<seconds>{_NUM})$"),
    "validation": re.compile(rf"^\[Epoch (?P<epoch>\d+)\] validation: err-top1=(?P<top1_error>{_NUM}) "
                             rf"err-top5=(?P<top5_error>{_NUM})$"),
    "segmentation": re.compile(rf"^\[Epoch (?P<epoch>\d+)\] validation: mIoU=(?P<miou>{_NUM}) "
                               rf"pixAcc=(?P<pixel_accuracy>{_NUM})$"),
    "cifar": re.compile(rf"^\[Epoch (?P<epoch>\d+)\] train=(?P<train>{_NUM}) val=(?P<val>{_NUM}) "
                        rf"loss=(?P<loss>{_NUM})(?: lr: (?P<lr>{_NUM}))? time: (?P<seconds>{_NUM})$"),
}


def parse_namespace(line: str) -> Dict[str, Any]:
    """The arguments of a ``Namespace(...)`` line (values that are not Python literals are kept as their text);
    a ValueError if the line is not one."""
    text = _PREFIX.sub("", line.strip(), count=1)
    try:
        call = ast.parse(text, mode="eval").body
    except SyntaxError:
        call = None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "Namespace"):
        raise ValueError(f"not a Namespace(...) line: {line[:80]!r}")
    values: Dict[str, Any] = {}
    for keyword in call.keywords:
        try:
            values[keyword.arg] = ast.literal_eval(keyword.value)
        except ValueError:
            values[keyword.arg] = ast.get_source_segment(text, keyword.value)
    return values


def _metrics(text: str) -> Dict[str, float]:
    pairs = (part.split("=", 1) for part in text.split("\t") if "=" in part)
    return {name.strip(): float(value) for name, value in pairs}


def parse_line(line: str) -> Optional[Tuple[str, Dict[str, Any]]]:
    """``(kind, values)`` of one log line (kinds: namespace, batch, training, speed, validation, segmentation,
    cifar), or None
    for any other line."""
    text = _PREFIX.sub("", line.rstrip("\r\n"), count=1)
    if text.startswith("Namespace("):
        try:
            return "namespace", parse_namespace(text)
        except ValueError:
            return None
    for kind, pattern in _PATTERNS.items():
        match = pattern.match(text)
        if match:
            values: Dict[str, Any] = {}
            for key, value in match.groupdict().items():
                if value is None:
                    continue
                if key == "metrics":
                    values.update(_metrics(value))
                else:
                    values[key] = int(value) if key in ("epoch", "batch") else float(value)
            return kind, values
    return None


@dataclass
class LogRun:
    """One run of a log: its Namespace (and line number, 1-based), per-epoch values and the batch lines."""

    namespace: Dict[str, Any] = field(default_factory=dict)
    line: int = 0
    epochs: Dict[int, Dict[str, Any]] = field(default_factory=dict)
    batches: List[Dict[str, Any]] = field(default_factory=list)

    def best(self, key: str, highest: bool) -> Optional[Tuple[int, float]]:
        """(epoch, value) of the best ``key`` (``val`` for CIFAR accuracy, ``top1_error`` for ImageNet)."""
        found = [(e, v[key]) for e, v in self.epochs.items() if key in v]
        if not found:
            return None
        return (max if highest else min)(found, key=lambda pair: pair[1])


def parse_log(source: Union[str, Iterable[str]]) -> List[LogRun]:
    """The runs of a log (a text or its lines): a new run starts at each Namespace line; lines before the first
    one form a run without a namespace. Later lines of the same epoch update it (a resumed run's epochs)."""
    lines = source.splitlines() if isinstance(source, str) else source
    runs: List[LogRun] = []
    for number, line in enumerate(lines, 1):
        parsed = parse_line(line)
        if parsed is None:
            continue
        kind, values = parsed
        if kind == "namespace":
            runs.append(LogRun(namespace=values, line=number))
            continue
        if not runs:
            runs.append(LogRun())
        run = runs[-1]
        if kind == "batch":
            run.batches.append(values)
        else:
            epoch = values.pop("epoch")
            run.epochs.setdefault(epoch, {}).update(values)
    return runs
