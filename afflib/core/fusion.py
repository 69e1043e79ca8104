"""The fusion catalogue: every way of fusing a residual branch ``x`` with its shortcut ``y``, as data.

One :class:`FusionForm` row per form (today the release's three: ``aff``, ``iaff``, ``add``) says what the form
computes (attention input, context, blend, iterations, blend factor), what it is called (paper, release and
class names, any case) and how its parameters are laid out (child names as the release writes them). Each
engine implements each *form* once and looks it up here, so a new form is one row here plus at most one small
function per engine. The input checks every fusion module runs are here too, so both engines word them alike.
Framework-free (stdlib only).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

__all__ = ["Branch", "FusionForm", "FORMS", "MS_CAM", "FUSION_ALIASES", "RELEASE_NAMES", "FusionChoice",
           "attention_pairs", "canonical_fusion", "fusion_form", "default_r", "attention_channels", "branch_parameters",
           "fusion_parameters", "check_inputs"]

# A network's ``fusion`` argument: a form name (any alias), a factory ``(channels, r) -> block``, or for a
# per-stage choice a sequence of those.
FusionFactory = Callable[[int, int], Any]
FusionChoice = Union[str, FusionFactory, Sequence[Union[str, FusionFactory]]]


@dataclass(frozen=True)
class Branch:
    """One context branch: ``[global mean], conv1x1 C->C/r, BN, ReLU, conv1x1 C/r->C, BN`` under ``name``."""

    name: str
    pooled: bool  # global context (pooled over H, W first) or local (point-wise, full resolution)


# MS-CAM, the attention map of AFF and the standalone refinement module: one local and one global branch.
MS_CAM: Tuple[Branch, ...] = (Branch("local_att", False), Branch("global_att", True))


@dataclass(frozen=True)
class FusionForm:
    """One fusion form of the catalogue.

    Parameters
    ----------
    name : str
        Canonical (paper) name, lower case: what registry names and run records use.
    release_name : str
        The class name in the original release (``ASKCFuse``...), accepted as an alias.
    class_name : str
        The class that implements the form in each engine (``afflib.nn`` and ``afflib_torch.fusion``).
    aliases : tuple of str
        Further accepted names, lower case (release spellings with a suffix and the like).
    attention_input : str
        What the attention map is computed from: ``'x+y'`` (the sum of the two inputs) or ``'none'``.
    context : str
        Context of the attention map: ``'both'`` (local + global, MS-CAM), ``'local'``, ``'global'``, ``'none'``.
    blend : str
        ``'soft'``: ``scale * (M * x + (1 - M) * y)``; ``'add'``: ``x + y``.
    iterations : int
        Attention maps computed in sequence; each one after the first reads the previous blend (iAFF: 2).
    scale : float
        Factor of the soft blend (the release's AFF doubles it: total weight 2, like ``x + y``).
    branches : tuple of Branch
        Parameter layout: the context branches in creation order, named as the release names its children.
    default_r : mapping of str to int
        Channel reduction by where the form sits: ``'module'`` (a module built alone) and the block kinds of
        :mod:`afflib.core.plan` (``'bottleneck'``, ``'basic'``, ``'resnext'``, ``'preact'``), as the release's
        networks (``'basic'``, absent from the release, by the release's rule: see ``_RELEASE_R``).
    """

    name: str
    release_name: str
    class_name: str
    aliases: Tuple[str, ...] = ()
    attention_input: str = "x+y"
    context: str = "both"
    blend: str = "soft"
    iterations: int = 1
    scale: float = 1.0
    branches: Tuple[Branch, ...] = ()
    default_r: Mapping[str, int] = field(default_factory=dict)

    @property
    def attended(self) -> bool:
        """Whether the form has attention branches (and so needs a reduction ratio r)."""
        return bool(self.branches)

    def names(self) -> Tuple[str, ...]:
        """Every name the form is known by, lower case."""
        return tuple(dict.fromkeys(n.lower() for n in (self.name, self.release_name, self.class_name,
                                                       *self.aliases)))


# r by block kind. The release keeps the attention width at a quarter of the stage width: r = 4 in basic
# blocks (CIFAR pre-activation), 16 in bottlenecks (outputs 4x the stage width); afflib's ImageNet basic
# block (ResNet-18/34, not in the release) follows that rule.
_RELEASE_R = {"module": 4, "bottleneck": 16, "basic": 4, "resnext": 16, "preact": 4}

FORMS: Dict[str, FusionForm] = {form.name: form for form in (
    FusionForm("aff", "ASKCFuse", "AFF", blend="soft", iterations=1, scale=2.0, branches=MS_CAM,
               default_r=_RELEASE_R),
    FusionForm("iaff", "ResGlobLocaforGlobLocaCha", "IAFF", aliases=("ResGlobLocaforGlobLocaChaFuse",),
               blend="soft", iterations=2, scale=1.0,
               branches=MS_CAM + (Branch("local_att2", False), Branch("global_att2", True)), default_r=_RELEASE_R),
    FusionForm("add", "DirectAdd", "DirectAdd", aliases=("DirectAddFuse",), attention_input="none",
               context="none", blend="add", iterations=0),
)}

# Paper names, release names and class names, all lower case -> canonical paper name.
FUSION_ALIASES: Dict[str, str] = {alias: form.name for form in FORMS.values() for alias in form.names()}
RELEASE_NAMES: Dict[str, str] = {form.name: form.release_name for form in FORMS.values()}


def attention_pairs(branches: Sequence[Branch]) -> List[Tuple[str, str]]:
    """The branch names taken two at a time: one (local, global) pair per attention map, in order."""
    names = [branch.name for branch in branches]
    return list(zip(names[0::2], names[1::2]))


def canonical_fusion(name: str) -> str:
    """Map a paper or release fusion name (any case) to its canonical name (``'aff'``, ``'iaff'``, ``'add'``)."""
    key = str(name).strip().lower()
    if key not in FUSION_ALIASES:
        valid = ", ".join(sorted({*FORMS, *RELEASE_NAMES.values()}))
        raise ValueError(f"unknown fusion type {name!r}; valid (case-insensitive): {valid}")
    return FUSION_ALIASES[key]


def fusion_form(name: str) -> FusionForm:
    """The catalogue row of ``name`` (any alias, any case); a ValueError lists the valid names."""
    return FORMS[canonical_fusion(name)]


def default_r(name: str, kind: str = "module") -> Optional[int]:
    """The release's reduction ratio of form ``name`` in a block of ``kind`` (None for a form without attention)."""
    return fusion_form(name).default_r.get(kind) if fusion_form(name).attended else None


def attention_channels(channels: int, r: int) -> int:
    """``channels // r``, the width inside the context branches; a ValueError when that leaves none."""
    if channels <= 0 or r <= 0 or channels // r < 1:
        raise ValueError(f"channels={channels} and r={r} give no attention channels (need channels // r >= 1)")
    return channels // r


def branch_parameters(branch: Branch, channels: int, r: int) -> List[Tuple[str, Tuple[int, ...]]]:
    """(name, shape) of a context branch's arrays as the release's ``.params`` files store them, in order."""
    inter = attention_channels(channels, r)
    first = 1 if branch.pooled else 0  # the global mean takes index 0 of a pooled branch
    layers = [(first, "conv", channels, inter), (first + 1, "bn", inter, inter),
              (first + 3, "conv", inter, channels), (first + 4, "bn", channels, channels)]
    names: List[Tuple[str, Tuple[int, ...]]] = []
    for index, kind, cin, cout in layers:
        prefix = f"{branch.name}.{index}."
        if kind == "conv":
            names += [(prefix + "weight", (cout, cin, 1, 1)), (prefix + "bias", (cout,))]
        else:
            names += [(prefix + key, (cout,)) for key in ("gamma", "beta", "running_mean", "running_var")]
    return names


def fusion_parameters(name: str, channels: int, r: int) -> List[Tuple[str, Tuple[int, ...]]]:
    """(name, shape) of every array of form ``name`` built for ``channels`` channels (MXNet names)."""
    form = fusion_form(name)
    return [item for branch in form.branches for item in branch_parameters(branch, channels, r)]


def check_inputs(module: str, channels: Optional[int], shapes: Iterable[Sequence[int]]) -> None:
    """Refuse inputs of different shapes, or not NCHW with the module's ``channels`` (None: any)."""
    shapes = [tuple(s) for s in shapes]
    first = shapes[0]
    for other in shapes[1:]:
        if other != first:
            raise ValueError(f"{module}: the two inputs must have the same shape, got {first} and {other}")
    if channels is not None and (len(first) != 4 or first[1] != channels):
        raise ValueError(f"{module} was built for {channels} channels (NCHW input), got an input of shape {first}")
