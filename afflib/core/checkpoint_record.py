"""Checkpoint sets committed as one unit, with integrity (framework-free: used by the MXNet and PyTorch sides).

A set ``<stem>`` is member files ``<stem>.params`` (+ ``<stem>.states`` ...) and one record ``<stem>.json`` holding
``"members": {file name: {"size": bytes, "sha256": hex}}``. :func:`commit_set` writes it so that a kill at any
moment leaves a complete set to resume from:

1. every member is written to a temporary file (``.<name>.<random>.tmp``) and hashed;
2. if the current set verifies, its members are hard-linked to ``<stem>-prev.*`` and a record ``<stem>-prev.json``
   naming them is written (the previous complete set, kept while the current names are being replaced);
3. the temporary files are renamed over the member names, then the new record is written (atomically, last);
4. the ``-prev`` set is removed.

A kill in step 3 leaves members that do not match ``<stem>.json``: loaders refuse them naming the file
(:func:`verify_member`), resume takes the newest set that verifies (``-prev`` is one).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
from collections import Counter
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .fileio import atomic_write, staged_write

__all__ = ["RecordMismatch", "file_digest", "record_path", "read_record", "verify_member", "verify_set",
           "commit_set", "add_member", "write_json", "PREV_SUFFIX"]

PREV_SUFFIX = "-prev"
ROLES = ("params", "states")
_KILLS: Counter = Counter()


class RecordMismatch(ValueError):
    """A checkpoint file does not match its record (size or SHA-256), is missing, or the record is unreadable."""


def file_digest(path: str) -> Dict[str, Any]:
    """``{"size": bytes, "sha256": hex digest}`` of a file."""
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return {"size": os.path.getsize(path), "sha256": sha.hexdigest()}


def write_json(path: str, record: Dict[str, Any]) -> str:
    """Write ``record`` as JSON atomically."""
    def dump(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1, sort_keys=True, default=str)
    return atomic_write(path, dump)


def record_path(member: str) -> str:
    """The record of the set ``member`` belongs to: its name with the extension replaced by ``.json``."""
    return os.path.splitext(os.fspath(member))[0] + ".json"


def read_record(path: str) -> Optional[Dict[str, Any]]:
    """The checkpoint record at ``path``; None if there is none (or the JSON there is not a record).
    An unreadable JSON file raises :class:`RecordMismatch` naming it (records are written atomically)."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except (ValueError, UnicodeDecodeError) as err:
        raise RecordMismatch(f"checkpoint record {path} is damaged (not valid JSON: {err})") from None
    if not isinstance(record, dict) or not isinstance(record.get("members"), dict):
        return None
    return record


def _check(path: str, expected: Dict[str, Any], record: str) -> None:
    if not os.path.isfile(path):
        raise RecordMismatch(f"{path} is missing: its checkpoint record {record} lists it")
    actual = file_digest(path)
    if actual["size"] != expected.get("size"):
        raise RecordMismatch(f"{path} does not match its checkpoint record {record}: {actual['size']} bytes, "
                             f"recorded {expected.get('size')} (truncated, damaged or replaced)")
    if actual["sha256"] != expected.get("sha256"):
        raise RecordMismatch(f"{path} does not match its checkpoint record {record}: SHA-256 differs "
                             f"(damaged or replaced after the checkpoint was written)")


def verify_member(path: "os.PathLike[str] | str") -> bool:
    """Check ``path`` against the record of its set, if it has one; False when no record lists it.
    Raises :class:`RecordMismatch` naming the file when size or SHA-256 differ."""
    path = os.fspath(path)
    rec = record_path(path)
    record = read_record(rec)
    entry = record["members"].get(os.path.basename(path)) if record else None
    if entry is None:
        return False
    _check(path, entry, rec)
    return True


def verify_set(rec: str, roles: Sequence[str] = ROLES) -> Dict[str, Any]:
    """Check the members a record names under ``roles`` (``"params": name``...); returns the record.
    Raises :class:`RecordMismatch` naming the first file that does not match, or the record."""
    record = read_record(rec)
    if record is None:
        raise RecordMismatch(f"{rec} is not a checkpoint record with file sizes and SHA-256 sums")
    folder = os.path.dirname(rec)
    for role in roles:
        name = record.get(role)
        if not name:
            continue
        if name not in record["members"]:
            raise RecordMismatch(f"checkpoint record {rec} names {role} {name} without its size and SHA-256")
        _check(os.path.join(folder, name), record["members"][name], rec)
    return record


def _kill_point(path: str) -> None:
    """Test hook: ``AFFLIB_TEST_KILL_AFTER='<file name>@<n>'`` SIGKILLs this process right after the n-th time
    (default 1) that file of a checkpoint set is put in place (tests of kill -9 between members)."""
    spec = os.environ.get("AFFLIB_TEST_KILL_AFTER")
    name, _, count = (spec or "").partition("@")
    if name and os.path.basename(path) == name:
        _KILLS[name] += 1
        if _KILLS[name] == int(count or 1):
            os.kill(os.getpid(), signal.SIGKILL)


def _link(source: str, target: str) -> None:
    """Put ``source``'s content at ``target`` atomically: a hard link, or a copy where links are not possible."""
    def make(tmp: str) -> None:
        os.remove(tmp)
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
    os.replace(staged_write(target, make), target)


def _remove_set(stem: str) -> None:
    """Delete the set ``stem``: its record first (so no half-deleted set is ever complete), then its members."""
    rec = stem + ".json"
    try:
        record = read_record(rec)
    except RecordMismatch:
        record = None
    if os.path.exists(rec):
        os.remove(rec)
    for name in (record or {}).get("members", {}):
        member = os.path.join(os.path.dirname(rec), name)
        if os.path.isfile(member):
            os.remove(member)


def _keep_previous(stem: str) -> None:
    """If the set ``stem`` verifies, keep it as ``stem-prev`` (hard links + its own record)."""
    try:
        record = verify_set(stem + ".json")
    except RecordMismatch:
        return  # nothing complete to keep (an earlier -prev, if any, stays until the new record is in place)
    prev = stem + PREV_SUFFIX
    if os.path.exists(prev + ".json"):
        os.remove(prev + ".json")
    folder, base = os.path.dirname(os.path.abspath(stem)), os.path.basename(stem)
    members, renamed = {}, {}
    for role in ROLES:
        name = record.get(role)
        if name and name.startswith(base):
            new = base + PREV_SUFFIX + name[len(base):]
            _link(os.path.join(folder, name), os.path.join(folder, new))
            members[new], renamed[role] = record["members"][name], new
    write_json(prev + ".json", dict(record, members=members, previous_of=base, **renamed))


def commit_set(stem: str, writers: Sequence[Tuple[str, Callable[[str], Any]]],
               record: Dict[str, Any]) -> Dict[str, Any]:
    """Write the set ``stem``: ``writers`` are ``(extension, write(tmp_path))`` per member; the record
    ``stem.json`` is ``record`` plus ``members`` (size + SHA-256 of each) and is written last. Returns it."""
    staged: List[Tuple[str, str]] = []
    try:
        for ext, write in writers:
            staged.append((stem + ext, staged_write(stem + ext, write)))
        members = {os.path.basename(final): file_digest(tmp) for final, tmp in staged}
    except BaseException:
        for _, tmp in staged:
            if os.path.exists(tmp):
                os.remove(tmp)
        raise
    _keep_previous(stem)
    for final, tmp in staged:
        os.replace(tmp, final)
        _kill_point(final)
    full = dict(record, members=members)
    write_json(stem + ".json", full)
    _kill_point(stem + ".json")
    _remove_set(stem + PREV_SUFFIX)
    return full


def add_member(path: "os.PathLike[str] | str") -> Optional[str]:
    """Record the size and SHA-256 of a single written file (e.g. a converted ``.pt``) in the record of its set
    (created if absent); returns the record path, or None where a non-record JSON file has that name."""
    path = os.fspath(path)
    rec = record_path(path)
    if os.path.exists(rec):
        try:
            record = read_record(rec)
        except RecordMismatch:
            record = None
        if record is None:
            return None
    else:
        record = {"members": {}}
    record = dict(record, members=dict(record["members"], **{os.path.basename(path): file_digest(path)}))
    return write_json(rec, record)
