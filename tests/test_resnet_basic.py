"""AFF/iAFF/add-ResNet-18/34 in the MXNet engine: build at 224 and small inputs, names in the release's style,
parameter counts, fusion placement and r, refusal of pretrained weights (none released), hybridized training."""
import numpy as np
import mxnet as mx
import pytest
from mxnet import autograd

import afflib
from afflib.core.fusion import fusion_parameters
from afflib.model_zoo import BasicBlock
from afflib.model_zoo.model_store import PretrainedNotAvailable

# Trainable parameters (BatchNorm running statistics left out), 1000 classes; the PyTorch suite checks that the
# twin has the same arrays (tests_torch/test_resnet_basic.py). ResNet-18/34-D stems add 0.01 M to 11.69 / 21.80 M.
TRAINABLE = {"add_resnet18": 11_708_744, "aff_resnet18": 12_375_624, "iaff_resnet18": 13_042_504,
             "add_resnet34": 21_816_904, "aff_resnet34": 23_019_592, "iaff_resnet34": 24_222_280}
NAMES = sorted(TRAINABLE)
FORMS = {"add": "DirectAdd", "aff": "AFF", "iaff": "IAFF"}


def parameters(net):
    return net._collect_params_with_prefix()


@pytest.mark.parametrize("name", NAMES)
def test_builds_at_224_and_small_inputs_with_the_trainable_count(name):
    net = afflib.get_model(name)
    net.initialize(mx.init.MSRAPrelu())
    assert net(mx.nd.random.normal(shape=(1, 3, 224, 224))).shape == (1, 1000)
    assert net(mx.nd.random.normal(shape=(2, 3, 32, 32))).shape == (2, 1000)  # 1x1 map in the last stage
    trainable = sum(int(np.prod(p.shape)) for k, p in parameters(net).items() if p.grad_req != "null")
    assert trainable == TRAINABLE[name]
    small = afflib.get_model(name, classes=10, in_channels=1)
    small.initialize()
    assert small(mx.nd.ones((2, 1, 64, 64))).shape == (2, 10)


@pytest.mark.parametrize("name", NAMES)
def test_names_follow_the_bottleneck_style_and_the_release_placement(name):
    form, depth = name.split("_")[0], int(name.rsplit("resnet", 1)[1])
    net = afflib.get_model(name)
    names = list(parameters(net))
    assert names[:15] == list(parameters(afflib.get_model("aff_resnet50")))[:15]  # the same ResNet-D stem
    blocks = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3]}[depth]
    widths = (64, 128, 256, 512)
    for stage, (count, width) in enumerate(zip(blocks, widths), start=1):
        layer = getattr(net, f"layer{stage}")
        assert len(layer) == count and all(isinstance(block, BasicBlock) for block in layer)
        fused = form if stage >= 3 else "add"
        assert {type(block.attention).__name__ for block in layer} == {FORMS[fused]}
        prefix = f"layer{stage}.0."
        ours = [(k[len(prefix):], parameters(net)[k].shape) for k in names if k.startswith(prefix)]
        expected = [("conv1.weight", (width, width // 2 if stage > 1 else width, 3, 3))]
        expected += [(f"bn1.{k}", (width,)) for k in ("gamma", "beta", "running_mean", "running_var")]
        expected += [("conv2.weight", (width, width, 3, 3))]
        expected += [(f"bn2.{k}", (width,)) for k in ("gamma", "beta", "running_mean", "running_var")]
        if stage > 1:  # avg-pool (index 0, no arrays), 1x1 conv, BN: stage 1 keeps its 64 channels, no projection
            expected += [("downsample.1.weight", (width, width // 2, 1, 1))]
            expected += [(f"downsample.2.{k}", (width,)) for k in ("gamma", "beta", "running_mean", "running_var")]
        expected += [("attention." + k, s) for k, s in fusion_parameters(fused, width, 4)]
        assert ours == expected, stage
    assert names[-2:] == ["fc.weight", "fc.bias"] and parameters(net)["fc.weight"].shape == (1000, 512)


@pytest.mark.parametrize("name", ["aff_resnet18", "iaff_resnet34", "add_resnet18"])
def test_pretrained_is_refused_no_released_weights(name):
    with pytest.raises(PretrainedNotAvailable, match=f"no released weights for '{name}'.*pretrained=<path"):
        afflib.get_model(name, pretrained=True)


def test_last_gamma_zero_initialises_bn2_and_r_can_be_chosen():
    net = afflib.get_model("aff_resnet18", last_gamma=True, fusion_r=16)
    net.initialize(mx.init.MSRAPrelu())
    assert all((block.bn2.gamma.data().asnumpy() == 0).all() for block in net.layer1)
    assert parameters(net)["layer4.0.attention.local_att.0.weight"].shape == (32, 512, 1, 1)
    assert parameters(afflib.get_model("aff_resnet18"))["layer4.0.attention.local_att.0.weight"].shape == (
        128, 512, 1, 1)


def test_hybridized_training_step_and_parameter_file_round_trip(tmp_path):
    """A hybridized SGD step runs and moves the weights; save_parameters loads back strictly into a fresh net."""
    net = afflib.get_model("iaff_resnet18", classes=10)
    net.initialize(mx.init.MSRAPrelu())
    net.hybridize()
    trainer = mx.gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    x, y = mx.nd.random.normal(shape=(4, 3, 64, 64)), mx.nd.array([0, 1, 2, 3])
    before = net.layer4[0].attention.global_att2[1].weight.data().copy()
    with autograd.record():
        loss = mx.gluon.loss.SoftmaxCrossEntropyLoss()(net(x), y)
    loss.backward()
    trainer.step(4)
    assert np.isfinite(loss.asnumpy()).all()
    assert not np.allclose(before.asnumpy(), net.layer4[0].attention.global_att2[1].weight.data().asnumpy())
    net.save_parameters(str(tmp_path / "net.params"))
    again = afflib.get_model("iaff_resnet18", classes=10)
    again.load_parameters(str(tmp_path / "net.params"))
    np.testing.assert_array_equal(again(x).asnumpy(), net(x).asnumpy())
