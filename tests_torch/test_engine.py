"""Run configuration (device, autocast, channels_last), the training step and the interleaved timer."""
import pytest
import torch

import afflib_torch
from afflib_torch.benchmark import format_table, time_interleaved
from afflib_torch.engine import RunConfig, bf16_supported, prepare, train_step_fn

SMALL = dict(layers=[1, 1, 1], channels=[8, 8, 16, 32], classes=10)


def test_run_config_refuses_what_the_machine_cannot_do():
    with pytest.raises(ValueError, match="float16 autocast needs a CUDA device"):
        RunConfig.create("cpu", amp="float16")
    with pytest.raises(ValueError, match="amp must be one of"):
        RunConfig.create("cpu", amp="int8")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="sees no CUDA GPU"):
            RunConfig.create("cuda")
        assert RunConfig.create("auto").device.type == "cpu"


@pytest.mark.parametrize("options", [dict(), dict(channels_last=True), dict(amp="bfloat16")],
                         ids=["float32", "channels_last", "bf16"])
def test_training_steps_lower_the_loss(options):
    if options.get("amp") == "bfloat16" and not bf16_supported(torch.device("cpu")):
        pytest.skip("this CPU has no native bfloat16")
    run = RunConfig.create("cpu", **options)
    net = prepare(afflib_torch.get_model("cifar_aff_resnet20", **SMALL), run)
    step = train_step_fn(net, run, torch.randn(16, 3, 16, 16), torch.arange(16) % 10, lr=0.05)
    losses = [step() for _ in range(6)]
    assert losses[-1] < losses[0] - 0.1, losses  # measured drop 0.67-0.84 over seeds 0-7 (1 and 2 threads)


def test_channels_last_bf16_inference_stays_close_to_float32():
    net = afflib_torch.get_model("cifar_iaff_resnet20", **SMALL).eval()
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        reference = net(x)
        fast = prepare(net, RunConfig.create("cpu", channels_last=True))(x.contiguous(
            memory_format=torch.channels_last))
    torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-4 * float(reference.abs().max()))


def test_time_interleaved_runs_every_configuration_in_turn():
    calls = []
    steps = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    results = time_interleaved(steps, batch_size=4, warmup=1, iterations=2, rounds=2)
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] * 2
    assert [r.name for r in results] == ["a", "b"] and results[0].ratio == 1.0
    assert all(len(r.rounds) == 2 and r.images_per_s > 0 for r in results)
    assert "img/s" in format_table(results)
    with pytest.raises(ValueError, match="clock must be one of"):
        time_interleaved(steps, 4, clock="cpu")
