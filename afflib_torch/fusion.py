"""PyTorch twins of afflib's fusion modules (MS-CAM, AFF, iAFF, plain add) and MXNet-convention BatchNorm.

Child names and indices equal those of ``afflib.nn.fusion`` (``local_att.0.weight``...), so a converted
state_dict carries the MXNet structural names with PyTorch's suffixes (gamma -> weight, beta -> bias).
The blend ``k * (y + M * (x - y))`` with ``M = sigmoid(local + global)`` runs as one autograd function
(:func:`attention_blend`) that saves three tensors and computes its gradient in a few passes.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple, Type, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from afflib.core.fusion import (FORMS, FUSION_ALIASES, MS_CAM, RELEASE_NAMES, Branch, attention_channels,
                                attention_pairs, canonical_fusion, check_inputs, fusion_form)

__all__ = ["BatchNorm2d", "GlobalMean", "MSCAM", "AFF", "IAFF", "DirectAdd", "FUSION_ALIASES", "RELEASE_NAMES",
           "attention_blend", "local_context", "canonical_fusion", "get_fusion", "build_fusion", "set_fused_blend",
           "register_fusion"]


class BatchNorm2d(nn.BatchNorm2d):
    """BatchNorm with MXNet Gluon's conventions and arguments.

    eps 1e-5; MXNet's momentum 0.9 is PyTorch's 0.1; the running variance blends in the *biased* batch
    variance as MXNet does (PyTorch would use the unbiased one). ``scale=False`` is MXNet's ``fix_gamma``: the
    stored ``weight`` (gamma) is kept for the file format but the op uses 1 and it is not trained.
    ``center=False`` freezes ``bias`` (beta) but, as in MXNet, it is still added.

    MXNet updates running statistics in the backward pass, so a BatchNorm with nothing to train whose
    input needs no gradient (the CIFAR networks' input BN) never updates them: its eval mode keeps the
    initial (or loaded) statistics. This twin does the same (it normalises with batch statistics in
    training mode but leaves the buffers alone); other BNs update in the forward pass as PyTorch's do.
    """

    def __init__(self, num_features: int, momentum: float = 0.9, epsilon: float = 1e-5, scale: bool = True,
                 center: bool = True):
        super().__init__(num_features, eps=epsilon, momentum=1.0 - momentum)
        self.scale, self.center = scale, center
        self.weight.requires_grad_(scale)
        self.bias.requires_grad_(center)

    def forward(self, x: Tensor) -> Tensor:
        weight = self.weight if self.scale else None
        if not self.training:
            return F.batch_norm(x, self.running_mean, self.running_var, weight, self.bias, False, 0.0, self.eps)
        update = self.scale or self.center or x.requires_grad
        if x.numel() == x.shape[1]:
            return self._one_value_per_channel(x, weight, update)
        if not update:
            return F.batch_norm(x, None, None, weight, self.bias, True, 0.0, self.eps)
        if self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
        # The op blends the unbiased batch variance into a copy (which autograd keeps); the biased one goes
        # into the buffer: blended = (1 - m) * old + m * unbiased, wanted = blended - m * unbiased / n.
        blended = self.running_var.clone()
        out = F.batch_norm(x, self.running_mean, blended, weight, self.bias, True, self.momentum, self.eps)
        n = x.numel() // x.shape[1]
        with torch.no_grad():
            self.running_var.mul_((1.0 - self.momentum) / n).add_(blended, alpha=(n - 1) / n)
        return out

    def _one_value_per_channel(self, x: Tensor, weight: Optional[Tensor], update: bool) -> Tensor:
        """Training mode with one value per channel (batch 1 over a 1x1 map, e.g. the global context), which
        PyTorch's op refuses: as MXNet, the batch mean is that value and the variance 0, so the output is beta
        (zero gradient to x and gamma) and the running statistics blend in that mean and variance 0."""
        mean = x.mean((0, 2, 3), keepdim=True)
        out = (x - mean) * (1.0 / self.eps ** 0.5)
        if weight is not None:
            out = out * weight.view(1, -1, 1, 1)
        out = out + self.bias.view(1, -1, 1, 1)
        if update:
            with torch.no_grad():
                self.running_mean.lerp_(mean.detach().flatten().to(self.running_mean.dtype), self.momentum)
                self.running_var.mul_(1.0 - self.momentum)
                if self.num_batches_tracked is not None:
                    self.num_batches_tracked.add_(1)
        return out


class GlobalMean(nn.Module):
    """Global average pooling that keeps the spatial dims (N, C, 1, 1)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.mean((2, 3), keepdim=True)


class _AttentionBlend(torch.autograd.Function):
    """``k * (y + sigmoid(logits) * (x - y))`` with a hand-written backward (saves x, y and the map)."""

    @staticmethod
    def forward(ctx, x: Tensor, y: Tensor, logits: Tensor, k: float) -> Tensor:
        weights = torch.sigmoid(logits)
        out = torch.lerp(y, x, weights)
        if k != 1.0:
            out.mul_(k)
        ctx.save_for_backward(x, y, weights)
        ctx.k = k
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, y, weights = ctx.saved_tensors
        grad = grad * ctx.k if ctx.k != 1.0 else grad
        grad_x = grad * weights
        grad_y = grad - grad_x
        grad_logits = torch.ops.aten.sigmoid_backward(grad * (x - y), weights)
        return grad_x, grad_y, grad_logits, None


def attention_blend(x: Tensor, y: Tensor, local: Tensor, glob: Tensor, k: float = 1.0, fused: bool = True) -> Tensor:
    """``k * (M * x + (1 - M) * y)`` with ``M = sigmoid(local + glob)``, ``glob`` broadcast over H and W."""
    if fused:
        return _AttentionBlend.apply(x, y, local + glob, k)
    weights = torch.sigmoid(local + glob)
    return k * (y + weights * (x - y))


def _conv1x1(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """A 1x1 convolution as one batched matrix product: several times faster than the convolution kernel on
    CPU for the attention branches' few channels. ``bias`` is (C_out,) or per sample (N, C_out). NCHW or
    channels_last input; the output has the same layout."""
    weight = weight.flatten(1)
    n, c, h, w = x.shape
    bias = bias.view(-1, bias.shape[-1])
    if x.is_contiguous():
        out = torch.baddbmm(bias.unsqueeze(2), weight.expand(n, -1, -1), x.view(n, c, h * w))
        return out.view(n, -1, h, w)
    if x.is_contiguous(memory_format=torch.channels_last):
        out = torch.baddbmm(bias.unsqueeze(1), x.permute(0, 2, 3, 1).reshape(n, h * w, c),
                            weight.t().expand(n, -1, -1))
        return out.view(n, h, w, -1).permute(0, 3, 1, 2)
    return F.conv2d(x, weight[:, :, None, None]) + bias.view(bias.shape[0], -1, 1, 1)


def local_context(branch: nn.Sequential, x: Tensor, glob: Optional[Tensor] = None) -> Tensor:
    """The local branch ``BN2(conv2(relu(BN1(conv1(x)))))`` with BN2 folded into conv2, plus ``glob``.

    BN2 normalises the C-channel output of conv2; its batch statistics follow exactly from the mean and
    covariance of conv2's C/r-channel input (``mean = W m + b``, ``var = diag(W S W^T)``), so the full-size
    tensor is never normalised separately. Running statistics are updated as :class:`BatchNorm2d` would.
    The global context ``glob`` (N, C, 1, 1), if given, is added as a per-sample bias of the same product.
    """
    conv1, bn1, _, conv2, bn2 = branch
    if bn2.training and x.numel() == x.shape[1]:
        # One value per channel (batch 1, 1x1 map): BN2 outputs beta. The folding would only cancel W h - W h,
        # which leaves float32 noise in gradients that MXNet, like the plain modules, makes exactly zero.
        out = branch(x)
        return out if glob is None else out + glob
    hidden = F.relu(bn1(_conv1x1(x, conv1.weight, conv1.bias)))
    with torch.autocast(hidden.device.type, enabled=False):  # statistics and folding in float32 under AMP
        if bn2.training:
            channels = hidden.shape[1]
            flat = (hidden.permute(0, 2, 3, 1).reshape(-1, channels)
                    if hidden.is_contiguous(memory_format=torch.channels_last) and not hidden.is_contiguous()
                    else hidden.transpose(0, 1).reshape(channels, -1).t()).to(conv2.weight.dtype)
            mean_h = flat.mean(0)
            centred = flat - mean_h
            cov_h = centred.t() @ centred / flat.shape[0]
            w2 = conv2.weight.flatten(1)
            mean = w2 @ mean_h + conv2.bias
            var = ((w2 @ cov_h) * w2).sum(1)
            with torch.no_grad():
                bn2.running_mean.lerp_(mean.detach(), bn2.momentum)
                bn2.running_var.lerp_(var.detach(), bn2.momentum)  # biased, as MXNet
                bn2.num_batches_tracked.add_(1)
        else:
            mean, var = bn2.running_mean, bn2.running_var
        scale = bn2.weight * torch.rsqrt(var + bn2.eps)
        weight = conv2.weight.flatten(1) * scale[:, None]
        bias = bn2.bias + scale * (conv2.bias - mean)
    if glob is not None:
        bias = bias + glob.flatten(1)
    return _conv1x1(hidden, weight, bias)


def _context_branch(channels: int, inter_channels: int, pooled: bool) -> nn.Sequential:
    """[global mean], conv1x1 C->C/r, BN, ReLU, conv1x1 C/r->C, BN (indices as in the MXNet release)."""
    layers = [GlobalMean()] if pooled else []
    layers += [nn.Conv2d(channels, inter_channels, 1), BatchNorm2d(inter_channels), nn.ReLU(inplace=True),
               nn.Conv2d(inter_channels, channels, 1), BatchNorm2d(channels)]
    return nn.Sequential(*layers)


class _Fusion(nn.Module):
    """Shared input checks (:func:`afflib.core.fusion.check_inputs`): equal shapes, the module's channel count."""

    channels: Optional[int] = None

    def _check(self, x: Tensor, y: Tensor) -> None:
        check_inputs(type(self).__name__, self.channels, [tuple(x.shape), tuple(y.shape)])


class _ContextAttention(_Fusion):
    """Holds the context branches of a catalogue layout, created in its order under the release's names."""

    def __init__(self, channels: int, r: int, branches: Sequence[Branch]):
        super().__init__()
        inter = attention_channels(channels, r)
        self.channels, self.r, self.fused = channels, r, True
        self._pair_names = attention_pairs(branches)
        for branch in branches:
            setattr(self, branch.name, _context_branch(channels, inter, branch.pooled))

    def _pairs(self) -> List[Tuple[nn.Sequential, nn.Sequential]]:
        """The (local, global) branch pairs, one per attention map."""
        return [(getattr(self, local), getattr(self, glob)) for local, glob in self._pair_names]


class MSCAM(_ContextAttention):
    """Multi-scale channel attention: ``x * M(x)``, or ``M(x)`` with ``return_weights`` (as the MXNet engine's)."""

    def __init__(self, channels: int, r: int = 4, return_weights: bool = False):
        super().__init__(channels, r, MS_CAM)
        self.return_weights = return_weights

    def forward(self, x: Tensor) -> Tensor:
        self._check(x, x)
        logits = (local_context(self.local_att, x, self.global_att(x)) if self.fused
                  else self.local_att(x) + self.global_att(x))
        weights = torch.sigmoid(logits)
        return weights if self.return_weights else x * weights


class _SoftBlend(_ContextAttention):
    """A catalogue form with the soft blend ``k * (M * x + (1 - M) * y)``: the first map M read from ``x + y``,
    each further one from the previous blend, ``k`` the form's scale on the last (``FORM`` names the row)."""

    FORM = ""

    def __init__(self, channels: int, r: int = 4):
        super().__init__(channels, r, FORMS[self.FORM].branches)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        self._check(x, y)
        pairs = self._pairs()
        mixed = x + y
        for index, (local_att, global_att) in enumerate(pairs):
            k = FORMS[self.FORM].scale if index == len(pairs) - 1 else 1.0
            if self.fused:
                mixed = _AttentionBlend.apply(x, y, local_context(local_att, mixed, global_att(mixed)), k)
            else:
                mixed = attention_blend(x, y, local_att(mixed), global_att(mixed), k, fused=False)
        return mixed


class AFF(_SoftBlend):
    """Attentional feature fusion (release name ``ASKCFuse``): ``2 * (M*x + (1-M)*y)``, ``M = MS-CAM(x + y)``."""

    FORM = "aff"


class IAFF(_SoftBlend):
    """Iterative AFF (release name ``ResGlobLocaforGlobLocaCha``): a second MS-CAM with its own branches on
    the first fusion's result; no factor 2."""

    FORM = "iaff"


class DirectAdd(_Fusion):
    """Plain addition ``x + y``: the baseline of identical topology (release name ``DirectAdd``)."""

    def __init__(self, channels: Optional[int] = None, r: Optional[int] = None):
        super().__init__()
        self.channels = channels

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        self._check(x, y)
        return x + y


# Each catalogue form's implementation, found by the row's class_name.
_IMPLEMENTATIONS: Dict[str, Type[nn.Module]] = {cls.__name__: cls for cls in (AFF, IAFF, DirectAdd)}


def register_fusion(cls: Type[nn.Module]) -> Type[nn.Module]:
    """Let :func:`get_fusion` build ``cls`` for the catalogue row whose class_name is its name (afflib_torch.forms)."""
    _IMPLEMENTATIONS[cls.__name__] = cls
    return cls


def get_fusion(name: str, channels: int, r: int = 4) -> nn.Module:
    """Build the fusion block called ``name`` (paper or release name) for ``channels`` channels."""
    form = fusion_form(name)
    if form.class_name not in _IMPLEMENTATIONS:  # the ablation forms register when afflib_torch.forms is imported
        raise ValueError(f"fusion form {form.name!r} is built by afflib_torch.forms: use afflib_torch.get_fusion "
                         f"or afflib_torch.forms.get_fusion")
    return _IMPLEMENTATIONS[form.class_name](channels=channels, r=r)


def build_fusion(fusion: Union[str, Callable[[int, int], nn.Module]], channels: int, r: int) -> nn.Module:
    """A block plan's fusion: a form name through :func:`get_fusion`, or a factory called as ``(channels, r)``."""
    return fusion(channels, r) if callable(fusion) else get_fusion(fusion, channels, r=r)


def set_fused_blend(model: nn.Module, enabled: bool) -> int:
    """Switch every AFF/iAFF in ``model`` between the fused blend and plain autograd ops; returns their count."""
    count = 0
    for module in model.modules():
        if isinstance(module, _ContextAttention):
            module.fused = bool(enabled)
            count += 1
    return count
