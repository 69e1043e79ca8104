"""scripts/summary.py and afflib.model_zoo.summary: parameter and MAC counts, table, bad names."""
import subprocess
import sys
from pathlib import Path

import mxnet as mx
import pytest

import afflib
from afflib.model_zoo.summary import format_summary, summarize

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "summary.py"


def test_macs_of_a_tiny_network_by_hand():
    net = afflib.get_model("cifar_aff_resnet20", layers=[1, 1, 1], channels=[4, 4, 8, 8], classes=3, fusion_r=2)
    net.initialize()
    s = summarize(net, (1, 3, 8, 8))
    stem = 4 * 3 * 9 * 8 * 8
    assert s.rows[1].name == "features.1" and s.rows[1].macs == stem
    assert s.rows[-1].name == "output" and s.rows[-1].macs == 8 * 3
    assert s.macs == sum(r.macs for r in s.rows)


@pytest.mark.parametrize("forward_first", [False, True], ids=["before-any-forward", "after-a-forward"])
def test_hybridized_network_gives_the_imperative_table_and_stays_hybridized(forward_first):
    def tiny():
        net = afflib.get_model("cifar_iaff_resnet20", layers=[1, 1, 1], channels=[4, 4, 8, 8], classes=3, fusion_r=2)
        net.initialize(mx.init.Xavier())
        return net

    imperative, hybrid = tiny(), tiny()
    hybrid.hybridize(static_alloc=True, static_shape=True)
    x = mx.nd.random.uniform(shape=(2, 3, 8, 8))
    if forward_first:
        imperative(x)
        hybrid(x)
    expected, got = summarize(imperative, (1, 3, 8, 8)), summarize(hybrid, (1, 3, 8, 8))
    assert len(expected.rows) > 40 and expected.macs > 40000
    assert got == expected                                  # every row, group and total
    assert format_summary(got, depth=2) == format_summary(expected, depth=2)
    assert hybrid._active and ("static_alloc", True) in hybrid._flags
    hybrid(x)
    assert hybrid._cached_op is not None                    # it still runs as a cached graph


def test_aff_resnet50_lands_near_the_paper_flops():
    aff, add = afflib.get_model("aff_resnet50"), afflib.get_model("add_resnet50")
    aff.initialize()
    add.initialize()
    s_aff, s_add = summarize(aff, (1, 3, 224, 224)), summarize(add, (1, 3, 224, 224))
    # ResNet-50-D counts 4.33 GMACs (its deep stem adds ~0.2 G to ResNet-50's 4.1); AFF adds ~0.2 G as in the paper.
    assert 4.2e9 < s_add.macs < 4.45e9
    assert 0.15e9 < s_aff.macs - s_add.macs < 0.3e9
    assert round(s_aff.trainable_params / 1e6, 2) == 30.37


def test_cli_prints_table_and_rejects_unknown_model_with_suggestions():
    out = subprocess.run([sys.executable, str(SCRIPT), "--model", "cifar_aff_resnet20", "--depth", "1"],
                         capture_output=True, text=True, check=True).stdout
    assert "trainable parameters" in out and "multiply-accumulates" in out
    bad = subprocess.run([sys.executable, str(SCRIPT), "--model", "aff_resnt50"], capture_output=True, text=True)
    assert bad.returncode == 2 and "aff_resnet50" in bad.stderr
