"""Load a ``.params`` file into a model, and explain clearly when the file belongs to another model."""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple

import mxnet as mx
from mxnet import gluon

from afflib.checkpoint_record import verify_member

__all__ = ["ParamsMismatchError", "check_params_fit", "closest_registry_model", "load_checked"]

SHOWN = 5


class ParamsMismatchError(ValueError):
    """A parameter file does not fit the model: names missing/unexpected or shapes different."""


def _file_arrays(path: str) -> Dict[str, Tuple[int, ...]]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"params file not found: {path}")
    try:
        loaded = mx.nd.load(path)
    except Exception as err:  # MXNet raises MXNetError with a C++ trace
        raise ValueError(f"{path} is not a readable MXNet .params file ({str(err).splitlines()[0]})") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} holds unnamed arrays, not a Gluon/Module parameter file")
    names = {}
    for name, array in loaded.items():
        names[name.split(":", 1)[1] if name.startswith(("arg:", "aux:")) else name] = tuple(array.shape)
    return names


def _model_arrays(net: gluon.Block) -> Dict[str, Tuple[int, ...]]:
    return {name: tuple(p.shape) for name, p in net._collect_params_with_prefix().items()}


def check_params_fit(net: gluon.Block, path: str) -> Dict[str, List[Any]]:
    """Compare the arrays of ``path`` with ``net``: ``{'missing': [...], 'unexpected': [...], 'shape': [...]}``.

    Shapes with unknown (0) dimensions in ``net`` match any size there.
    """
    stored, expected = _file_arrays(path), _model_arrays(net)
    shape = []
    for name in sorted(set(stored) & set(expected)):
        want, got = expected[name], stored[name]
        if len(want) != len(got) or any(w not in (0, g) for w, g in zip(want, got)):
            shape.append((name, want, got))
    return {"missing": sorted(set(expected) - set(stored)), "unexpected": sorted(set(stored) - set(expected)),
            "shape": shape}


def closest_registry_model(path: str, classes: Optional[int] = None) -> Tuple[Optional[str], int, int]:
    """The registry model whose parameter names fit ``path`` best: (name, name differences, shape differences).

    Names decide (a model whose names all match is what the file was saved from, maybe with other widths or
    classes); shape differences break ties.
    """
    from afflib.model_zoo.registry import MODELS, get_model
    stored = _file_arrays(path)
    best: Tuple[Optional[str], int, int] = (None, 1 << 30, 1 << 30)
    for name in sorted(MODELS):
        kwargs = {"classes": classes} if classes else {}
        try:
            expected = _model_arrays(get_model(name, **kwargs))
        except Exception:
            continue
        names = len(set(stored) ^ set(expected))
        shapes = sum(1 for n in set(stored) & set(expected)
                     if len(stored[n]) != len(expected[n])
                     or any(e not in (0, s) for e, s in zip(expected[n], stored[n])))
        if (names, shapes) < best[1:]:
            best = (name, names, shapes)
            if names == shapes == 0:
                break
    return best


def _classes_in_file(path: str) -> Optional[int]:
    stored = _file_arrays(path)
    for name in ("fc.bias", "output.bias"):
        if name in stored:
            return stored[name][0]
    return None


def load_checked(net: gluon.Block, path: str, ctx: Any = None, model_name: str = "the model",
                 suggest: bool = True) -> None:
    """``net.load_parameters(path)`` after a fit check; a misfit raises :class:`ParamsMismatchError` listing
    the first missing/unexpected names and shape mismatches and, if ``suggest``, the closest registry model.
    A file listed in a checkpoint record (``.json`` beside it) must match its size and SHA-256 first."""
    if os.path.isfile(path):
        verify_member(path)
    report = check_params_fit(net, path)
    if any(report.values()):
        lines = [f"{path} does not fit {model_name}:"]
        for key, label in (("missing", "missing in the file"), ("unexpected", "unexpected in the file")):
            items = report[key]
            if items:
                more = f" (+{len(items) - SHOWN} more)" if len(items) > SHOWN else ""
                lines.append(f"  {len(items)} {label}: {', '.join(items[:SHOWN])}{more}")
        if report["shape"]:
            shown = "; ".join(f"{n}: model {w}, file {g}" for n, w, g in report["shape"][:SHOWN])
            lines.append(f"  {len(report['shape'])} shape mismatches: {shown}")
        if suggest:
            classes = _classes_in_file(path)
            name, names, shapes = closest_registry_model(path, classes)
            if name is not None:
                if names == 0:
                    fit = "names and shapes fit" if shapes == 0 else \
                        f"all names fit, {shapes} shapes differ: other widths or input channels"
                else:
                    fit = f"no registry model fits all names; closest: {names} names differ, {shapes} shapes"
                lines.append(f"  closest registry model: {name} ({fit}"
                             f"{'; file has classes=%d' % classes if classes else ''})")
        raise ParamsMismatchError("\n".join(lines))
    net.load_parameters(path, ctx=ctx, cast_dtype=True)
