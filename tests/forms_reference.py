"""Shared, framework-free inputs of the fusion-form equivalence check (MXNet suite writes, PyTorch suite reads).

Every form is built for ``CHANNELS`` channels with the paper preset's r; its parameters (by MXNet name, as
``save_parameters`` writes them) and its two inputs are drawn from seeded NumPy generators, so both
environments rebuild them exactly. The MXNet engine's float64 outputs (eval and train mode) are stored in
``tests/fixtures/forms_mxnet_float64.npz``: ``tests/test_forms.py`` checks they are still what MXNet computes
(``AFF_WRITE_FORMS_FIXTURE=1`` rewrites them), ``tests_torch/test_forms.py`` that the converted twins agree.
"""
from __future__ import annotations

import zlib
from pathlib import Path
from typing import Dict, Tuple

import numpy as np

from afflib.core.ablation import ABLATION_FORMS, paper_r
from afflib.core.fusion import fusion_parameters

CHANNELS = 8
SHAPE = (3, CHANNELS, 5, 6)
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "forms_mxnet_float64.npz"
FORMS = ABLATION_FORMS


def form_r(name: str) -> int:
    """The r each form is checked with: the paper preset's (4 for the forms without attention, unused)."""
    return paper_r(name) or 4


def form_params(name: str) -> Dict[str, np.ndarray]:
    """Float64 parameter values of form ``name`` by MXNet name, seeded by the name."""
    rng = np.random.RandomState(zlib.crc32(name.encode()))
    values = {}
    for key, shape in fusion_parameters(name, CHANNELS, form_r(name)):
        if key.endswith("running_var"):
            values[key] = rng.uniform(0.5, 2.0, size=shape)
        elif key.endswith(("running_mean", "beta", "bias")):
            values[key] = rng.normal(0.0, 0.3, size=shape)
        elif key.endswith("gamma"):
            values[key] = rng.uniform(0.5, 1.5, size=shape)
        else:
            values[key] = rng.normal(0.0, np.sqrt(2.0 / np.prod(shape[1:])), size=shape)
    return values


def form_inputs(name: str) -> Tuple[np.ndarray, np.ndarray]:
    """(x, y) in float64: the residual branch and the shortcut."""
    rng = np.random.RandomState(zlib.crc32(name.encode()) + 1)
    return rng.normal(size=SHAPE), rng.normal(size=SHAPE)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _conv(params: Dict[str, np.ndarray], key: str, z: np.ndarray) -> np.ndarray:
    out = np.einsum("oc,nchw->nohw", params[f"{key}.weight"][:, :, 0, 0], z)
    return out + params[f"{key}.bias"][None, :, None, None] if f"{key}.bias" in params else out


def _bn(params: Dict[str, np.ndarray], key: str, z: np.ndarray) -> np.ndarray:
    p = {k: params[f"{key}.{k}"][None, :, None, None] for k in ("gamma", "beta", "running_mean", "running_var")}
    return (z - p["running_mean"]) / np.sqrt(p["running_var"] + 1e-5) * p["gamma"] + p["beta"]


def branch(params: Dict[str, np.ndarray], name: str, z: np.ndarray) -> np.ndarray:
    """A context branch in inference mode: [mean over H, W], conv, BN, ReLU, conv, BN (by the stored names)."""
    first = 1 if f"{name}.1.running_mean" not in params else 0
    if first:
        z = z.mean(axis=(2, 3), keepdims=True)
    z = np.maximum(_bn(params, f"{name}.{first + 1}", _conv(params, f"{name}.{first}", z)), 0.0)
    return _bn(params, f"{name}.{first + 4}", _conv(params, f"{name}.{first + 3}", z))


def paper_formula(name: str, params: Dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """What form ``name`` computes in inference mode, written from the paper's formulas in its notation:
    X = the shortcut (afflib's y), Y = the residual branch (afflib's x); aff's variants keep the factor 2."""
    X, Y = y, x

    def G(z, local="local_att", glob="global_att"):  # the MS-CAM map
        return _sigmoid(branch(params, local, z) + branch(params, glob, z))

    def aff_blend(M):  # the release's AFF: M on the residual branch, factor 2
        return 2.0 * (M * Y + (1.0 - M) * X)

    if name == "add":
        return X + Y
    if name == "concat":  # W_A X + W_B Y; the convolution reads [x, y] = [Y, X]
        w = params["fuse.weight"][:, :, 0, 0]
        return np.einsum("oc,nchw->nohw", w[:, CHANNELS:], X) + np.einsum("oc,nchw->nohw", w[:, :CHANNELS], Y)
    if name == "ms-gau":
        return G(Y) * X + Y
    if name == "ms-se":
        return X + G(Y) * Y
    if name == "ms-sa":
        return G(X + Y) * X + Y
    if name == "sk":
        M = _sigmoid(branch(params, "global_att", X + Y))
        return M * X + (1.0 - M) * Y
    if name in ("aff", "aff-global-global", "aff-local-local"):
        return aff_blend(G(X + Y))
    if name == "iaff":
        M1 = G(X + Y)
        M2 = G(M1 * Y + (1.0 - M1) * X, "local_att2", "global_att2")
        return M2 * Y + (1.0 - M2) * X
    L, g = branch(params, "local_att", X + Y), branch(params, "global_att", X + Y)
    if name == "half-aff":
        return aff_blend(_sigmoid(0.5 * L + 0.5 * g))
    if name == "concat-aff":
        joined = np.concatenate([L, np.broadcast_to(g, L.shape)], axis=1)
        return aff_blend(_sigmoid(_conv(params, "post", joined)))
    if name == "recursive-aff":
        M2 = G(L + g, "local_att2", "global_att2")
        return aff_blend(_sigmoid(M2 * L + (1.0 - M2) * g))
    raise ValueError(f"no formula for {name!r}")
