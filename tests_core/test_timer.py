"""The interleaved timer both engines' benchmarks use."""
import pytest

from afflib.core.timer import Timing, images_per_second, interleaved_throughput


def test_round_robin_after_one_warm_up_each():
    calls = []
    steps = {name: (lambda name=name: calls.append(name)) for name in ("a", "b")}
    progress = []
    timings = interleaved_throughput(steps, {"a": 2, "b": 5}, iterations=3, rounds=2, warmup=1,
                                     progress=progress.append)
    assert calls == ["a", "b"] + (["a"] * 3 + ["b"] * 3) * 2
    assert progress == ["warmed up a", "warmed up b", "round 1/2 done", "round 2/2 done"]
    assert timings["a"].images == [6, 6] and timings["b"].images == [15, 15]
    assert all(len(t.seconds) == len(t.cpu_seconds) == 2 for t in timings.values())


def test_rates_and_clocks():
    timing = Timing(seconds=[1.0, 3.0], images=[10, 10], cpu_seconds=[2.0, 2.0])
    assert timing.images_per_second == 5.0 and timing.images_per_cpu_second == 5.0
    assert timing.round_rates == [10.0, 10 / 3] and timing.clock_seconds("process") == [2.0, 2.0]
    with pytest.raises(ValueError, match=r"clock must be one of \['process', 'wall'\]"):
        timing.clock_seconds("cpu")


def test_refuses_empty_timing():
    calls = []
    assert images_per_second(lambda: calls.append(1), batch_size=4, iterations=2, warmup=1) > 0 and len(calls) == 3
    with pytest.raises(ValueError, match="iterations >= 1"):
        interleaved_throughput({"a": lambda: None}, {"a": 1}, iterations=0)
