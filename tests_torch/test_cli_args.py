"""Issue 12 §5 and §7 for the PyTorch scripts: bad flags and unreadable checkpoints are one line naming the flag
or file, exit 2, no traceback, nothing written; --help explains every option with its default."""
from __future__ import annotations

import os

import pytest
import torch

import afflib_torch
from afflib_torch.convert import CheckpointMismatch, load_checkpoint
from cli_helpers import run_script, undocumented_options

SMALL = '{"layers": [1, 1, 1], "channels": [8, 8, 16, 32]}'
FMNIST = "/usr/share/datasets/fashion-mnist"


def _files(tmp_path):
    """Checkpoint files of every kind the tests feed the scripts (real torch.save output, or not)."""
    net = afflib_torch.get_model("cifar_aff_resnet20", layers=[1, 1, 1], channels=[8, 8, 16, 32], classes=10,
                                 in_channels=1)
    good = tmp_path / "good.pt"
    torch.save(net.state_dict(), good)
    data = good.read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[:len(data) // 2])
    (tmp_path / "junk.pt").write_bytes(os.urandom(5000))
    (tmp_path / "text.pt").write_text("not a checkpoint\n")
    torch.save([t for t in net.state_dict().values()], tmp_path / "list.pt")
    torch.save({"epoch": 3, "names": ["a", "b"]}, tmp_path / "dict.pt")
    return good


EVAL = ["eval_torch.py", "--dataset", "fashion-mnist", "--data-dir", FMNIST, "--model", "cifar_aff_resnet20",
        "--model-kwargs", SMALL, "--classes", "10", "--limit", "8", "--json", "OUT/result.json", "--params"]
CONVERT = ["convert.py", "--model", "cifar_aff_resnet20", "--classes", "10", "--in-channels", "1"]
CASES = [  # (arguments, what the last line must name); IN = the test's folder of checkpoints, OUT = output folder
    (EVAL + ["IN/junk.pt"], "junk.pt"),
    (EVAL + ["IN/list.pt"], "list.pt"),
    (EVAL + ["IN/truncated.pt"], "truncated.pt"),
    (EVAL[:-1] + ["--model-kwargs", '{"layerz": [1, 1, 1]}', "--params", "IN/good.pt"], "--model-kwargs"),
    (CONVERT + ["--model-kwargs", "{layers: [1, 1, 1]}", "IN/good.pt", "OUT/net.params"], "--model-kwargs"),
    (CONVERT + ["--model-kwargs", '{"layers": [1, 1, 1], "widths": [8]}', "IN/good.pt", "OUT/net.params"],
     "--model-kwargs"),
    (["benchmark_torch.py", "--configs", "eager,turbo", "--json", "OUT/b.json"], "--configs"),
]


@pytest.mark.parametrize("args,named", CASES, ids=[f"{a[0]}-{n}-{i}" for i, (a, n) in enumerate(CASES)])
def test_bad_input_is_one_line_naming_it_exit_2_nothing_written(args, named, tmp_path):
    if "eval_torch.py" in args and not os.path.isdir(FMNIST):
        pytest.skip(f"needs Fashion-MNIST in {FMNIST} (Debian package dataset-fashion-mnist)")
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    _files(tmp_path / "in")
    argv = [a.replace("IN", str(tmp_path / "in")).replace("OUT", str(tmp_path / "out")) for a in args]
    proc = run_script(argv[0], *argv[1:], cwd=tmp_path, check=False)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert named in last and "error" in last, last
    assert list((tmp_path / "out").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]


@pytest.mark.parametrize("name,expected", [("junk.pt", "not a readable PyTorch checkpoint"),
                                           ("text.pt", "not a readable PyTorch checkpoint"),
                                           ("truncated.pt", "not a readable PyTorch checkpoint"),
                                           ("list.pt", "holds a list, not a state_dict"),
                                           ("dict.pt", "holds a dict, not a state_dict"),
                                           ("missing.pt", "does not exist")])
def test_unreadable_checkpoint_is_a_mismatch_naming_the_file(name, expected, tmp_path):
    _files(tmp_path)
    net = afflib_torch.get_model("cifar_aff_resnet20", layers=[1, 1, 1], channels=[8, 8, 16, 32], classes=10,
                                 in_channels=1)
    with pytest.raises((CheckpointMismatch, FileNotFoundError), match=expected) as err:
        load_checkpoint(net, tmp_path / name)
    assert str(tmp_path / name) in str(err.value) and "\n" not in str(err.value)


def test_unknown_model_argument_is_named_by_get_model():
    with pytest.raises(ValueError, match=r"cifar_aff_resnet20 takes no argument 'widths'; valid: channels, "):
        afflib_torch.get_model("cifar_aff_resnet20", widths=[8])


def test_good_checkpoint_still_evaluates(tmp_path):
    """The same command with a real state_dict runs (so the cases above fail for the file, not the command)."""
    if not os.path.isdir(FMNIST):
        pytest.skip(f"needs Fashion-MNIST in {FMNIST}")
    good = _files(tmp_path)
    proc = run_script("eval_torch.py", *EVAL[1:-3], "--params", good, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy:" in proc.stdout and "images=8" in proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("script", ["convert.py", "eval_torch.py", "benchmark_torch.py"])
def test_help_exits_0_and_every_option_is_explained_with_its_default(script):
    proc = run_script(script, "--help")
    assert proc.stdout.startswith("usage:")
    assert undocumented_options(proc.stdout) == []


@pytest.mark.parametrize("name,stages", [("cifar_aff_resnet20", 3), ("aff_resnet50", 4)])
def test_network_refuses_a_start_layer_past_its_stages(name, stages):
    with pytest.raises(ValueError, match=f"start_layer must be a stage from 1 to {stages}, got {stages + 1}"):
        afflib_torch.get_model(name, start_layer=stages + 1)
