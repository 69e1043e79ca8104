"""Load a ``.params`` file into a model, and explain clearly when the file belongs to another model."""
from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Optional, Tuple

import mxnet as mx
from mxnet import gluon

from afflib.core.checkpoint_record import verify_member
from afflib.core.modelspec import ModelSpec

__all__ = ["ParamsMismatchError", "check_params_fit", "closest_registry_model", "differences", "structure",
           "load_checked"]

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


_STAGE_BLOCK = re.compile(r"^(.+?)\.(\d+)\.(?:resfwd|body|conv\d|bn\d|downsample|attention)\b")


def structure(arrays: Dict[str, Tuple[int, ...]]) -> Dict[str, Any]:
    """What a network's arrays (names -> shapes, in network order) say about it: ``fusion`` (aff, iaff, add),
    ``in_channels``, ``classes``, ``blocks`` and output ``widths`` per stage, ``fused stages`` (1-based)."""
    convs = [(n, s) for n, s in arrays.items() if len(s) == 4 and n.endswith("weight")]
    stages: Dict[str, Dict[str, Any]] = {}
    for name, shape in arrays.items():
        match = _STAGE_BLOCK.match(name)
        if match:
            stage = stages.setdefault(match.group(1), {"blocks": set(), "width": 0, "fused": False})
            stage["blocks"].add(match.group(2))
            if ".attention." in name:
                stage["fused"] = True
            elif len(shape) == 4:
                stage["width"] = max(stage["width"], shape[0])
    heads = [s for n, s in arrays.items() if n in ("fc.bias", "output.bias")]
    names = " ".join(arrays)
    return {"fusion": "iaff" if "_att2." in names else "aff" if ".attention." in names else "add",
            "in_channels": convs[0][1][1] if convs else None, "classes": heads[0][0] if heads else None,
            "blocks": [len(s["blocks"]) for s in stages.values()], "widths": [s["width"] for s in stages.values()],
            "fused stages": [i for i, s in enumerate(stages.values(), 1) if s["fused"]],
            "stem width": _stem_width(convs, stages)}


def _stem_width(convs: List[Tuple[str, Tuple[int, ...]]], stages: Dict[str, Any]) -> Optional[int]:
    stem = [s for n, s in convs if not _STAGE_BLOCK.match(n)]
    return stem[-1][0] if stem and stages else None


def differences(stored: Dict[str, Tuple[int, ...]], expected: Dict[str, Tuple[int, ...]]) -> List[str]:
    """``key: file X, model Y`` for each of fusion, in_channels, classes, blocks, widths, fused stages that differ."""
    got, want = structure(stored), structure(expected)
    keys = ["fusion", "in_channels", "classes", "blocks", "widths"]
    keys += ["fused stages"] if got["fusion"] == want["fusion"] else []      # else implied by the fusion
    return [f"{key}: file {got[key]}, model {want[key]}" for key in keys if got[key] != want[key]]


def _candidates(found: Dict[str, Any]) -> List[ModelSpec]:
    """Registry models of the file's fusion and stage count (ImageNet 4, CIFAR 3), and CIFAR ones of its depth and
    widths, with its classes and input channels."""
    from afflib.model_zoo.registry import MODELS
    fusion, blocks, stages = found["fusion"], found["blocks"], len(found["blocks"])
    names = [n for n in sorted(MODELS) if n.split("_resne")[0] in (fusion, f"cifar_{fusion}")
             and (n.startswith("cifar_") == (stages == 3))]
    if stages == 3 and len(set(blocks)) == 1:
        names += [f"cifar_{fusion}_resnet{6 * blocks[0] + 2}", f"cifar_{fusion}_resnext{9 * blocks[0] + 2}_32x4d"]
    base = {k: found[k] for k in ("classes", "in_channels") if found[k]}
    specs = []
    for name in dict.fromkeys(names):
        specs.append(ModelSpec.create(name, **base))
        if name.startswith("cifar_") and found["stem width"] and stages == 3:
            outs = found["widths"] if "resnext" not in name else [w // 4 for w in found["widths"]]
            specs.append(ModelSpec.create(name, channels=[found["stem width"], *outs], **base))
    return specs


def closest_registry_model(path: str, exclude: Optional[Dict[str, Tuple[int, ...]]] = None
                           ) -> Tuple[Optional[str], int, int]:
    """The model spec (registry name + arguments) that fits ``path`` best, other than one with the arrays
    ``exclude`` (the model in use): (spec text, name differences, shape differences). Only models of the file's
    fusion and stage count are considered."""
    from afflib.model_zoo.registry import get_model
    stored = _file_arrays(path)
    best: Tuple[Optional[str], int, int] = (None, 1 << 30, 1 << 30)
    for spec in _candidates(structure(stored)):
        try:
            expected = _model_arrays(get_model(spec.text()))
        except Exception:  # a combination the family does not build
            continue
        if expected == exclude:
            continue
        names = len(set(stored) ^ set(expected))
        shapes = sum(1 for n in set(stored) & set(expected)
                     if len(stored[n]) != len(expected[n])
                     or any(e not in (0, s) for e, s in zip(expected[n], stored[n])))
        if (names, shapes) < best[1:]:
            best = (spec.text(), names, shapes)
            if names == shapes == 0:
                break
    return best


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
        what = differences(_file_arrays(path), _model_arrays(net))
        if what:
            lines.append(f"  what differs: {'; '.join(what)}")
        if suggest:
            name, names, shapes = closest_registry_model(path, exclude=_model_arrays(net))
            if name is not None:
                fit = "names and shapes fit" if names == shapes == 0 else \
                    f"closest: {names} names and {shapes} shapes differ"
                lines.append(f"  closest registry model: {name} ({fit})")
        raise ParamsMismatchError("\n".join(lines))
    net.load_parameters(path, ctx=ctx, cast_dtype=True)
