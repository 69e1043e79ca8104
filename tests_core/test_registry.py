"""The generic registry (afflib.core.registry) with stand-in family classes: names, specs, errors, twins."""
from __future__ import annotations

import pytest

from afflib.core.registry import Registry, plain_twin
from afflib.core.specs import MODEL_SPECS


def _families():
    """Four classes named as the families, taking their arguments as an engine's do."""
    def make(name):
        def __init__(self, fusion, layers, start_layer=1, classes=10, channels=64, **kwargs):
            self.args = dict(fusion=fusion, layers=layers, start_layer=start_layer, classes=classes, **kwargs)
        return type(name, (), {"__init__": __init__})
    return [make(n) for n in ("AFFResNet", "AFFResNeXt", "CIFARAFFResNet", "CIFARAFFResNeXt",
                                       "CIFARInceptionResNet", "CIFARFPN", "AFFResNetFPN")]


def test_every_spec_is_registered_with_its_family():
    registry = Registry("engine", _families())
    assert registry.names() == sorted(MODEL_SPECS) and len(registry.names()) == 75
    for name, (family, defaults) in MODEL_SPECS.items():
        cls, args = registry.models[name]
        assert cls.__name__ == family and args == defaults


def test_resolve_merges_spec_text_and_kwargs():
    registry = Registry("engine", _families())
    spec, cls, args = registry.resolve("cifar_aff_resnet8(channels=[16,16,32,64], in_channels=1, classes=10)",
                                       {"start_layer": 2})
    assert (spec.name, cls.__name__) == ("cifar_aff_resnet8", "CIFARAFFResNet")
    assert args == {"fusion": "aff", "layers": [1, 1, 1], "channels": [16, 16, 32, 64], "start_layer": 2,
                    "classes": 10, "in_channels": 1}
    assert registry.spec("aff_resnet50")[1]["layers"] == [3, 4, 6, 3]
    with pytest.raises(ValueError, match="has classes=10, but classes=100 was asked for"):
        registry.resolve("cifar_aff_resnet8(classes=10)", {"classes": 100})


def test_errors_name_close_matches_and_the_engine():
    registry = Registry("afflib_torch", _families())
    with pytest.raises(ValueError, match=r"Did you mean: aff_resnet50.*afflib_torch.get_model_list\(\)"):
        registry.resolve("aff_resnet05")
    with pytest.raises(ValueError, match="already registered"):
        registry.register("aff_resnet50", object)
    registry.register("my_net", registry.families["CIFARAFFResNet"], fusion="add", layers=[1, 1, 1])
    assert "my_net" in registry.names() and registry.spec("my_net")[1]["fusion"] == "add"


def test_arguments_are_the_constructor_parameters():
    registry = Registry("engine", _families())
    assert registry.arguments("cifar_aff_resnet20") == ["channels", "classes", "fusion", "layers", "start_layer"]


def test_plain_addition_twins():
    assert plain_twin("aff_resnet50") == "add_resnet50"
    assert plain_twin("cifar_iaff_resnext29_32x4d") == "cifar_add_resnext29_32x4d"
    assert all(plain_twin(n) in MODEL_SPECS for n in MODEL_SPECS if "_add_" not in f"_{n}")
    with pytest.raises(ValueError, match="no attentional fusion"):
        plain_twin("cifar_add_resnet20")
