"""Fusion modules used standalone: formulas, hybridization, any spatial size, float16, errors, name aliases."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

from afflib.nn import AFF, IAFF, MSCAM, DirectAdd, canonical_fusion, get_fusion


def _init(block, seed=0):
    mx.random.seed(seed)
    block.initialize(mx.init.Normal(0.5))
    return block


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _branch_numpy(branch, x):
    """conv-BN-relu-conv-BN with running statistics (inference), on pooled or full-resolution input."""
    z = x
    for layer in branch:
        if isinstance(layer, mx.gluon.nn.Conv2D):
            w = layer.weight.data().asnumpy()[:, :, 0, 0]
            z = np.einsum("oc,nchw->nohw", w, z) + layer.bias.data().asnumpy()[None, :, None, None]
        elif isinstance(layer, mx.gluon.nn.BatchNorm):
            g, b = layer.gamma.data().asnumpy(), layer.beta.data().asnumpy()
            m, v = layer.running_mean.data().asnumpy(), layer.running_var.data().asnumpy()
            z = (z - m[None, :, None, None]) / np.sqrt(v[None, :, None, None] + 1e-5) * g[None, :, None, None] \
                + b[None, :, None, None]
        elif isinstance(layer, mx.gluon.nn.Activation):
            z = np.maximum(z, 0)
        else:  # global pooling
            z = z.mean(axis=(2, 3), keepdims=True)
    return z


def _weights_numpy(block, x, second=False):
    local = block.local_att2 if second else block.local_att
    glob = block.global_att2 if second else block.global_att
    return _sigmoid(_branch_numpy(local, x) + _branch_numpy(glob, x))


def test_mscam_aff_iaff_match_their_equations():
    rng = np.random.RandomState(1)
    x, y = rng.randn(2, 16, 5, 7).astype("float32"), rng.randn(2, 16, 5, 7).astype("float32")
    mscam, aff, iaff = _init(MSCAM(16, r=4)), _init(AFF(16, r=4)), _init(IAFF(16, r=4))

    np.testing.assert_allclose(mscam(mx.nd.array(x)).asnumpy(), x * _weights_numpy(mscam, x), rtol=1e-4, atol=1e-5)
    m = _weights_numpy(aff, x + y)
    np.testing.assert_allclose(aff(mx.nd.array(x), mx.nd.array(y)).asnumpy(), 2 * (m * x + (1 - m) * y),
                               rtol=1e-4, atol=1e-5)
    m1 = _weights_numpy(iaff, x + y)
    m2 = _weights_numpy(iaff, m1 * x + (1 - m1) * y, second=True)
    np.testing.assert_allclose(iaff(mx.nd.array(x), mx.nd.array(y)).asnumpy(), m2 * x + (1 - m2) * y,
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(DirectAdd()(mx.nd.array(x), mx.nd.array(y)).asnumpy(), x + y)


@pytest.mark.parametrize("cls", [AFF, IAFF])
@pytest.mark.parametrize("shape", [(1, 8, 1, 1), (3, 8, 9, 4), (2, 8, 32, 32)])
def test_hybridized_equals_imperative_at_any_size(cls, shape):
    block = _init(cls(8, r=2))
    x, y = mx.nd.random.normal(shape=shape), mx.nd.random.normal(shape=shape)
    expected = block(x, y).asnumpy()
    block.hybridize(static_alloc=True, static_shape=True)
    np.testing.assert_allclose(block(x, y).asnumpy(), expected, rtol=1e-5, atol=1e-6)


def test_fusion_trains_inside_a_gluon_network():
    class TwoBranch(mx.gluon.HybridBlock):
        def __init__(self):
            super().__init__()
            self.a = mx.gluon.nn.Conv2D(8, 3, padding=1, in_channels=3)
            self.b = mx.gluon.nn.Conv2D(8, 1, in_channels=3)
            self.fuse = AFF(8, r=2)
            self.head = mx.gluon.nn.Dense(2, in_units=8)

        def hybrid_forward(self, F, x):
            return self.head(F.mean(self.fuse(self.a(x), self.b(x)), axis=(2, 3)))

    net = TwoBranch()
    net.initialize(mx.init.Xavier())
    net.hybridize()
    x = mx.nd.random.normal(shape=(4, 3, 6, 6))
    with autograd.record():
        loss = mx.gluon.loss.SoftmaxCrossEntropyLoss()(net(x), mx.nd.array([0, 1, 0, 1]))
    loss.backward()
    grad = net.fuse.local_att[0].weight.grad().asnumpy()
    assert np.isfinite(grad).all() and np.abs(grad).sum() > 0


@pytest.mark.parametrize("cls", [MSCAM, AFF, IAFF])
def test_float16_graph_stays_float16(cls):
    """Every op of the module keeps float16 (no float32 constants); running it needs a GPU (no fp16 GEMM on CPU)."""
    block = _init(cls(8, r=2))
    block.cast("float16")
    inputs = [mx.sym.var("x")] if cls is MSCAM else [mx.sym.var("x"), mx.sym.var("y")]
    out = block(*inputs)
    params = {p.name: p.dtype for p in block.collect_params().values()}
    _, out_types, _ = out.infer_type(x=np.float16, **({} if cls is MSCAM else {"y": np.float16}), **params)
    assert out_types == [np.float16]
    # Convolutions hold float16 weights; BatchNorm keeps float32 statistics, as MXNet requires.
    assert {np.dtype(d).name for n, d in params.items() if "conv" in n} == {"float16"}
    if mx.context.num_gpus() > 0:
        x = mx.nd.random.normal(shape=(2, 8, 4, 4), ctx=mx.gpu()).astype("float16")
        block.reset_ctx(mx.gpu())
        assert block(*([x] * len(inputs))).dtype == np.float16


def test_mismatched_inputs_raise_clear_errors():
    block = _init(AFF(8, r=2))
    with pytest.raises(ValueError, match="same shape"):
        block(mx.nd.zeros((1, 8, 4, 4)), mx.nd.zeros((1, 8, 4, 5)))
    with pytest.raises(ValueError, match="built for 8 channels"):
        block(mx.nd.zeros((1, 16, 4, 4)), mx.nd.zeros((1, 16, 4, 4)))
    with pytest.raises(ValueError, match="channels // r"):
        AFF(4, r=8)


@pytest.mark.parametrize("alias,expected", [("aff", "aff"), ("ASKCFuse", "aff"), ("askcfuse", "aff"),
                                            ("iAFF", "iaff"), ("ResGlobLocaforGlobLocaCha", "iaff"),
                                            ("add", "add"), ("DirectAdd", "add"), ("DIRECTADD", "add")])
def test_paper_and_release_names_are_accepted(alias, expected):
    assert canonical_fusion(alias) == expected
    assert type(get_fusion(alias, 16)).__name__ == {"aff": "AFF", "iaff": "IAFF", "add": "DirectAdd"}[expected]


def test_unknown_fusion_lists_valid_names():
    with pytest.raises(ValueError, match="ASKCFuse.*ResGlobLocaforGlobLocaCha|valid"):
        get_fusion("sum", 16)


def test_every_catalogue_form_is_implemented_with_the_catalogue_layout():
    from afflib.core.fusion import FORMS, fusion_parameters
    for name, form in FORMS.items():
        block = get_fusion(name, 16, r=4)
        assert type(block).__name__ == form.class_name
        assert [(k, tuple(p.shape)) for k, p in block._collect_params_with_prefix().items()] == \
            fusion_parameters(name, 16, 4)
