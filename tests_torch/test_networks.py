"""The PyTorch twins: released names and shapes, parameter counts, MXNet layer conventions, fusion blocks."""
import numpy as np
import pytest
import torch

import afflib_torch
from afflib_torch.blocks import projection_shortcut
from afflib_torch.convert import name_map
from afflib_torch.fusion import AFF, IAFF, MSCAM, BatchNorm2d, DirectAdd, attention_blend, get_fusion
from reference import RELEASED, load_released_format

PUBLISHED_MILLIONS = {"aff_resnet50": 30.37, "iaff_resnet50": 35.17, "aff_resnext50_32x4d": 29.95,
                      "iaff_resnext50_32x4d": 34.75, "cifar_aff_resnet32": 7.90,
                      "cifar_aff_resnext38_32x4d": 7.77, "cifar_aff_resnext47_32x4d": 9.61}


@pytest.mark.parametrize("stem", sorted(RELEASED))
def test_names_and_shapes_match_released_checkpoints(stem):
    released = load_released_format(stem)
    name, classes = RELEASED[stem]
    net = afflib_torch.get_model(name, classes=classes)
    state = net.state_dict()
    ours = [(mx, list(state[key].shape)) for key, mx in name_map(net).items()]
    assert ours == [(k, list(s)) for k, s in released["params"]]
    assert sum(int(np.prod(s)) for _, s in ours) == released["total_elements"]
    trainable = sum(p.numel() for p in net.parameters())  # MXNet counts the frozen input-BN gamma/beta too
    assert round(trainable / 1e6, 2) == PUBLISHED_MILLIONS[name]


def test_registry_matches_the_mxnet_names_and_overrides():
    names = afflib_torch.get_model_list()
    assert len(names) == 3 * (3 + 2 + 4 + 4 + 3 + 4 + 5)  # ImageNet ResNets: 3 bottleneck, 2 basic; 4 Inception; 5 FPN
    assert {"aff_resnet50", "iaff_resnext50_32x4d", "add_resnet152", "cifar_aff_resnet32",
            "cifar_iaff_resnext47_32x4d"} <= set(names)
    net = afflib_torch.get_model("cifar_aff_resnet20", layers=[1, 1, 1], channels=[8, 8, 16, 32], classes=10,
                                 in_channels=1)
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match="Did you mean: aff_resnet50"):
        afflib_torch.get_model("aff_resnet05")
    with pytest.raises(ValueError, match="no released weights for 'cifar_aff_resnet20'"):
        afflib_torch.get_model("cifar_aff_resnet20", pretrained=True)


def test_batchnorm_follows_mxnet_conventions():
    """Checked against MXNet 1.9.1 when written: momentum 0.9, biased running variance, eps 1e-5."""
    bn = BatchNorm2d(2)
    assert bn.eps == 1e-5 and bn.momentum == pytest.approx(0.1)
    x = torch.tensor(np.arange(8, dtype=np.float32).reshape(2, 2, 2, 1), requires_grad=True)
    bn.train()
    bn(x).sum().backward()
    data = x.detach().numpy().transpose(1, 0, 2, 3).reshape(2, -1)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * data.mean(1), rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * data.var(1), rtol=1e-6)


def test_fixed_input_batchnorm_ignores_gamma_adds_beta_and_keeps_its_statistics():
    """MXNet's BatchNorm(scale=False, center=False): gamma fixed at 1, beta added but not trained, and (as
    MXNet updates statistics in backward, which never runs for it) running statistics left untouched."""
    bn = BatchNorm2d(3, scale=False, center=False)
    with torch.no_grad():
        bn.weight.fill_(5.0)
        bn.bias.copy_(torch.tensor([0.5, -1.0, 2.0]))
        bn.running_mean.fill_(1.0)
        bn.running_var.fill_(4.0)
    x = torch.randn(4, 3, 5, 5) * 3 + 1
    bn.eval()
    expected = (x - 1.0) / np.sqrt(4.0 + 1e-5) + bn.bias.view(1, 3, 1, 1)
    torch.testing.assert_close(bn(x), expected)
    bn.train()
    out = bn(x)
    mean = x.mean((0, 2, 3), keepdim=True)
    var = x.var((0, 2, 3), unbiased=False, keepdim=True)
    torch.testing.assert_close(out, (x - mean) / torch.sqrt(var + 1e-5) + bn.bias.view(1, 3, 1, 1))
    assert bn.running_mean.tolist() == [1.0, 1.0, 1.0] and bn.running_var.tolist() == [4.0, 4.0, 4.0]
    assert not bn.weight.requires_grad and not bn.bias.requires_grad


def test_average_pool_shortcut_is_ceil_mode_excluding_padding():
    """MXNet AvgPool2D(2, 2, ceil_mode=True, count_include_pad=False): a 5x5 input gives 3x3, edges average
    over the elements that exist."""
    pool = projection_shortcut(1, 1, stride=2, avg_down=True, norm=False)[0]
    x = torch.arange(25.0).view(1, 1, 5, 5)
    grid = x[0, 0].numpy()
    expected = [[grid[r:r + 2, c:c + 2].mean() for c in range(0, 5, 2)] for r in range(0, 5, 2)]
    np.testing.assert_allclose(pool(x)[0, 0].numpy(), expected)


@pytest.mark.parametrize("k", [1.0, 2.0])
def test_fused_blend_gradient_equals_autograd(k):
    shapes = [(2, 3, 4, 5)] * 3 + [(2, 3, 1, 1)]
    inputs = [torch.randn(*s, dtype=torch.float64, requires_grad=True) for s in shapes]
    assert torch.autograd.gradcheck(lambda *t: attention_blend(*t, k=k, fused=True), inputs)
    fused = attention_blend(*inputs, k=k, fused=True)
    plain = attention_blend(*inputs, k=k, fused=False)
    torch.testing.assert_close(fused, plain)
    grads_fused = torch.autograd.grad(fused.square().sum(), inputs)
    grads_plain = torch.autograd.grad(plain.square().sum(), inputs)
    for a, b in zip(grads_fused, grads_plain):
        torch.testing.assert_close(a, b)


def test_fusion_modules_shapes_and_errors():
    x, y = torch.randn(2, 16, 6, 6), torch.randn(2, 16, 6, 6)
    for name in ("aff", "ASKCFuse", "iaff", "ResGlobLocaforGlobLocaCha", "add", "DirectAdd"):
        assert get_fusion(name, 16, r=4)(x, y).shape == x.shape
    torch.testing.assert_close(DirectAdd(16)(x, y), x + y)
    weights = MSCAM(16, r=4, return_weights=True).eval()(x).detach()
    assert weights.shape == x.shape and 0 < float(weights.min()) and float(weights.max()) < 1
    with pytest.raises(ValueError, match="same shape"):
        AFF(16)(x, y[:, :, :5])
    with pytest.raises(ValueError, match="built for 16 channels"):
        IAFF(16)(torch.randn(1, 8, 3, 3), torch.randn(1, 8, 3, 3))
    with pytest.raises(ValueError, match="valid .*ASKCFuse"):
        get_fusion("sum", 16)
    with pytest.raises(ValueError, match="no attention channels"):
        AFF(4, r=8)
    # The release's names and indices: conv/BN of both branches, the global one behind its pooling.
    keys = set(name_map(IAFF(16, r=4)).values())
    assert {"local_att.0.weight", "local_att.1.gamma", "global_att.1.weight", "global_att.5.running_var",
            "local_att2.4.beta", "global_att2.4.bias"} <= keys


@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "channels_last"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_fused_local_branch_equals_the_module_chain(training, channels_last):
    """BN2 folded into the second 1x1 conv through the hidden tensor's mean and covariance: same output,
    gradients and running statistics as conv-BN-ReLU-conv-BN."""
    from afflib_torch.fusion import local_context
    torch.manual_seed(3)
    fused = IAFF(16, r=4).double().local_att
    with torch.no_grad():
        for module in fused.modules():
            if isinstance(module, BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.1)
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 2)
    plain = IAFF(16, r=4).double().local_att
    plain.load_state_dict(fused.state_dict())
    fused.train(training)
    plain.train(training)
    x = torch.randn(6, 16, 5, 7, dtype=torch.float64) * 2 + 0.5
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_fused, out_plain = local_context(fused, x1), plain(x2)
    torch.testing.assert_close(out_fused, out_plain)
    grad = torch.randn_like(out_plain)
    out_fused.backward(grad)
    out_plain.backward(grad)
    torch.testing.assert_close(x1.grad, x2.grad)
    for (name, a), b in zip(fused.named_parameters(), plain.parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=name)
    for (name, a), b in zip(fused.state_dict().items(), plain.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)


def test_every_catalogue_form_is_implemented_with_the_catalogue_layout():
    from afflib.core.fusion import FORMS, fusion_parameters
    for name, form in FORMS.items():
        block = get_fusion(name, 16, r=4)
        assert type(block).__name__ == form.class_name
        state = block.state_dict()
        assert [(mx, tuple(state[key].shape)) for key, mx in name_map(block).items()] == \
            fusion_parameters(name, 16, 4)


def test_networks_take_a_fusion_factory_or_one_fusion_per_stage():
    """The plan's fusion of each stage reaches the blocks (the plan itself: tests_core/test_plan.py)."""
    net = afflib_torch.get_model("cifar_aff_resnext29_32x4d", layers=[1, 1, 1], channels=16,
                                 fusion=["add", "iaff", lambda channels, r: AFF(channels, r)])
    kinds = [type(stage[0].attention) for stage in net.features[3:6]]
    assert kinds == [DirectAdd, IAFF, AFF] and net.features[5][0].attention.r == 16
    assert net(torch.randn(2, 3, 16, 16)).shape == (2, 100)
