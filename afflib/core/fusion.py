"""The fusion catalogue: every way of fusing a residual branch ``x`` with its shortcut ``y``, as data.

One :class:`FusionForm` row per form says what the form computes (attention input, context, how the contexts
aggregate, blend, iterations, blend factor), what it is called (paper, release and class names, any case), the
paper's formula and table, and how its parameters are laid out (child names as the release writes them): the
release's three (``aff``, ``iaff``, ``add``) and the paper's ablation forms of Tables 1, 3, 4 and 6 (``concat``,
``ms-gau``, ``ms-se``, ``ms-sa``, ``sk``, ``aff-global-global``, ``aff-local-local``, ``half-aff``,
``concat-aff``, ``recursive-aff``). Each engine implements each *form* once and looks it up here, so a new form
is one row here plus at most one small function per engine. The input checks every fusion module runs are here
too, so both engines word them alike. Framework-free (stdlib only).

Notation. The paper writes X for the input of the smaller receptive field and Y for the larger one: in a
residual block X is the identity (shortcut) and Y the residual branch. afflib's fusion call is ``fuse(x, y)``
with ``x`` the residual branch and ``y`` the shortcut, so **afflib's x is the paper's Y and afflib's y the
paper's X**. ``formula`` fields are in the paper's notation; G(.) is the MS-CAM map sigmoid(L(.) + g(.)).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

__all__ = ["Branch", "Conv1x1", "FusionForm", "FORMS", "MS_CAM", "FUSION_ALIASES", "RELEASE_NAMES", "FusionChoice",
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


@dataclass(frozen=True)
class Conv1x1:
    """A pointwise convolution outside the context branches, ``in_factor * C -> out_factor * C`` channels."""

    name: str
    in_factor: int
    out_factor: int
    bias: bool


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
        What the attention map is computed from: ``'x+y'`` (the sum of the two inputs), ``'x'`` (the residual
        branch alone, the paper's Y) or ``'none'``.
    context : str
        Context of the attention map: ``'both'`` (local + global, MS-CAM), ``'local'``, ``'global'``, ``'none'``.
    blend : str
        In afflib's notation (x residual, y shortcut), M the attention map: ``'soft'``:
        ``scale * (M * x + (1 - M) * y)``; ``'select'``: ``M * y + (1 - M) * x``; ``'gate-shortcut'``:
        ``x + M * y``; ``'gate-residual'``: ``y + M * x``; ``'linear'``: a 1x1 convolution over ``[x, y]``;
        ``'add'``: ``x + y``.
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
    aggregate : str
        How the context branches make the map's logits: ``'sum'`` (L + g, the release's MS-CAM, also for one
        branch or two of the same kind), ``'half'`` (0.5 L + 0.5 g), ``'concat'`` (the ``post`` convolution over
        [L, g]), ``'recursive'`` (M2 L + (1 - M2) g, M2 a second MS-CAM of L + g).
    extra : tuple of Conv1x1
        Pointwise convolutions besides the context branches (``concat``'s ``fuse``, ``concat-aff``'s ``post``).
    formula : str
        The paper's form, in the paper's notation (X shortcut, Y residual branch; see the module docstring).
    source : str
        Where the paper reports it (``'Table 4'``...).
    notes : str
        Where the release-era code (open-aff's history) differs; afflib follows the paper unless stated.
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
    aggregate: str = "sum"
    extra: Tuple[Conv1x1, ...] = ()
    formula: str = ""
    source: str = ""
    notes: str = ""

    @property
    def attended(self) -> bool:
        """Whether the form has attention branches (and so needs a reduction ratio r)."""
        return bool(self.branches)

    @property
    def release(self) -> bool:
        """Whether the form is one of the release's three (AFF, iAFF, plain addition), with released weights."""
        return self.name in ("aff", "iaff", "add")

    def names(self) -> Tuple[str, ...]:
        """Every name the form is known by, lower case."""
        return tuple(dict.fromkeys(n.lower() for n in (self.name, self.release_name, self.class_name,
                                                       *self.aliases)))


# r by block kind. The release keeps the attention width at a quarter of the stage width: r = 4 in basic
# blocks (CIFAR pre-activation), 16 in bottlenecks (outputs 4x the stage width); afflib's ImageNet basic
# block (ResNet-18/34, not in the release) follows that rule.
_RELEASE_R = {"module": 4, "bottleneck": 16, "basic": 4, "resnext": 16, "preact": 4}

_GLOBAL_PAIR = (Branch("local_att", True), Branch("global_att", True))   # release-era names, both pooled
_LOCAL_PAIR = (Branch("local_att", False), Branch("global_att", False))  # release-era names, both point-wise
_NESTED = MS_CAM + (Branch("local_att2", False), Branch("global_att2", True))

FORMS: Dict[str, FusionForm] = {form.name: form for form in (
    FusionForm("aff", "ASKCFuse", "AFF", blend="soft", iterations=1, scale=2.0, branches=MS_CAM,
               default_r=_RELEASE_R, formula="M X + (1 - M) Y, M = G(X + Y)", source="Tables 3, 4",
               notes="release: 2 * (M * x + (1 - M) * y) with M on the residual branch x (the paper's Y); the "
                     "factor 2 and this weighting are kept (released checkpoints); swapping M and 1 - M is the "
                     "sign of the logits"),
    FusionForm("iaff", "ResGlobLocaforGlobLocaCha", "IAFF", aliases=("ResGlobLocaforGlobLocaChaFuse",),
               blend="soft", iterations=2, scale=1.0,
               branches=MS_CAM + (Branch("local_att2", False), Branch("global_att2", True)), default_r=_RELEASE_R,
               formula="M2 X + (1 - M2) Y, M2 = G2(M1 X + (1 - M1) Y), M1 = G(X + Y)", source="Tables 3, 4",
               notes="the release's form: no factor 2, M on the residual branch as in aff"),
    FusionForm("add", "DirectAdd", "DirectAdd", aliases=("DirectAddFuse",), attention_input="none",
               context="none", blend="add", iterations=0, formula="X + Y", source="Table 4"),
    # The paper's ablation forms (Tables 1, 3, 4, 6); no released weights. r defaults as the release's AFF.
    FusionForm("concat", "ConcatFuse", "Concat", attention_input="none", context="none", blend="linear",
               iterations=0, extra=(Conv1x1("fuse", 2, 1, False),), formula="W_A X + W_B Y", source="Table 4",
               notes="one 1x1 convolution (no bias) over [x, y]; release-era ConcatFuse put a BatchNorm over the "
                     "concatenation before a biased convolution"),
    FusionForm("ms-gau", "GAUFuse", "MSGAU", aliases=("MS-GAU", "msgau", "gau", "AYforXplusYAddFuse"),
               attention_input="x", blend="gate-shortcut", branches=MS_CAM, default_r=_RELEASE_R,
               formula="G(Y) X + Y", source="Table 4 (MS-GAU)",
               notes="release-era GAUFuse: a global branch only (one conv C->C, BN); AYforXplusYAddFuse: "
                     "local + global without the C/r bottleneck"),
    FusionForm("ms-se", "SEFuse", "MSSE", aliases=("MS-SE", "MS-SENet", "mssenet", "msse", "se",
                                                   "XplusAYforYAddFuse"),
               attention_input="x", blend="gate-residual", branches=MS_CAM, default_r=_RELEASE_R,
               formula="X + G(Y) Y", source="Table 4 (MS-SENet)",
               notes="release-era SEFuse: a global branch only (SENet); XplusAYforYAddFuse: local + global "
                     "without the C/r bottleneck"),
    FusionForm("ms-sa", "AXYforXplusYAddFuse", "MSSA", aliases=("MS-SA", "mssa", "sa"),
               blend="gate-shortcut", branches=MS_CAM, default_r=_RELEASE_R,
               formula="G(X + Y) X + Y", source="Table 4 (MS-SA, fully context-aware)",
               notes="release-era AXYforXplusYAddFuse: local + global without the C/r bottleneck"),
    FusionForm("sk", "SKFuse", "SK", aliases=("SKNet", "sk-fuse", "skfuse"), context="global", blend="select",
               branches=(Branch("global_att", True),), default_r=_RELEASE_R,
               formula="G(X + Y) X + (1 - G(X + Y)) Y, G with global context only", source="Tables 1, 4",
               notes="the two-path softmax as one sigmoid (softmax(a, b) = sigmoid(a - b)); release-era SKFuse: "
                     "a C -> C/4 -> 2C head, softmax over the two paths and a factor 2"),
    FusionForm("aff-global-global", "ResGlobGlobChaFuse", "AFFGlobalGlobal",
               aliases=("Global+Global", "globglob", "aff-gg"), context="global", blend="soft", scale=2.0,
               branches=_GLOBAL_PAIR, default_r=_RELEASE_R, formula="AFF with G = sigmoid(g1 + g2)",
               source="Table 3 (Global + Global)",
               notes="release-era names kept: local_att is the first pooled branch"),
    FusionForm("aff-local-local", "ResLocaLocaChaFuse", "AFFLocalLocal",
               aliases=("Local+Local", "localoca", "aff-ll"), context="local", blend="soft", scale=2.0,
               branches=_LOCAL_PAIR, default_r=_RELEASE_R, formula="AFF with G = sigmoid(L1 + L2)",
               source="Table 3 (Local + Local)",
               notes="release-era names kept: global_att is the second point-wise branch"),
    FusionForm("half-aff", "HalfASKCFuse", "HalfAFF", aliases=("Half",), blend="soft", scale=2.0,
               branches=MS_CAM, default_r=_RELEASE_R, aggregate="half",
               formula="AFF with G = sigmoid(0.5 L(X + Y) + 0.5 g(X + Y))", source="Table 6",
               notes="release-era HalfASKCFuse stopped each branch at C/r channels and joined them by a "
                     "convolution; the paper's fixed 0.5 weights are used here"),
    FusionForm("concat-aff", "ConcatASKCFuse", "ConcatAFF", aliases=("Concat-MS-CAM",), blend="soft",
               scale=2.0, branches=MS_CAM, default_r=_RELEASE_R, aggregate="concat",
               extra=(Conv1x1("post", 2, 1, True),),
               formula="AFF with G = sigmoid(W [L(X + Y), g(X + Y)])", source="Table 6",
               notes="release-era ConcatASKCFuse added a ReLU after each branch and BN after the pointwise conv"),
    FusionForm("recursive-aff", "RASKCFuse", "RecursiveAFF", aliases=("Recursive",), blend="soft",
               branches=_NESTED, default_r=_RELEASE_R, aggregate="recursive",
               scale=2.0, formula="AFF with G = sigmoid(M2 L + (1 - M2) g), M2 = G2(L + g), L, g of X + Y",
               source="Table 6", notes="release-era RASKCFuse had no factor 2; here the factor is aff's, so "
                                       "the Table 3 and 6 rows differ from aff in the attention map only"),
)}

# Paper names, release names and class names, all lower case -> canonical paper name.
FUSION_ALIASES: Dict[str, str] = {alias: form.name for form in FORMS.values() for alias in form.names()}
# The release names of the forms with released weights (the ablation forms' release-era names are aliases only).
RELEASE_NAMES: Dict[str, str] = {form.name: form.release_name for form in FORMS.values() if form.release}


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
    items = [item for branch in form.branches for item in branch_parameters(branch, channels, r)]
    for conv in form.extra:
        items.append((f"{conv.name}.weight", (conv.out_factor * channels, conv.in_factor * channels, 1, 1)))
        items += [(f"{conv.name}.bias", (conv.out_factor * channels,))] if conv.bias else []
    return items


def check_inputs(module: str, channels: Optional[int], shapes: Iterable[Sequence[int]]) -> None:
    """Refuse inputs of different shapes, or not NCHW with the module's ``channels`` (None: any)."""
    shapes = [tuple(s) for s in shapes]
    first = shapes[0]
    for other in shapes[1:]:
        if other != first:
            raise ValueError(f"{module}: the two inputs must have the same shape, got {first} and {other}")
    if channels is not None and (len(first) != 4 or first[1] != channels):
        raise ValueError(f"{module} was built for {channels} channels (NCHW input), got an input of shape {first}")
