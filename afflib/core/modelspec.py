"""Model specs: a registry name plus constructor arguments, with a one-line text form that parses back.

``cifar_aff_resnet8(channels=[16,16,32,64], in_channels=1, classes=10)`` is what every tool prints and what
``afflib.get_model`` / ``afflib_torch.get_model`` / ``--model-name`` accept. Besides the registered names, a CIFAR
name of any depth is understood (``cifar_{fusion}_resnet{6B+2}``, ``cifar_{fusion}_inception_resnet{6B+2}``,
``cifar_{fusion}_resnext{9B+2}_32x4d``, ``cifar_{fusion}_fpn{6B+2}``; ``{fusion}`` is aff, iaff or add, any other
form is ``fusion=``).
Framework-free: the PyTorch twin imports it too.
"""
from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

from .fpn import FPN_CONSTRUCTOR_DEFAULTS
from .fusion import canonical_fusion
from .specs import CIFAR_WIDTHS, MODEL_SPECS

__all__ = ["ModelSpec", "parse_spec", "entry", "full_args", "merge_args", "cifar_spec", "cifar_flags", "format_value"]

# Each family's constructor defaults (as in afflib.model_zoo.networks; a test compares): a spec leaves them out.
_IMAGENET = {"last_gamma": False, "deep_stem": True, "avg_down": True, "fusion_r": 16, "in_channels": 3}
CONSTRUCTOR_DEFAULTS: Dict[str, Dict[str, Any]] = {
    "AFFResNet": dict(_IMAGENET, start_layer=3, classes=1000, stem_width=32, final_drop=0.0, block="bottleneck"),
    "AFFResNeXt": dict(_IMAGENET, cardinality=32, bottleneck_width=4, start_layer=3, classes=1000, stem_width=64,
                       original_last_gamma=True),
    "CIFARAFFResNet": {"start_layer": 1, "classes": 10, "deep_stem": False, "fusion_r": 4, "in_channels": 3},
    "CIFARAFFResNeXt": {"channels": 64, "cardinality": 32, "bottleneck_width": 4, "start_layer": 1, "classes": 10,
                        "deep_stem": False, "fusion_r": 16, "last_gamma": False, "original_last_gamma": True,
                        "in_channels": 3},
}
# Families outside the plan table (afflib.core.plan.PLANS) whose constructor takes another family's defaults.
EXTRA_DEFAULTS: Dict[str, str] = {"CIFARInceptionResNet": "CIFARAFFResNet"}
_ORDER = ("layers", "block", "channels", "cardinality", "bottleneck_width", "start_layer", "deep_stem", "fusion_r",
          "in_channels", "classes")
_CIFAR_NAME = re.compile(r"^cifar_(aff|iaff|add)_(resnet|inception_resnet|fpn)(\d+)$"
                         r"|^cifar_(aff|iaff|add)_(resnext)(\d+)_32x4d$")
# The fusion forms that registry names hold; any other form is the constructor argument fusion= of an aff name.
_NAMED_FUSIONS = ("aff", "iaff", "add")
_CIFAR_TEMPLATES = {"resnet": (6, "cifar_{}_resnet20"), "inception_resnet": (6, "cifar_{}_inception_resnet20"),
                    "resnext": (9, "cifar_{}_resnext29_32x4d"), "fpn": (6, "cifar_{}_fpn20")}


def format_value(value: Any) -> str:
    """A constructor argument as a Python literal, lists without spaces: ``[16,16,32,64]``, ``'aff'``, ``True``."""
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    return repr(value)


def _plain(value: Any) -> Any:
    """Tuples as lists, so that a spec read from JSON equals the one it was written from."""
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


@dataclass(frozen=True)
class ModelSpec:
    """A network: registry (or CIFAR-depth) name and the constructor arguments that differ from its defaults."""

    name: str
    kwargs: Dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """The one-line form, ``name(k=v, ...)`` (just ``name`` without arguments); :func:`parse_spec` reads it."""
        if not self.kwargs:
            return self.name
        keys = [k for k in _ORDER if k in self.kwargs] + sorted(k for k in self.kwargs if k not in _ORDER)
        return f"{self.name}({', '.join(f'{k}={format_value(self.kwargs[k])}' for k in keys)})"

    __str__ = text

    def tag(self) -> str:
        """A short file-name form: the name, ``-cN`` for CIFAR widths 16N/16N/32N/64N other than the release's."""
        widths = self.kwargs.get("channels")
        if isinstance(widths, list) and len(widths) == 4 and widths[0] % 16 == 0:
            times = widths[0] // 16
            if widths == [16 * times, 16 * times, 32 * times, 64 * times]:
                return f"{self.name}-c{times}"
        if widths is not None:
            return f"{self.name}-w{'-'.join(str(w) for w in (widths if isinstance(widths, list) else [widths]))}"
        return self.name

    def record(self) -> Dict[str, Any]:
        """JSON-ready ``{"name", "kwargs", "text"}``."""
        return {"name": self.name, "kwargs": dict(self.kwargs), "text": self.text()}

    @classmethod
    def create(cls, name: str, **kwargs: Any) -> "ModelSpec":
        """The canonical spec of ``name`` built with ``kwargs``: CIFAR depths go into the name, arguments equal to
        the defaults are dropped (``create('cifar_aff_resnet20', layers=[1,1,1])`` is ``cifar_aff_resnet8``)."""
        base = parse_spec(name)
        family, args = entry(base.name)
        args = merge_args(args, base, kwargs)
        if isinstance(args.get("fusion"), str):
            args["fusion"] = canonical_fusion(args["fusion"])       # 'MS-GAU' -> 'ms-gau', 'ASKCFuse' -> 'aff'
        name = base.name
        if family in ("CIFARAFFResNet", "CIFARAFFResNeXt", "CIFARInceptionResNet", "CIFARFPN"):
            name = _cifar_name(family, args) or name
        defaults = dict(_constructor_defaults(family), **entry(name)[1])
        return cls(name, {k: v for k, v in args.items() if k not in defaults or v != defaults[k]})


def _cifar_name(family: str, args: Mapping[str, Any]) -> Optional[str]:
    layers, fusion = args.get("layers"), args.get("fusion", "aff")
    if not (isinstance(layers, list) and len(layers) == 3 and len(set(layers)) == 1 and isinstance(fusion, str)):
        return None  # a per-stage fusion list or a factory has no name of its own
    fusion = canonical_fusion(fusion)
    fusion = fusion if fusion in _NAMED_FUSIONS else "aff"   # e.g. cifar_aff_resnet8(fusion='ms-gau')
    if family == "CIFARAFFResNet":
        return f"cifar_{fusion}_resnet{6 * layers[0] + 2}"
    if family == "CIFARInceptionResNet":
        return f"cifar_{fusion}_inception_resnet{6 * layers[0] + 2}"
    if family == "CIFARFPN":
        return f"cifar_{fusion}_fpn{6 * layers[0] + 2}"
    if args.get("cardinality") == 32 and args.get("bottleneck_width") == 4:
        return f"cifar_{fusion}_resnext{9 * layers[0] + 2}_32x4d"
    return None


def _constructor_defaults(family: Any) -> Dict[str, Any]:
    name = family if isinstance(family, str) else family.__name__
    return CONSTRUCTOR_DEFAULTS.get(EXTRA_DEFAULTS.get(name, name)) or FPN_CONSTRUCTOR_DEFAULTS.get(name, {})


def entry(name: str, models: Optional[Mapping[str, Tuple[Any, Dict[str, Any]]]] = None,
          package: str = "afflib") -> Tuple[Any, Dict[str, Any]]:
    """(family, default arguments) of a plain name: a registered entry (``models``, default the built-in specs)
    or a CIFAR name of any depth; a ValueError lists close matches otherwise."""
    models = MODEL_SPECS if models is None else models
    key = name.strip().lower()
    if key in models:
        family, defaults = models[key]
        return family, {k: _plain(v) for k, v in defaults.items()}
    match = _CIFAR_NAME.match(key)
    if match:
        fusion, kind, depth = [g for g in match.groups() if g is not None]
        depth = int(depth)
        step, template = _CIFAR_TEMPLATES[kind]
        if depth > 2 and (depth - 2) % step == 0:
            family, defaults = models.get(template.format(fusion), MODEL_SPECS[template.format(fusion)])
            return family, dict({k: _plain(v) for k, v in defaults.items()}, layers=[(depth - 2) // step] * 3)
        raise ValueError(f"model {name!r}: a CIFAR {kind.replace('_', '-')} depth is {step}*blocks+2 (e.g. "
                         f"{', '.join(str(step * b + 2) for b in (1, 2, 3))}), not {depth}")
    tagged = re.match(r"^(cifar_.+)-c(\d+)$", key)
    if tagged:
        times = int(tagged.group(2))
        spec = ModelSpec.create(tagged.group(1), channels=[16 * times, 16 * times, 32 * times, 64 * times])
        raise ValueError(f"{name!r} is the file-name form of {spec.text()} (add the in_channels and classes of its "
                         f"data; a run's run_config.json has it under network)")
    close = difflib.get_close_matches(key, models, n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ValueError(f"unknown model {name!r}.{hint} All models: {package}.get_model_list().")


def parse_spec(text: str) -> ModelSpec:
    """Read ``name`` or ``name(key=literal, ...)`` (what :meth:`ModelSpec.text` prints); a ValueError names the
    part that is not understood."""
    source = str(text).strip()
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError:
        tree = None
    if isinstance(tree, ast.Name):
        return ModelSpec(tree.id.lower())
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and not tree.args):
        if "(" not in source and re.fullmatch(r"[\w.-]+", source):
            return ModelSpec(source.lower())          # let entry() say the name is unknown
        raise ValueError(f"model {text!r}: expected NAME or NAME(key=value, ...), "
                         f"e.g. cifar_aff_resnet8(channels=[16,16,32,64], in_channels=1, classes=10)")
    kwargs = {}
    for keyword in tree.keywords:
        try:
            kwargs[keyword.arg] = _plain(ast.literal_eval(keyword.value))
        except ValueError:
            raise ValueError(f"model {text!r}: the value of {keyword.arg} is not a literal "
                             f"(numbers, True/False, 'text' or [lists])") from None
    return ModelSpec(tree.func.id.lower(), kwargs)


def merge_args(defaults: Mapping[str, Any], spec: ModelSpec, kwargs: Mapping[str, Any]) -> Dict[str, Any]:
    """``defaults`` updated with the spec's arguments, then with ``kwargs``; a ValueError if ``kwargs`` contradicts
    an argument written in the spec (``get_model('x(classes=10)', classes=100)``)."""
    args = {k: _plain(v) for k, v in defaults.items()}
    args.update(spec.kwargs)
    for key, value in kwargs.items():
        if key in spec.kwargs and _plain(value) != spec.kwargs[key]:
            raise ValueError(f"model {spec.text()!r} has {key}={format_value(spec.kwargs[key])}, "
                             f"but {key}={format_value(value)} was asked for")
        args[key] = _plain(value)
    return args


def full_args(spec: ModelSpec) -> Dict[str, Any]:
    """Every constructor argument the spec fixes: its name's defaults, the constructor defaults and its own."""
    family, defaults = entry(spec.name)
    args = dict(_constructor_defaults(family))
    args.update(defaults)
    args.update(spec.kwargs)
    return args


def cifar_spec(model: str, askc_type: str, blocks: int, channel_times: int, start_layer: int, classes: int,
               in_channels: int, deep_stem: bool = False) -> ModelSpec:
    """The spec of the original CIFAR flags ``--model resnet|resnext --askc-type --blocks --channel-times ...``."""
    fusion = canonical_fusion(askc_type)
    if blocks < 1 or channel_times < 1:
        raise ValueError(f"--blocks and --channel-times must be >= 1, got {blocks}, {channel_times}")
    if model == "resnet":
        name = f"cifar_{fusion}_resnet{6 * blocks + 2}"
    elif model == "resnext":
        name = f"cifar_{fusion}_resnext{9 * blocks + 2}_32x4d"
    else:
        raise ValueError(f"--model must be resnet or resnext, got {model!r} (or give --model-name)")
    widths = [16 * channel_times, 16 * channel_times, 32 * channel_times, 64 * channel_times]
    return ModelSpec.create(name, channels=widths, start_layer=start_layer, classes=classes, deep_stem=deep_stem,
                            in_channels=in_channels)


def cifar_flags(spec: ModelSpec) -> Dict[str, Any]:
    """The values the CIFAR scripts' model flags take for ``spec`` (``--blocks`` etc.), where they can express it."""
    family, _ = entry(spec.name)
    args = full_args(spec)
    flags: Dict[str, Any] = {"--model": {"CIFARAFFResNet": "resnet", "CIFARAFFResNeXt": "resnext"}.get(family, family),
                             "--askc-type": canonical_fusion(args.get("fusion", "aff")),
                             "--start-layer": args.get("start_layer"), "--deep-stem": bool(args.get("deep_stem"))}
    layers = args.get("layers")
    if isinstance(layers, list) and len(set(layers)) == 1:
        flags["--blocks"] = layers[0]
    widths = args.get("channels", CIFAR_WIDTHS)
    if isinstance(widths, list) and len(widths) == 4 and widths[0] % 16 == 0:
        flags["--channel-times"] = widths[0] // 16
    return flags
