"""The table of released checkpoints (``afflib/core/released.json``) and the choice of one file for a model.

A model may have several released files (CIFAR runs on the 100 fine and on the 20 coarse labels); the
``pretrained`` argument of ``get_model`` picks one by label tag (``'fine'``, ``'coarse'``, ``'imagenet'``),
by a prefix of its SHA-1, or ``True`` for the model's default file.
"""
from __future__ import annotations

import contextlib
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

__all__ = ["LABEL_SETS", "LABEL_TEXT", "METRICS", "ReleasedFile", "ReleaseTable", "PretrainedNotAvailable",
           "default_table_path", "get_table", "use_table", "resolve_released", "markdown_table"]

# Label set -> number of labels a prediction is scored on (the CIFAR output layer keeps 100 units).
LABEL_SETS = {"imagenet": 1000, "cifar100-fine": 100, "cifar100-coarse": 20}
LABEL_TEXT = {"imagenet": "ImageNet, 1000 classes", "cifar100-fine": "CIFAR-100, 100 fine labels",
              "cifar100-coarse": "CIFAR-100, 20 coarse labels (superclasses) on outputs 0-19 of 100"}
TAGS = frozenset(list(LABEL_SETS) + [name.rsplit("-", 1)[-1] for name in LABEL_SETS])  # 'fine', 'cifar100-fine'...
METRICS = {"top1_error": "top-1 error", "top1_accuracy": "top-1 accuracy"}
_REQUIRED = ("path", "sha1", "model", "classes", "labels", "metric", "published")


class PretrainedNotAvailable(ValueError):
    """The requested pretrained weights do not exist: unknown tag, class count or model without a file."""


@dataclass(frozen=True)
class ReleasedFile:
    """One released ``.params`` file.

    Parameters
    ----------
    path : str
        Path inside the original repository; appended to the download base URL.
    sha1 : str
        Git blob SHA-1 of the file: ``sha1(b"blob <size>\\0" + content)``.
    model : str
        Registry name of the network it loads into.
    classes : int
        Output units of its classifier (100 for every CIFAR file, also the coarse-label runs).
    labels : str
        Label set it was trained and is scored on: ``imagenet``, ``cifar100-fine`` or ``cifar100-coarse``.
    metric, published : str, float
        The number the release published for it (``top1_error`` or ``top1_accuracy``, in percent).
    released_format : str
        Name of its parameter listing in the reference data (``released_format/<name>.json``), if any.
    """

    path: str
    sha1: str
    model: str
    classes: int
    labels: str
    metric: str
    published: float
    released_format: str = ""

    @property
    def tag(self) -> str:
        """Short label-set name used as ``pretrained=<tag>``: ``imagenet``, ``fine`` or ``coarse``."""
        return self.labels.rsplit("-", 1)[-1]

    @property
    def num_labels(self) -> int:
        """How many labels predictions are scored on (outputs ``0 .. num_labels - 1``)."""
        return LABEL_SETS[self.labels]

    @property
    def short_hash(self) -> str:
        return self.sha1[:8]

    @property
    def cache_name(self) -> str:
        """File name in the cache: model, label tag (CIFAR) and short hash, e.g. ``aff_resnet50-aedcb94b.params``."""
        parts = [self.model] + ([self.tag] if self.labels != "imagenet" else []) + [self.short_hash]
        return "-".join(parts) + ".params"

    @property
    def original_name(self) -> str:
        """Base name of the file in the original repository."""
        return self.path.rsplit("/", 1)[-1]

    def describe(self) -> str:
        """One line: tag, label set, outputs and published number."""
        return (f"pretrained={self.tag!r}: {LABEL_TEXT[self.labels]}; published {METRICS[self.metric]} "
                f"{self.published:.2f}%; sha1 {self.short_hash}")


class ReleaseTable:
    """All released files, with the download base URL. Build with :meth:`from_json` or :meth:`from_dict`."""

    def __init__(self, files: Sequence[ReleasedFile], base_url: str, source: str = "<memory>"):
        self.files: Tuple[ReleasedFile, ...] = tuple(files)
        self.base_url = base_url
        self.source = source
        seen: Dict[str, ReleasedFile] = {}
        for entry in self.files:
            if entry.sha1 in seen:
                raise ValueError(f"{source}: {entry.path} and {seen[entry.sha1].path} have the same sha1")
            seen[entry.sha1] = entry

    @classmethod
    def from_dict(cls, data: Dict[str, Any], source: str = "<memory>") -> "ReleaseTable":
        files = []
        for i, raw in enumerate(data.get("files", [])):
            missing = [k for k in _REQUIRED if k not in raw]
            if missing:
                raise ValueError(f"{source}: files[{i}] lacks {', '.join(missing)}")
            if not re.fullmatch(r"[0-9a-f]{40}", str(raw["sha1"])):
                raise ValueError(f"{source}: files[{i}] sha1 {raw['sha1']!r} is not 40 lower-case hex digits")
            if raw["labels"] not in LABEL_SETS:
                raise ValueError(f"{source}: files[{i}] labels {raw['labels']!r} is not one of {sorted(LABEL_SETS)}")
            if raw["metric"] not in METRICS:
                raise ValueError(f"{source}: files[{i}] metric {raw['metric']!r} is not one of {sorted(METRICS)}")
            files.append(ReleasedFile(path=raw["path"], sha1=raw["sha1"], model=raw["model"],
                                      classes=int(raw["classes"]), labels=raw["labels"], metric=raw["metric"],
                                      published=float(raw["published"]),
                                      released_format=raw.get("released_format", "")))
        return cls(files, base_url=data.get("base_url", ""), source=source)

    @classmethod
    def from_json(cls, path: Union[str, Path]) -> "ReleaseTable":
        path = Path(path)
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")), source=str(path))

    def models(self) -> List[str]:
        """Registry names that have at least one released file."""
        return sorted({entry.model for entry in self.files})

    def for_model(self, model: str) -> List[ReleasedFile]:
        return [entry for entry in self.files if entry.model == model]

    def default_for(self, model: str) -> Optional[ReleasedFile]:
        """What ``pretrained=True`` loads: the only file, else the ImageNet / CIFAR-100 fine-label one."""
        entries = self.for_model(model)
        if len(entries) == 1:
            return entries[0]
        preferred = [e for e in entries if e.labels in ("imagenet", "cifar100-fine")]
        return preferred[0] if len(preferred) == 1 else None


def default_table_path() -> Path:
    """``released.json`` shipped inside this package (package data, so installed wheels have it too)."""
    return Path(__file__).resolve().parent / "released.json"


_ACTIVE: List[ReleaseTable] = []


def get_table() -> ReleaseTable:
    """The table in use: the one installed by :func:`use_table`, else ``afflib/core/released.json``."""
    if _ACTIVE:
        return _ACTIVE[-1]
    path = default_table_path()
    if not path.is_file():
        raise FileNotFoundError(f"the table of released checkpoints {path} is missing: this afflib installation "
                                "lacks its package data; reinstall it (pip install afflib, or pip install -e . in "
                                "a checkout)")
    return ReleaseTable.from_json(path)


@contextlib.contextmanager
def use_table(table: ReleaseTable) -> Iterator[ReleaseTable]:
    """Make ``table`` the table of released files inside the ``with`` block (tests, private mirrors)."""
    _ACTIVE.append(table)
    try:
        yield table
    finally:
        _ACTIVE.remove(table)


def _choices(model: str, table: ReleaseTable) -> str:
    entries = table.for_model(model)
    lines = [f"  {entry.describe()}" for entry in entries]
    default = table.default_for(model)
    if default is not None:
        lines.append(f"  pretrained=True selects {default.tag!r}")
    return "\n".join(lines)


def resolve_released(model: str, pretrained: Union[bool, str], classes: Optional[int] = None,
                     table: Optional[ReleaseTable] = None) -> ReleasedFile:
    """The released file that ``get_model(model, pretrained=pretrained, classes=classes)`` loads.

    ``pretrained`` is True, a label tag (``'fine'``, ``'coarse'``, ``'imagenet'``, or the full label-set name)
    or a prefix (at least 6 hex digits) of the file's SHA-1. Raises :class:`PretrainedNotAvailable` listing the
    existing files when there is no such file or its output count differs from ``classes``.
    """
    table = table or get_table()
    entries = table.for_model(model)
    if not entries:
        raise PretrainedNotAvailable(
            f"no released weights for {model!r}; models with released files: {', '.join(table.models())}. "
            "Pass pretrained=<path to a .params file> to load your own.")
    if pretrained is True:
        chosen = table.default_for(model)
        if chosen is None:
            raise PretrainedNotAvailable(f"{model!r} has several released files; choose one:\n{_choices(model, table)}")
        if chosen.labels == "cifar100-coarse":
            warnings.warn(f"{model}: the only released file was trained on the 20 CIFAR-100 superclasses; its "
                          "outputs 0-19 are superclass scores. Pass pretrained='coarse' to select it explicitly.",
                          UserWarning, stacklevel=3)
    else:
        key = str(pretrained).strip().lower()
        matches = [e for e in entries if key in (e.tag, e.labels)]
        if not matches and re.fullmatch(r"[0-9a-f]{6,40}", key):
            matches = [e for e in entries if e.sha1.startswith(key)]
        if len(matches) != 1:
            raise PretrainedNotAvailable(f"{model!r} has no released file {pretrained!r}; it has:\n"
                                         f"{_choices(model, table)}\nor pass a path to a .params file")
        chosen = matches[0]
    if classes is not None and int(classes) != chosen.classes:
        note = (" (the coarse-label CIFAR files keep all 100 outputs; outputs 0-19 are the superclasses)"
                if chosen.labels.startswith("cifar100") else "")
        raise PretrainedNotAvailable(
            f"{model!r} with classes={classes}: the released file has {chosen.classes} outputs{note}. "
            f"Build it with classes={chosen.classes}. Released files:\n{_choices(model, table)}")
    return chosen


def markdown_table(table: ReleaseTable) -> str:
    """The released files as a Markdown table (model, tag, labels, outputs, published number, file, SHA-1)."""
    rows = ["| model | `pretrained=` | label set | outputs | published | file (download link) | "
            "git blob SHA-1 |",
            "|---|---|---|---|---|---|---|"]
    for entry in table.files:
        default = table.default_for(entry.model)
        tag = f"`'{entry.tag}'`" + (" or `True`" if default == entry else "")
        url = table.base_url.rstrip("/") + "/" + entry.path
        number = f"{METRICS[entry.metric]} {entry.published:.2f}%"
        rows.append(f"| `{entry.model}` | {tag} | {LABEL_TEXT[entry.labels]} | {entry.classes} | {number} | "
                    f"[{entry.original_name}]({url}) | `{entry.sha1}` |")
    return "\n".join(rows) + "\n"
