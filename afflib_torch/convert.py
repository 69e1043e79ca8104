"""Mechanical conversion between MXNet ``.params`` arrays and the twins' PyTorch state_dicts.

Names: the state_dict key is the MXNet structural name (what ``save_parameters`` writes) with PyTorch's
suffix for BatchNorm: ``gamma`` <-> ``weight``, ``beta`` <-> ``bias``; ``running_mean``/``running_var``,
conv/dense ``weight``/``bias`` keep their names. PyTorch's ``num_batches_tracked`` has no MXNet array: it
is left as it is when loading and dropped when writing. Shapes are identical (OIHW convolutions, (out, in)
dense weights), so values are copied unchanged.
"""
from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

from afflib.core.checkpoint_record import add_member, verify_member
from afflib.core.fileio import atomic_write

from afflib.core.params_io import load_params, save_params
from afflib.core.released import TAGS, ReleasedFile
from afflib.core.store import released_file

__all__ = ["CheckpointMismatch", "name_map", "state_dict_from_mxnet", "mxnet_arrays_from_model",
           "load_checkpoint", "save_checkpoint", "read_checkpoint", "is_released_choice", "load_released"]

_BN_SUFFIXES = {"weight": "gamma", "bias": "beta"}
_SKIPPED = ("num_batches_tracked",)
PathLike = Union[str, os.PathLike]


class CheckpointMismatch(ValueError):
    """A checkpoint's arrays do not fit the model: names missing or unexpected, or shapes different."""


def name_map(model: nn.Module) -> Dict[str, str]:
    """state_dict key -> MXNet structural name, for every key that has an MXNet array (in state_dict order)."""
    bn_prefixes = {name + "." for name, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._NormBase)}
    mapping = {}
    for key in model.state_dict():
        prefix, _, leaf = key.rpartition(".")
        if leaf in _SKIPPED:
            continue
        if prefix + "." in bn_prefixes and leaf in _BN_SUFFIXES:
            leaf = _BN_SUFFIXES[leaf]
        mapping[key] = f"{prefix}.{leaf}" if prefix else leaf
    return mapping


def _describe(items: List[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


def _check_fit(expected: Mapping[str, Tuple[int, ...]], found: Mapping[str, Tuple[int, ...]], source: str,
               target: str) -> None:
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    mismatched = [f"{k} (file {tuple(found[k])}, model {tuple(expected[k])})" for k in expected
                  if k in found and tuple(found[k]) != tuple(expected[k])]
    if not (missing or unexpected or mismatched):
        return
    lines = [f"{source} does not fit {target}:"]
    if missing:
        lines.append(f"  {len(missing)} missing from the file: {_describe(missing)}")
    if unexpected:
        lines.append(f"  {len(unexpected)} unexpected in the file: {_describe(unexpected)}")
        if any(k.startswith(("arg:", "aux:")) for k in unexpected):
            lines.append("  (arg:/aux: names come from HybridBlock.export; convert a save_parameters file instead)")
    if mismatched:
        lines.append(f"  {len(mismatched)} with a different shape: {_describe(mismatched, 5)}")
        if all(k.split(" ")[0].rsplit(".", 1)[0] in ("fc", "output") for k in mismatched):
            lines.append("  only the classifier differs: build the model with the file's number of classes "
                         "(--classes / classes=)")
    raise CheckpointMismatch("\n".join(lines))


def state_dict_from_mxnet(model: nn.Module, arrays: Mapping[str, np.ndarray],
                          source: str = "the MXNet arrays") -> Dict[str, torch.Tensor]:
    """A complete state_dict for ``model`` from MXNet arrays (cast to the model's dtypes); strict on names/shapes."""
    if not isinstance(arrays, Mapping):
        raise CheckpointMismatch(f"{source} holds an unnamed array list, not parameters saved by save_parameters")
    mapping = name_map(model)
    current = model.state_dict()
    _check_fit({mx: tuple(current[key].shape) for key, mx in mapping.items()},
               {k: tuple(np.shape(v)) for k, v in arrays.items()}, source, type(model).__name__)
    state = dict(current)
    for key, mx_name in mapping.items():
        state[key] = torch.from_numpy(np.array(arrays[mx_name])).to(current[key].dtype)
    return state


def mxnet_arrays_from_model(model_or_state: Union[nn.Module, Mapping[str, torch.Tensor]],
                            model: Optional[nn.Module] = None, dtype: str = "float32") -> Dict[str, np.ndarray]:
    """MXNet name -> NumPy array for a model (or a state_dict of ``model``), ready for ``save_params``."""
    if isinstance(model_or_state, nn.Module):
        model, state = model_or_state, model_or_state.state_dict()
    else:
        if model is None:
            raise ValueError("a state_dict needs the model it belongs to (for the BatchNorm names)")
        state = model_or_state
    mapping = name_map(model)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items() if k in mapping}
    _check_fit(expected, {k: tuple(v.shape) for k, v in state.items() if k.rpartition(".")[2] not in _SKIPPED},
               "the state_dict", type(model).__name__)
    return {mapping[k]: state[k].detach().to("cpu", torch.float32).numpy().astype(dtype) for k in mapping}


def read_checkpoint(model: nn.Module, path: PathLike) -> Dict[str, torch.Tensor]:
    """The state_dict for ``model`` stored in ``path``: MXNet ``.params``, ``.pt``/``.pth`` or ``.safetensors``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    verify_member(path)  # a file listed in a checkpoint record must match its size and SHA-256
    suffix = path.suffix.lower()
    if suffix in (".params", ".nd"):
        return state_dict_from_mxnet(model, load_params(path), str(path))
    if suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError as exc:
            raise ImportError(f"{path}: reading .safetensors needs the safetensors package "
                              "(pip install safetensors)") from exc
        state = load_file(str(path))
    elif suffix in (".pt", ".pth", ".bin"):
        state = _torch_load_state(path)
    else:
        raise ValueError(f"{path}: unknown checkpoint type {suffix!r}; expected .params (MXNet), .pt/.pth "
                         "(PyTorch state_dict) or .safetensors")
    current = model.state_dict()
    _check_fit({k: tuple(v.shape) for k, v in current.items() if k.rpartition(".")[2] not in _SKIPPED},
               {k: tuple(v.shape) for k, v in state.items() if k.rpartition(".")[2] not in _SKIPPED},
               str(path), type(model).__name__)
    merged = dict(current)
    merged.update(state)
    return merged


def _torch_load_state(path: Path) -> Dict[str, torch.Tensor]:
    """The state_dict in a ``.pt``/``.pth`` file; a file that holds none is a CheckpointMismatch naming it."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, EOFError, KeyError, IndexError, RuntimeError, ValueError, UnicodeDecodeError,
            OSError) as err:     # what torch.load raises on bytes that are not (all of) a checkpoint
        reason = err.strerror if isinstance(err, OSError) and err.strerror else type(err).__name__
        raise CheckpointMismatch(f"{path}: not a readable PyTorch checkpoint ({reason}; truncated or not written "
                                 "by torch.save)") from None
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        raise CheckpointMismatch(f"{path}: holds a {type(state).__name__}, not a state_dict (a dict of names to "
                                 "tensors, as torch.save(model.state_dict(), ...) writes)")
    return state


def load_checkpoint(model: nn.Module, path: PathLike) -> nn.Module:
    """Load ``path`` (see :func:`read_checkpoint`) into ``model`` strictly; returns the model."""
    model.load_state_dict(read_checkpoint(model, path), strict=True)
    return model


def is_released_choice(pretrained: object) -> bool:
    """True, a label tag (``'fine'``, ``'coarse'``, ``'imagenet'``) or a SHA-1 prefix that is no existing file:
    a released file of the store rather than a checkpoint path."""
    if pretrained is True:
        return True
    if not isinstance(pretrained, str) or os.path.exists(pretrained):
        return False
    key = pretrained.strip().lower()
    return key in TAGS or re.fullmatch(r"[0-9a-f]{6,40}", key) is not None


def load_released(model: nn.Module, name: str, pretrained: Union[bool, str], classes: Optional[int] = None,
                  root: Optional[PathLike] = None) -> ReleasedFile:
    """Load the released MXNet file that ``pretrained`` selects for registry model ``name`` into ``model``:
    fetched and hash-checked by :mod:`afflib.core.store` (the cache the MXNet engine uses), then converted."""
    entry, path = released_file(name, pretrained, classes, root)
    try:
        load_checkpoint(model, path)
    except CheckpointMismatch as err:
        raise CheckpointMismatch(f"released file for {name} ({entry.tag}): {err}") from err
    return entry


def save_checkpoint(model: nn.Module, path: PathLike, dtype: str = "float32") -> None:
    """Write ``model``'s parameters atomically as MXNet ``.params``, ``.pt``/``.pth`` or ``.safetensors``, and
    their size and SHA-256 in the checkpoint record beside it (see :func:`afflib.core.checkpoint_record.add_member`)."""
    _save_file(model, Path(path), dtype)
    add_member(path)


def _save_file(model: nn.Module, path: Path, dtype: str) -> None:
    suffix = path.suffix.lower()
    if suffix in (".params", ".nd"):
        save_params(path, mxnet_arrays_from_model(model, dtype=dtype))
        return
    state = {k: v.detach().to("cpu") for k, v in model.state_dict().items()}
    if suffix == ".safetensors":
        try:
            from safetensors.torch import save_file
        except ImportError as exc:
            raise ImportError("writing .safetensors needs the safetensors package (pip install safetensors)") from exc
        atomic_write(path, lambda tmp: save_file({k: v.contiguous() for k, v in state.items()}, tmp))
    elif suffix in (".pt", ".pth"):
        atomic_write(path, lambda tmp: torch.save(state, tmp))
    else:
        raise ValueError(f"{path}: unknown checkpoint type {suffix!r}; expected .params, .pt/.pth or .safetensors")
