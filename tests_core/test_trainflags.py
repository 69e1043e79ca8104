"""One command line for both engines: the shared parsers, the engine checks and the dispatcher (run in both
environments; the cross-environment runs need the other environment beside the checkout and skip without it)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from afflib.core.engines import ENGINE_TOOLS, engine_of, environment_python
from afflib.core.trainflags import (MXNET_ONLY, TORCH_ONLY, eval_cifar_parser, eval_imagenet_parser, parse_eval,
                                    parse_training, train_cifar_parser, train_imagenet_parser)
from console_entries import REPO

PARSERS = [train_cifar_parser, train_imagenet_parser, eval_cifar_parser, eval_imagenet_parser]


def _refused(capsys, call) -> str:
    with pytest.raises(SystemExit) as stop:
        call()
    assert stop.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("argv, engine", [
    (["--engine", "torch"], "torch"), (["--engine=torch", "--lr", "1"], "torch"), ([], "mxnet"),
    (["--engine", "torch", "--engine", "mxnet"], "mxnet"), (["--", "--engine", "torch"], "mxnet")])
def test_engine_is_read_before_parsing(argv, engine):
    assert engine_of(argv) == engine


@pytest.mark.parametrize("make", PARSERS)
def test_every_parser_has_the_engine_choice_and_the_pytorch_group(make):
    parser = make()
    assert parser.parse_args([]).engine == "mxnet"
    assert parser.parse_args(["--engine", "torch"]).engine == "torch"
    groups = {group.title for group in parser._action_groups}
    assert "PyTorch engine (--engine torch)" in groups
    assert "bfloat16" in parser.format_help()


def test_the_recipe_gives_both_engines_the_same_values():
    mx_args, mx_use = parse_training("train_cifar", ["--recipe", "demo"], "mxnet")
    torch_args, torch_use = parse_training("train_cifar", ["--recipe", "demo", "--engine", "torch"], "torch")
    assert mx_use.lines() == torch_use.lines()
    assert dict(vars(mx_args), engine=None) == dict(vars(torch_args), engine=None)
    assert (mx_args.lr, mx_args.cosine, mx_args.num_epochs) == (0.2, True, 6)


@pytest.mark.parametrize("dest, flag", sorted(TORCH_ONLY.items()))
def test_pytorch_flags_are_refused_by_the_mxnet_engine(capsys, dest, flag):
    value = [] if dest in ("channels_last", "compile", "sync_bn", "dali") else ["3" if dest != "device" else "cpu"]
    tool = "train_imagenet" if dest in ("sync_bn", "dali", "train_size") else "eval_imagenet"
    call = (lambda: parse_training(tool, [flag, *value], "mxnet")) if tool.startswith("train") else \
        (lambda: parse_eval(tool, [flag, *value], "mxnet"))
    err = _refused(capsys, call)
    assert f"{flag} belongs to the PyTorch engine: add --engine torch" in err


def test_bfloat16_is_refused_by_the_mxnet_engine_and_read_by_torch(capsys):
    err = _refused(capsys, lambda: parse_training("train_cifar", ["--dtype", "bfloat16"], "mxnet"))
    assert "--dtype bfloat16 needs the PyTorch engine" in err
    assert parse_training("train_cifar", ["--dtype", "bfloat16"], "torch")[0].dtype == "bfloat16"


@pytest.mark.parametrize("dest", sorted(MXNET_ONLY))
def test_mxnet_flags_are_refused_by_the_torch_engine_with_the_torch_way(capsys, dest):
    flag, instead = MXNET_ONLY[dest]
    value = "dist_sync" if dest == "kvstore" else "2"
    err = _refused(capsys, lambda: parse_training("train_cifar", [flag, value], "torch"))
    assert f"{flag} {value} is an MXNet-engine flag" in err and instead in err


def test_one_torch_process_takes_one_gpu(capsys):
    err = _refused(capsys, lambda: parse_training("train_imagenet", ["--num-gpus", "4"], "torch"))
    assert "torchrun --nproc_per_node N" in err
    assert parse_training("train_imagenet", ["--gpus", "0"], "torch")[0].gpus == "0"


def test_an_engine_module_run_directly_is_its_engine(capsys):
    assert parse_eval("eval_cifar", [], "torch").engine == "torch"
    err = _refused(capsys, lambda: parse_eval("eval_cifar", ["--engine", "mxnet"], "torch"))
    assert "--engine mxnet was given to the torch engine's module" in err


def _run(python, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), *args], cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("tool", ENGINE_TOOLS)
@pytest.mark.parametrize("engine", ["mxnet", "torch"])
def test_scripts_run_each_engine_from_either_environment(tool, engine):
    """`scripts/<tool>.py --engine E --help` from this environment: E's own help, re-run in E's environment when
    this one lacks E's framework."""
    if environment_python(engine) is None:
        pytest.skip(f"no {engine} environment beside the checkout ({REPO})")
    done = _run(sys.executable, f"scripts/{tool}.py", "--engine", engine, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ") and "--engine" in done.stdout


def test_a_missing_engine_environment_is_named(tmp_path):
    """Without the engine's framework and without its environment: exit 2 and the make target that creates it."""
    code = ("import sys; sys.modules['torch'] = None; sys.modules['mxnet'] = None\n"
            "from afflib.core import engines\n"
            "engines.environment_python = lambda engine, checkout=None: None\n"
            "engines._has = lambda module: False\n"
            "engines.dispatch('train_cifar', ['--engine', 'torch', '--lr', '0.1'])\n")
    done = _run(sys.executable, "-c", code)
    assert done.returncode == 2
    assert "--engine torch needs torch" in done.stderr and "make venv-torch" in done.stderr


def test_an_unknown_engine_is_refused():
    done = _run(sys.executable, "scripts/train_cifar.py", "--engine", "jax")
    assert done.returncode == 2 and "invalid choice: 'jax'" in done.stderr
