"""Benchmark library and script: interleaving, counting, baselines, the textbook yardstick, JSON output."""
import json

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

import afflib
from afflib import benchmark as bench
from afflib.cli import benchmark as script
from afflib.model_zoo.textbook import build_textbook_model

SMALL = dict(layers=[1, 1, 1], channels=[16, 16, 32, 64], classes=10)


def test_interleaved_runs_round_robin_after_warmup():
    calls = []
    steps = {name: (lambda name=name: calls.append(name)) for name in ("a", "b", "c")}
    timings = bench.interleaved_throughput(steps, {"a": 2, "b": 3, "c": 4}, iterations=2, rounds=3, warmup=1)
    assert calls[:3] == ["a", "b", "c"]                       # one warm-up each, in order
    assert calls[3:] == (["a"] * 2 + ["b"] * 2 + ["c"] * 2) * 3  # then rounds of 2 iterations each
    assert [sum(timings[n].images) for n in "abc"] == [12, 18, 24]
    assert all(len(timings[n].seconds) == 3 and timings[n].images_per_second > 0 for n in "abc")


def test_images_per_second_counts_warmup_apart():
    calls = []
    rate = bench.images_per_second(lambda: calls.append(1), batch_size=8, iterations=5, warmup=3)
    assert len(calls) == 8 and rate > 0
    with pytest.raises(ValueError, match="iterations >= 1"):
        bench.images_per_second(lambda: None, batch_size=8, iterations=0)


def test_baseline_names_resolve():
    assert script.resolve_baseline("add", "iaff_resnext50_32x4d", None) == "add_resnext50_32x4d"
    assert script.resolve_baseline("add", "cifar_aff_resnet20", None) == "cifar_add_resnet20"
    assert script.resolve_baseline("textbook", "aff_resnet50", None) == "textbook:aff_resnet50"
    assert script.resolve_baseline("gluoncv", "aff_resnet50", None) == "gluoncv:resnet50_v1d"
    assert script.resolve_baseline("gluoncv", "iaff_resnext50_32x4d", None) == "gluoncv:resnext50_32x4d"
    assert script.resolve_baseline("gluoncv", "cifar_aff_resnet20", [1, 1, 1]) == "gluoncv:cifar_resnet8_v2"
    assert script.resolve_baseline("gluoncv:resnet18_v1", "aff_resnet50", None) == "gluoncv:resnet18_v1"
    with pytest.raises(ValueError, match="--baseline add: 'add_resnet50' has no attentional fusion"):
        script.resolve_baseline("add", "add_resnet50", None)
    with pytest.raises(ValueError, match="unknown model source 'nope'"):
        bench.build_model(bench.BenchConfig(model="nope:x"))


def test_config_validation():
    with pytest.raises(ValueError, match="mode must be one of"):
        bench.BenchConfig(model="aff_resnet50", mode="eval")
    with pytest.raises(ValueError, match="--mode infer only"):
        bench.BenchConfig(model="aff_resnet50", optimize="fuse")
    assert bench.BenchConfig(model="aff_resnet50", mode="infer", optimize="int8").label == "aff_resnet50@int8"


@pytest.mark.parametrize("fusion", ["aff", "iaff"])
def test_textbook_network_computes_the_same_function(fusion, tmp_path):
    """The yardstick is fair: same names, and the same outputs in both BN modes, as afflib's network."""
    mx.random.seed(0)  # the outputs agree to float rounding; a fixed draw keeps the check independent of test order
    name = f"cifar_{fusion}_resnet20"
    ours, theirs = afflib.get_model(name, **SMALL), build_textbook_model(name, **SMALL)
    assert list(ours._collect_params_with_prefix()) == list(theirs._collect_params_with_prefix())
    ours.initialize(mx.init.Xavier(magnitude=2))
    for param in ours.collect_params(".*running_var").values():
        param.set_data(mx.nd.random.uniform(0.5, 2.0, shape=param.shape))
    path = str(tmp_path / "p.params")
    ours.save_parameters(path)
    theirs.load_parameters(path)
    x = mx.nd.random.normal(shape=(4, 3, 16, 16))
    for train in (False, True):
        with autograd.train_mode() if train else autograd.predict_mode():
            a, b = ours(x).asnumpy(), theirs(x).asnumpy()
        assert np.abs(a - b).max() <= 1e-5 * np.abs(b).max()


def test_script_writes_table_and_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = script.main(["--model", "cifar_aff_resnet20", "--layers", "1", "1", "1", "--channels", "8", "8", "16",
                        "32", "--classes", "10", "--batch-size", "4", "--input-size", "16", "--baseline", "add",
                        "textbook", "--iterations", "1", "--rounds", "2", "--warmup", "1", "--no-memory",
                        "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| textbook:cifar_aff_resnet20 |" in printed and "load(1/5/15 min)" in printed
    rows = json.loads(out.read_text())["results"]
    assert [r["label"] for r in rows] == ["cifar_aff_resnet20", "cifar_add_resnet20", "textbook:cifar_aff_resnet20"]
    assert rows[0]["ratio"] == 1.0 and all(r["images_per_second"] > 0 for r in rows)


def test_script_rejects_optimize_for_training():
    with pytest.raises(SystemExit):
        script.parse_args(["--model", "aff_resnet50", "--optimize", "fuse"])


def test_peak_memory_grows_with_batch():
    """Measured in fresh processes: 16x the activations must need more memory."""
    small = bench.BenchConfig(model="cifar_add_resnet20", batch_size=2, input_size=16, model_kwargs=SMALL)
    large = bench.BenchConfig(model="cifar_add_resnet20", batch_size=64, input_size=64, model_kwargs=SMALL)
    low, high = bench.peak_memory_mib(small, steps=1), bench.peak_memory_mib(large, steps=1)
    assert 0 < low < high


def test_float16_on_cpu_is_refused():
    with pytest.raises(ValueError, match="no float16 GEMM on CPU"):
        bench.make_step(bench.BenchConfig(model="cifar_add_resnet20", dtype="float16", input_size=8,
                                          batch_size=2, model_kwargs=SMALL))
