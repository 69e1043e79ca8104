"""Shared argparse pieces of every script: value types with ranges and a help formatter that shows defaults.

A bad value is refused by argparse itself while parsing, before anything is built or written: one line
``script.py: error: argument --batch-size: expected an integer >= 1, got '0'`` and exit status 2.
Framework-free (no MXNet, no torch), so the PyTorch scripts use it too.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any, Callable, Iterable, NoReturn, Optional, Tuple, Type

__all__ = ["HelpFormatter", "make_parser", "int_range", "float_range", "positive_int", "nonneg_int",
           "positive_float", "nonneg_float", "seed_int", "int_list", "json_object", "check_keys",
           "refuse_unknown_keys", "fail", "exit_on_bad_input", "EXIT_BAD_INPUT"]

EXIT_BAD_INPUT = 2          # argparse's own status for a bad flag; the scripts use it for every bad input


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's own line breaks and appends ``(default: X)`` to every option that takes a value,
    unless its help already says what the default is, and ``(required)`` to required options."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.required and action.option_strings:
            return f"{text} (required)"
        if (action.default is argparse.SUPPRESS or not action.option_strings or action.nargs == 0
                or action.default is None or "default" in text.lower()):
            return text
        default = action.default
        shown = "none" if default in ("", [], ()) else (
            " ".join(map(str, default)) if isinstance(default, (list, tuple)) else "%(default)s")
        return f"{text} (default: {shown})"


def make_parser(description: Optional[str], **kwargs: Any) -> argparse.ArgumentParser:
    """The ArgumentParser of a script: its description kept as written, defaults shown in ``--help``."""
    kwargs.setdefault("formatter_class", HelpFormatter)
    return argparse.ArgumentParser(description=description, **kwargs)


def _bounds(lo: Optional[float], hi: Optional[float], lo_open: bool = False, hi_open: bool = False) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi:g}")
    return " and ".join(parts)


def _number_type(convert: Callable[[str], Any], accept: Callable[[Any], bool], expected: str) -> Callable[[str], Any]:
    """An argparse ``type=`` that converts the text and refuses values outside ``accept`` as ``expected ...``."""
    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    parse.__name__ = expected       # argparse names the type in some messages
    return parse


def int_range(lo: Optional[int] = None, hi: Optional[int] = None) -> Callable[[str], int]:
    """argparse ``type=``: an integer in ``[lo, hi]`` (either bound may be None)."""
    both = lo is not None and hi is not None
    expected = f"an integer from {lo} to {hi}" if both else f"an integer {_bounds(lo, hi)}".rstrip()
    return _number_type(int, lambda v: (lo is None or v >= lo) and (hi is None or v <= hi), expected)


def float_range(lo: Optional[float] = None, hi: Optional[float] = None, lo_open: bool = False,
                hi_open: bool = False) -> Callable[[str], float]:
    """argparse ``type=``: a finite number within the bounds (``*_open``: the bound itself is excluded)."""
    def accept(v: float) -> bool:
        return (math.isfinite(v) and (lo is None or (v > lo if lo_open else v >= lo))
                and (hi is None or (v < hi if hi_open else v <= hi)))
    return _number_type(float, accept, f"a finite number {_bounds(lo, hi, lo_open, hi_open)}".rstrip())


positive_int = int_range(1)
nonneg_int = int_range(0)
seed_int = int_range(0, 2 ** 32 - 1)          # what NumPy's and MXNet's seeds accept
positive_float = float_range(0, lo_open=True)
nonneg_float = float_range(0)


def int_list(lo: int = 0) -> Callable[[str], str]:
    """argparse ``type=``: comma-separated integers >= ``lo`` (e.g. ``40,60``); returns the text unchanged, so
    the script splits it as before."""
    def parse(text: str) -> str:
        try:
            values = [int(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated integers >= {lo} like '40,60', got {text!r}") from None
        bad = [v for v in values if v < lo]
        if bad:
            raise argparse.ArgumentTypeError(f"expected comma-separated integers >= {lo}, got {text!r}")
        return text

    parse.__name__ = "comma-separated integers"
    return parse


def json_object(text: str) -> str:
    """argparse ``type=``: a JSON object such as ``'{"layers": [1, 1, 1]}'``; returns the text unchanged."""
    try:
        value = json.loads(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a JSON object like '{{\"layers\": [1, 1, 1]}}', got {text!r} "
                                         f"({err})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object ({{...}}), got {type(value).__name__} {text!r}")
    return text


def refuse_unknown_keys(parser: argparse.ArgumentParser, flag: str, text: Optional[str], valid: Iterable[str],
                        what: str) -> None:
    """``parser.error`` naming ``flag`` if the :func:`json_object` ``text`` has keys outside ``valid``."""
    try:
        check_keys(flag, json.loads(text) if text else {}, valid, what)
    except ValueError as err:
        parser.error(str(err))


def check_keys(flag: str, given: Iterable[str], valid: Iterable[str], what: str) -> None:
    """Raise a ValueError naming ``flag`` if ``given`` holds names outside ``valid`` (e.g. constructor arguments)."""
    valid = sorted(valid)
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise ValueError(f"{flag}: {what} takes no argument {', '.join(map(repr, unknown))}; "
                         f"valid: {', '.join(valid)}")


def fail(message: str) -> NoReturn:
    """Report bad input (a file, a flag combination) as one ``error:`` line and exit with status 2."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


def exit_on_bad_input(main: Callable[[], Optional[int]],
                      errors: Tuple[Type[BaseException], ...] = (ValueError, OSError)) -> NoReturn:
    """Run a framework-free script's ``main`` and exit with its status; ``errors`` (bad input) become one
    ``error:`` line and status 2 (MXNet scripts use ``afflib.train.runner.exit_on_error``)."""
    try:
        status = main()
    except errors as err:
        fail(str(err))
    sys.exit(status or 0)
