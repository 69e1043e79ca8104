"""One model registry for both engines: registry name -> (network class, default constructor arguments).

The names and defaults come from :data:`afflib.core.specs.MODEL_SPECS`; an engine creates one
:class:`Registry` with its four family classes (``afflib.model_zoo.registry``, ``afflib_torch.registry``), so
both engines know the same names, take the same spec texts and give the same close-match errors.
Framework-free (stdlib only): the classes are whatever the engine passes.
"""
from __future__ import annotations

import inspect
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from .fusion import FORMS
from .modelspec import ModelSpec, entry, merge_args, parse_spec
from .specs import MODEL_SPECS

__all__ = ["Registry", "plain_twin"]


class Registry:
    """Registry names of one engine.

    Parameters
    ----------
    package : str
        The engine's package, named in errors (``"afflib"``: "All models: afflib.get_model_list()").
    families : iterable of classes
        The engine's network classes; each spec of ``specs`` is registered with the class of its family name.
    specs : mapping, optional
        Registry name -> (family name, defaults); the built-in :data:`MODEL_SPECS` by default.
    """

    def __init__(self, package: str, families: Iterable[Any],
                 specs: Optional[Mapping[str, Tuple[str, Dict[str, Any]]]] = None):
        self.package = package
        self.families = {cls.__name__: cls for cls in families}
        self.models: Dict[str, Tuple[Any, Dict[str, Any]]] = {}
        for name, (family, defaults) in (MODEL_SPECS if specs is None else specs).items():
            self.register(name, self.families[family], **defaults)

    def register(self, name: str, cls: Any, **defaults: Any) -> None:
        """Add ``name`` -> ``cls(**defaults)`` to the registry."""
        if name in self.models:
            raise ValueError(f"model {name!r} is already registered")
        self.models[name] = (cls, defaults)

    def names(self) -> List[str]:
        """Names of all registered models."""
        return sorted(self.models)

    def resolve(self, name: str, kwargs: Optional[Mapping[str, Any]] = None) -> Tuple[ModelSpec, Any, Dict[str, Any]]:
        """(spec, class, constructor arguments) of ``name`` (a registry name, a CIFAR depth or a spec text)
        with ``kwargs`` on top; a ValueError lists close matches or names a contradicted argument."""
        spec = parse_spec(name)
        cls, defaults = entry(spec.name, self.models, self.package)
        return spec, cls, merge_args(defaults, spec, kwargs or {})

    def spec(self, name: str) -> Tuple[Any, Dict[str, Any]]:
        """The class and arguments of ``name`` (a registry name, a CIFAR depth or a spec text such as
        ``cifar_aff_resnet8(channels=[16,16,32,64], in_channels=1, classes=10)``); a ValueError lists close
        matches."""
        _, cls, args = self.resolve(name)
        return cls, args

    def arguments(self, name: str) -> List[str]:
        """The constructor arguments that ``name``'s class accepts (to name a misspelt one up front)."""
        cls, _ = self.spec(name)
        params = inspect.signature(cls.__init__).parameters.values()
        return sorted(p.name for p in params if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))


def plain_twin(name: str) -> str:
    """The plain-addition twin of a registry name: the same network with its fusion token replaced by ``add``
    (``cifar_iaff_resnet20`` -> ``cifar_add_resnet20``); a ValueError if the name holds no attentional fusion."""
    attended = "|".join(sorted((f for f, form in FORMS.items() if form.attended), key=len, reverse=True))
    twin = re.sub(rf"(^|_)(?:{attended})_", r"\1add_", name, count=1)
    if twin == name:
        raise ValueError(f"{name!r} has no attentional fusion ({attended.replace('|', ', ')}) in its name to "
                         f"replace by add")
    return twin
