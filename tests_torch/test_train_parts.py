"""The pieces of the PyTorch training engine on real tiny computations: MXNet's nag update, --no-wd groups, the
schedule per update, MXNet's initialisers, label smoothing / mixup, and the small-image data protocol."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from afflib.core.schedule import LRSchedule
from afflib.core.training import Recipe
from afflib_torch.registry import get_model
from afflib_torch.train.losses import batch_targets, distillation_loss, mixup_lambda, smooth_labels, soft_target_loss
from afflib_torch.train.optim import make_optimizer, parameter_groups, set_learning_rate
from afflib_torch.train.runner import init_weights
from afflib_torch.train.smalldata import PADDING, SmallImageData

TINY = "cifar_aff_resnet8(channels=[16,16,32,64], start_layer=2, in_channels=1, classes=10)"


def test_nesterov_sgd_is_mxnet_nag_with_weight_decay():
    w0 = torch.tensor([1.0, -2.0, 0.5])
    grads = [torch.tensor([0.3, -0.1, 0.2]), torch.tensor([-0.2, 0.4, 0.1]), torch.tensor([0.05, 0.0, -0.3])]
    lr, momentum, wd = 0.1, 0.9, 1e-2
    param = torch.nn.Parameter(w0.clone())
    opt = torch.optim.SGD([{"params": [param], "weight_decay": wd}], lr=lr, momentum=momentum, nesterov=True)
    w, mom = w0.numpy().astype(np.float64), np.zeros(3)
    for g in grads:
        param.grad = g.clone()
        opt.step()
        grad = g.numpy() + wd * w                       # MXNet nag_mom_update
        mom = momentum * mom + grad
        w = w - lr * (grad + momentum * mom)
    np.testing.assert_allclose(param.detach().numpy(), w, rtol=1e-6)


def test_no_wd_takes_biases_and_batchnorm_out_of_decay():
    model = get_model(TINY)
    decay, plain = parameter_groups(model, 1e-4, no_wd=True)
    assert decay["weight_decay"] == 1e-4 and plain["weight_decay"] == 0.0
    plain_ids = {id(p) for p in plain["params"]}
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.modules.batchnorm._NormBase) and module.weight is not None \
                and module.weight.requires_grad:
            assert id(module.weight) in plain_ids and id(module.bias) in plain_ids, name
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            assert id(module.weight) not in plain_ids, name
            if module.bias is not None:
                assert id(module.bias) in plain_ids, name
    assert len(parameter_groups(model, 1e-4, no_wd=False)) == 1


def test_learning_rate_is_the_schedule_of_the_global_update():
    schedule = LRSchedule("cosine", 0.2, 4, 10, warmup_epochs=1)
    opt = make_optimizer(get_model(TINY), 0.2, no_wd=True)
    for update in (1, 5, 10, 11, 25, 40):
        assert set_learning_rate(opt, schedule, update) == schedule(update)
        assert {g["lr"] for g in opt.param_groups} == {schedule(update)}


@pytest.mark.parametrize("kind", ["xavier", "msra"])
def test_initialisation_has_mxnets_scale(kind):
    conv = torch.nn.Conv2d(64, 128, 3)
    init_weights(torch.nn.Sequential(conv), kind)
    fans = (64 * 9 + 128 * 9) / 2
    values = conv.weight.detach().numpy().ravel()
    if kind == "xavier":   # uniform(+-sqrt(magnitude / avg fan)), magnitude 2
        bound = math.sqrt(2 / fans)
        assert values.max() <= bound and values.min() >= -bound and values.max() > 0.95 * bound
    else:                  # MSRAPrelu: normal, std sqrt(2 / (1 + 0.25^2) / avg fan)
        assert values.std() == pytest.approx(math.sqrt(2 / 1.0625 / fans), rel=0.03)
    assert not conv.bias.detach().any()


def test_label_smoothing_and_mixup_targets():
    labels = torch.tensor([0, 3, 9, 3])
    smooth = smooth_labels(labels, 10, 0.1)
    assert torch.allclose(smooth.sum(1), torch.ones(4))
    assert smooth[1, 3].item() == pytest.approx(0.91) and smooth[1, 0].item() == pytest.approx(0.01)
    recipe = Recipe(num_epochs=3, classes=10, label_smoothing=0.1, mixup=True, mixup_alpha=1.0, mixup_off_epoch=1,
                    seed=7)
    images = torch.arange(4, dtype=torch.float32).view(4, 1, 1, 1).expand(4, 1, 2, 2)
    mixed, targets, scored = batch_targets(images, labels, recipe, epoch=0, batch=5)
    lam = mixup_lambda(1.0, 7, 0, 5)
    assert lam == mixup_lambda(1.0, 7, 0, 5) != mixup_lambda(1.0, 7, 0, 6)      # a function of the position
    assert torch.allclose(mixed[0], lam * images[0] + (1 - lam) * images[3])
    assert torch.allclose(targets, lam * smooth + (1 - lam) * smooth.flip(0))
    assert torch.equal(scored, labels if lam >= 0.5 else labels.flip(0))
    plain, targets, _ = batch_targets(images, labels, recipe, epoch=2, batch=5)        # mixup off in the last epoch
    assert torch.equal(plain, images) and torch.allclose(targets, smooth)


def test_soft_target_and_distillation_losses():
    logits = torch.randn(5, 10)
    targets = smooth_labels(torch.tensor([1, 2, 3, 4, 5]), 10)
    np.testing.assert_allclose(soft_target_loss(logits, targets).numpy(),
                               torch.nn.functional.cross_entropy(logits, torch.tensor([1, 2, 3, 4, 5]),
                                                                 reduction="none").numpy(), rtol=1e-5)
    # a teacher that agrees with the student adds nothing beyond the hard part
    assert torch.allclose(distillation_loss(logits, targets, logits, 4.0, 0.3), 0.3 * soft_target_loss(logits, targets),
                          atol=1e-6)


def _data(n=50, train=True, shard=(1, 0), batch=8):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 1, 28, 28), dtype=np.uint8)
    return SmallImageData(images, np.arange(n) % 10, "fashion-mnist", batch, train, seed=3, shard=shard)


def test_training_data_protocol_shards_resume_and_augmentation():
    data = _data()
    assert len(data) == 6 and data.samples == 48 and data.batch_size == 8
    epoch1 = list(data.batches(1))
    assert [len(y) for _, y in epoch1] == [8] * 6
    for (a, la), (b, lb) in zip(epoch1[2:], data.batches(1, start_batch=2)):   # resume: the rest, identical
        assert torch.equal(a, b) and torch.equal(la, lb)
    assert not torch.equal(epoch1[0][0], next(data.batches(2))[0])             # another epoch, another order
    halves = [_data(shard=(2, k)) for k in range(2)]
    orders = [set(h.order(1)) for h in halves]
    assert not orders[0] & orders[1] and len(halves[0]) == len(halves[1]) == 3
    # each augmented image is a crop of the zero-padded original, possibly flipped
    pad = PADDING["fashion-mnist"]
    order = data.order(1)[:8]
    pixels = data._augment(order, 1)
    for i, index in enumerate(order):
        padded = np.pad(data.images[index, 0], pad)
        crops = [padded[t:t + 28, l:l + 28] for t in range(2 * pad + 1) for l in range(2 * pad + 1)]
        assert any(np.array_equal(pixels[i, 0], c) or np.array_equal(pixels[i, 0], c[:, ::-1]) for c in crops)


def test_validation_data_is_every_image_in_order_normalised():
    data = _data(n=20, train=False)
    batches = list(data.batches(0))
    assert len(data) == 3 and [len(y) for _, y in batches] == [8, 8, 4]
    images = torch.cat([x for x, _ in batches])
    expected = (data.images.astype(np.float32) / 255 - 0.2860) / 0.3530
    np.testing.assert_allclose(images.numpy(), expected, atol=1e-5)


def test_cifar_auto_augment_is_a_function_of_the_sample_position():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(16, 3, 32, 32), dtype=np.uint8)
    data = SmallImageData(images, np.arange(16) % 10, "cifar10", 8, True, seed=2, auto_augment=True)
    plain = SmallImageData(images, np.arange(16) % 10, "cifar10", 8, True, seed=2)
    first, again = next(data.batches(0))[0], next(data.batches(0))[0]
    assert torch.equal(first, again)
    assert not torch.equal(first, next(plain.batches(0))[0])       # the policy changed some pixels
    assert torch.equal(list(data.batches(0))[1][0], next(data.batches(0, start_batch=1))[0])
    with pytest.raises(ValueError, match="--auto_aug"):
        SmallImageData(images[:, :1, :28, :28], np.zeros(16), "fashion-mnist", 8, True, auto_augment=True)
