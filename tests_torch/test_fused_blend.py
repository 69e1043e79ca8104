"""The fused AFF blend (hand-written autograd function, generated kernels) equals the plain autograd operators:
outputs and gradients, float64, in training and inference mode, eager and compiled."""
import pytest
import torch

from afflib_torch.fusion import AFF, IAFF, blend, set_fused_blend
from afflib_torch.registry import get_model

SMALL = dict(layers=[1, 1, 1], channels=[4, 4, 8, 8], classes=3)


def _blend_inputs(channels_last: bool = False):
    inputs = [torch.randn(2, 3, 4, 5, dtype=torch.float64) for _ in range(3)]
    if channels_last:
        inputs = [t.contiguous(memory_format=torch.channels_last) for t in inputs]
    return [t.requires_grad_() for t in inputs]


def _outputs_and_grads(fn, inputs):
    out = fn(*inputs)
    grads = torch.autograd.grad((out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum(),
                                inputs)
    return out.detach(), grads


def _plain(x, y, logits, k):
    weights = torch.sigmoid(logits)
    return k * (weights * x + (1 - weights) * y)


@pytest.mark.parametrize("k", [1.0, 2.0])
def test_hand_written_blend_passes_gradcheck_and_equals_autograd(k):
    inputs = _blend_inputs()
    assert torch.autograd.gradcheck(lambda *t: blend(*t, k=k), inputs)
    out, grads = _outputs_and_grads(lambda *t: blend(*t, k=k), inputs)
    out_ref, grads_ref = _outputs_and_grads(lambda *t: _plain(*t, k), inputs)
    torch.testing.assert_close(out, out_ref)
    for got, want in zip(grads, grads_ref):
        torch.testing.assert_close(got, want)


@pytest.mark.slow
@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "channels_last"])
def test_kernel_blend_passes_gradcheck_and_equals_autograd(channels_last):
    """The generated one-pass kernels (compiled on first use: tens of seconds on a small CPU)."""
    inputs = _blend_inputs(channels_last)
    assert torch.autograd.gradcheck(lambda *t: blend(*t, k=2.0, kernel=True), inputs)
    out, grads = _outputs_and_grads(lambda *t: blend(*t, k=2.0, kernel=True), inputs)
    out_ref, grads_ref = _outputs_and_grads(lambda *t: _plain(*t, 2.0), inputs)
    torch.testing.assert_close(out, out_ref)
    for got, want in zip(grads, grads_ref):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("module", [AFF, IAFF])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_fused_module_equals_plain_module(module, train):
    """The whole fusion module (folded local context + fused blend) against plain operators, in both BN modes."""
    net = module(8, r=4).double().train(train)
    for bn in (m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.running_var.uniform_(0.5, 2.0)
        bn.running_mean.uniform_(-0.5, 0.5)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    x, y = (torch.randn(3, 8, 5, 5, dtype=torch.float64, requires_grad=True) for _ in range(2))
    results = {}
    for fused in (True, False):
        net.load_state_dict(state)
        assert set_fused_blend(net, fused) == 1
        out = net(x, y)
        weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
        results[fused] = (out.detach(), torch.autograd.grad((out * weights).sum(), [x, y, *net.parameters()]))
    torch.testing.assert_close(results[True][0], results[False][0])
    for got, want in zip(results[True][1], results[False][1]):
        torch.testing.assert_close(got, want)


def test_set_fused_blend_modes_and_refusal():
    net = get_model("cifar_aff_resnet20", **SMALL)
    assert set_fused_blend(net, "kernel") == 3
    assert all(m.fused and m.blend_kernel for m in net.modules() if isinstance(m, AFF))
    assert set_fused_blend(net, False) == 3
    assert not any(m.fused or m.blend_kernel for m in net.modules() if isinstance(m, AFF))
    with pytest.raises(ValueError, match="fused blend must be one of"):
        set_fused_blend(net, "triton")


@pytest.mark.slow
@pytest.mark.parametrize("mode", [True, "kernel"], ids=["function", "kernel"])
def test_compiled_module_with_fused_blend_equals_eager_plain(mode):
    """torch.compile traces the hand-written function (Inductor fuses it; the kernel mode falls back to it
    there): output and gradients of a compiled AFF in training mode equal the plain eager module's."""
    eager = AFF(8, r=4).double()
    compiled = AFF(8, r=4).double()
    compiled.load_state_dict(eager.state_dict())
    set_fused_blend(eager, False)
    set_fused_blend(compiled, mode)
    x, y = (torch.randn(3, 8, 5, 5, dtype=torch.float64, requires_grad=True) for _ in range(2))
    results = []
    for net in (eager, torch.compile(compiled)):
        out = net(x, y)
        weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
        results.append((out.detach(), torch.autograd.grad((out * weights).sum(), [x, y])))
    torch.testing.assert_close(results[1][0], results[0][0])
    for got, want in zip(results[1][1], results[0][1]):
        torch.testing.assert_close(got, want)
