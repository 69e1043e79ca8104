"""A run's checkpoint sets by name, framework-free: file stems, and where a resumed run starts.

Names in a run's folder (``tag`` is ``imagenet``, ``cifar100``, ``fashion-mnist``...): ``{tag}-{model}-last``
(the resumable state after the last finished epoch), ``{tag}-{model}-{epoch}`` (periodic) and
``%.4f-{tag}-{model}-{epoch}-best`` (each new best; ``%.4f`` is the top-1 error for ImageNet, the accuracy for CIFAR,
as in the original release). Each set is ``.params`` (+ ``.states``) + the ``.json`` record of
:mod:`afflib.core.checkpoint_record`; both engines' training resumes through :func:`find_resume_point`.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from .checkpoint_record import RecordMismatch, read_record, verify_set

__all__ = ["ResumePoint", "find_resume_point", "last_stem", "periodic_stem", "best_stem"]


def last_stem(tag: str, model: str) -> str:
    """File stem of the run's resumable ``-last`` set."""
    return f"{tag}-{model}-last"


def periodic_stem(tag: str, model: str, epoch: int) -> str:
    """File stem of the numbered set of finished epoch ``epoch`` (0-based)."""
    return f"{tag}-{model}-{epoch}"


def best_stem(score: float, tag: str, model: str, epoch: int) -> str:
    """File stem of a new best set: the score first, so a folder listing sorts by it."""
    return "%.4f-%s-%s-%d-best" % (score, tag, model, epoch)


@dataclass
class ResumePoint:
    """Where a resumed run starts: the params to load, optional trainer states, and the next epoch to run."""
    params: str
    states: Optional[str]
    start_epoch: int


def _progress(record: Dict[str, Any]) -> Tuple[int, int]:
    """How far a set's run had got: (next epoch, batches of it done) -- an interrupted set is mid-epoch."""
    batch = record.get("interrupted_at_batch")
    return int(record.get("next_epoch", 0)), (int(batch) + 1 if batch is not None else 0)


def _newest_complete_set(folder: str, model: Optional[str], damaged: str) -> Optional[Tuple[str, Dict[str, Any]]]:
    """The record path and record of the set in ``folder`` (of ``model``) that verifies and got furthest."""
    found = []
    for name in os.listdir(folder or "."):
        rec = os.path.join(folder, name)
        if not name.endswith(".json") or os.path.abspath(rec) == os.path.abspath(damaged):
            continue
        try:
            record = read_record(rec)
        except RecordMismatch:
            continue
        if record and record.get("params") and (model is None or record.get("model") == model):
            found.append((_progress(record), name.endswith("-prev.json"), rec, record))
    for _, _, rec, record in sorted(found, key=lambda f: f[:3], reverse=True):
        try:
            return rec, verify_set(rec)
        except RecordMismatch:
            continue
    return None


def find_resume_point(params: str, states: str = "", epoch: Optional[int] = None,
                      log: Optional[logging.Logger] = None) -> ResumePoint:
    """Resolve ``params`` (+ ``states``, + ``epoch``) into a :class:`ResumePoint`.

    Missing ``states``/``epoch`` are taken from the set written beside ``params`` by :class:`CheckpointManager`
    (``.states`` and the ``.json`` record's ``next_epoch``); without a record the run restarts at epoch 0 with the
    given weights. A set whose files do not match its record is replaced by the newest complete set of the same
    model in that folder (logged to ``log``); with explicit ``states``/``epoch`` it is an error naming the file.
    """
    if not os.path.isfile(params):
        raise FileNotFoundError(f"resume params file not found: {params}")
    stem = params[:-len(".params")] if params.endswith(".params") else params
    rec = stem + ".json"
    try:
        record = read_record(rec)
        if record is not None:
            verify_set(rec, ("params",) if states else ("params", "states"))
    except RecordMismatch as err:
        if states or epoch is not None:
            raise
        try:
            model = (read_record(rec) or {}).get("model")
        except RecordMismatch:
            model = None
        fallback = _newest_complete_set(os.path.dirname(rec), model, rec)
        if fallback is None:
            raise RecordMismatch(f"{err}; no other complete checkpoint set of this run in "
                                 f"{os.path.dirname(rec) or '.'} to resume from") from None
        rec, record = fallback
        folder = os.path.dirname(rec)
        (log or logging.getLogger(__name__)).warning(
            "%s; falling back to the newest complete checkpoint set of this run: %s (next epoch %d)", err, rec,
            int(record.get("next_epoch", 0)))
        params = os.path.join(folder, record["params"])
        states = os.path.join(folder, record["states"]) if record.get("states") else ""
        return ResumePoint(params, states or None, int(record.get("next_epoch", 0)))
    if not states and os.path.isfile(stem + ".states"):
        states = stem + ".states"
    if states and not os.path.isfile(states):
        raise FileNotFoundError(f"resume states file not found: {states}")
    if epoch is None:
        epoch = 0
        if os.path.isfile(rec):
            with open(rec, encoding="utf-8") as f:
                epoch = int(json.load(f).get("next_epoch", 0))
    return ResumePoint(params, states or None, int(epoch))
