"""The paper's ablation fusion forms in the MXNet engine (afflib.nn.forms): each against its formula, the
properties the paper's notation implies, parameter names, hybridization, the float64 outputs the PyTorch twins
are checked against, and the CIFAR ResNet host with every form at b = 1..4."""
import os

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

from afflib.core.ablation import ABLATION_FORMS, conv_weights, preset_r
from afflib.core.fusion import FORMS, fusion_parameters
from afflib.model_zoo.networks import CIFARAFFResNet
from afflib.nn import get_fusion
from afflib.nn.forms import CatalogueForm
from forms_reference import CHANNELS, FIXTURE, form_inputs, form_params, form_r, paper_formula


def _loaded(name: str, dtype: str = "float64"):
    """Form ``name`` with the shared reference parameters."""
    block = get_fusion(name, CHANNELS, r=form_r(name))
    block.initialize()
    block.cast(dtype)
    params = block._collect_params_with_prefix()
    values = form_params(name)
    assert sorted(params) == sorted(values)
    for key, value in values.items():
        params[key].set_data(mx.nd.array(value, dtype=dtype))
    return block


def _nd(a: np.ndarray) -> mx.nd.NDArray:
    return mx.nd.array(a, dtype="float64")


def _outputs(name: str):
    """(eval, train) outputs of the reference form on its reference inputs, float64."""
    block = _loaded(name)
    x, y = (_nd(a) for a in form_inputs(name))
    evaluated = block(x, y).asnumpy()
    with autograd.record():
        trained = block(x, y)
    return evaluated, trained.asnumpy()


@pytest.mark.parametrize("name", ABLATION_FORMS)
def test_form_computes_its_paper_formula(name):
    block = _loaded(name)
    x, y = form_inputs(name)
    np.testing.assert_allclose(block(_nd(x), _nd(y)).asnumpy(), paper_formula(name, form_params(name), x, y),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ABLATION_FORMS)
def test_parameter_names_follow_the_catalogue_layout(name):
    block = get_fusion(name, 16, r=4)
    block.initialize()
    names = list(block._collect_params_with_prefix())
    assert names == [key for key, _ in fusion_parameters(name, 16, 4)]
    weights = sum(p.data().size for key, p in block._collect_params_with_prefix().items()
                  if key.endswith(".weight") and p.data().ndim == 4)
    assert weights == conv_weights(name, 16, 4)


@pytest.mark.parametrize("name", [n for n in ABLATION_FORMS if not FORMS[n].release])
def test_hybridized_equals_imperative_in_train_and_eval(name):
    block = _loaded(name, "float32")
    x, y = (mx.nd.array(a) for a in form_inputs(name))
    eager = block(x, y).asnumpy()
    with autograd.record():
        eager_train = block(x, y).asnumpy()
    block.hybridize()
    np.testing.assert_allclose(block(x, y).asnumpy(), eager, rtol=1e-5, atol=1e-5)
    with autograd.record():
        np.testing.assert_allclose(block(x, y).asnumpy(), eager_train, rtol=1e-5, atol=1e-5)


def test_registered_by_every_spelling_and_refuses_wrong_shapes():
    assert type(get_fusion("MS-GAU", 8, 2)).__name__ == "MSGAU"
    assert type(get_fusion("SKNet", 8, 1)).__name__ == "SK"
    assert isinstance(get_fusion("Global+Global", 8, 2), CatalogueForm)
    block = get_fusion("ms-sa", 8, 2)
    block.initialize()
    with pytest.raises(ValueError, match="MSSA was built for 8 channels"):
        block(mx.nd.ones((1, 4, 3, 3)), mx.nd.ones((1, 4, 3, 3)))


def _random(shape, seed):
    return _nd(np.random.RandomState(seed).normal(size=shape))


def test_properties_of_the_notation():
    """afflib's y (shortcut) is the paper's X, x (residual branch) the paper's Y."""
    x, y, zero = _random((2, 8, 4, 4), 1), _random((2, 8, 4, 4), 2), mx.nd.zeros((2, 8, 4, 4), dtype="float64")
    gau, se, sa, sk, aff = (_loaded(n) for n in ("ms-gau", "ms-se", "ms-sa", "sk", "aff"))
    # MS-GAU G(Y) X + Y with the paper's X = 0 returns Y
    np.testing.assert_allclose(gau(x, zero).asnumpy(), x.asnumpy(), atol=1e-12)
    # MS-SE X + G(Y) Y: the shortcut passes unchanged, the residual branch is only rescaled in (0, 1)
    ratio = ((se(x, y) - y) / x).asnumpy()
    assert ((ratio > 0) & (ratio < 1)).all()
    # MS-SA G(X + Y) X + Y: the map reads the sum only, so moving d from y to x changes the gate not at all
    d = _random((2, 8, 4, 4), 3)
    gate = ((sa(x, y) - x) / y).asnumpy()
    np.testing.assert_allclose(((sa(x + d, y - d) - (x + d)) / (y - d)).asnumpy(), gate, rtol=1e-9, atol=1e-9)
    # SK: the two paths' weights sum to one (equal inputs pass through) and are constant over H, W (global)
    np.testing.assert_allclose(sk(x, x).asnumpy(), x.asnumpy(), atol=1e-12)
    weight = ((sk(x, y) - x) / (y - x)).asnumpy()
    np.testing.assert_allclose(weight, np.broadcast_to(weight[:, :, :1, :1], weight.shape), atol=1e-9)
    # AFF of two equal inputs is twice the input (the release's factor 2)
    np.testing.assert_allclose(aff(x, x).asnumpy(), 2 * x.asnumpy(), rtol=1e-12, atol=1e-12)


def test_concat_is_separable_in_its_inputs():
    block = _loaded("concat")
    x, y, zero = _random((2, 8, 4, 4), 4), _random((2, 8, 4, 4), 5), mx.nd.zeros((2, 8, 4, 4), dtype="float64")
    np.testing.assert_allclose(block(x, y).asnumpy(), (block(x, zero) + block(zero, y)).asnumpy(), atol=1e-12)


@pytest.mark.parametrize("name", ["aff-global-global", "aff-local-local", "half-aff", "concat-aff",
                                  "recursive-aff"])
def test_aff_variants_of_equal_inputs_return_twice_the_input(name):
    x = _random((2, 8, 4, 4), 6)
    np.testing.assert_allclose(_loaded(name)(x, x).asnumpy(), 2 * x.asnumpy(), rtol=1e-12, atol=1e-12)


def test_float64_outputs_for_the_pytorch_twins_are_current():
    """The stored MXNet outputs that tests_torch/test_forms.py compares the converted twins against."""
    computed = {}
    for name in ABLATION_FORMS:
        computed[f"{name}/eval"], computed[f"{name}/train"] = _outputs(name)
    if os.environ.get("AFF_WRITE_FORMS_FIXTURE") == "1":
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(FIXTURE, **computed)
    stored = dict(np.load(FIXTURE))
    assert sorted(stored) == sorted(computed)
    for key, value in computed.items():
        np.testing.assert_allclose(stored[key], value, rtol=1e-9, atol=1e-9, err_msg=key)


@pytest.mark.parametrize("name", ABLATION_FORMS)
def test_cifar_resnet_host_builds_with_every_form_at_b_1_to_4(name):
    x = mx.nd.array(np.random.RandomState(0).normal(size=(2, 3, 8, 8)))
    for b in (1, 2, 3, 4):
        net = CIFARAFFResNet(fusion=name, layers=[b] * 3, channels=[4, 4, 8, 16], classes=5,
                             fusion_r=preset_r(name) or 4)
        net.initialize()
        assert net(x).shape == (2, 5)
        fused = [key for key in net._collect_params_with_prefix() if ".attention." in key]
        per_block = len(fusion_parameters(name, 4, preset_r(name) or 4))
        assert len(fused) == 3 * b * per_block, (name, b)
