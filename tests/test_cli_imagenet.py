"""train_imagenet.py / eval_imagenet.py end to end on a tiny generated ImageNet-format dataset (CPU, 2 contexts)."""
import importlib
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import mxnet as mx
import pytest

from cli_helpers import REPO, batch_lrs, run_script, script_env, validation

MODEL = ["--model-name", "cifar_aff_resnet20", "--classes", "4", "--input-size", "32"]
# The release's recipe flags (afflib/core/recipes/imagenet_*.json), scaled down: warmup + cosine, NAG, label
# smoothing, mixup switched off for the last epoch, no-wd, float16 requested (falls back to float32 on CPU),
# AutoAugment flag as the original passed it with records (--faithful-aug: ignored, as in the original). No
# --last-gamma: the CIFAR network named by MODEL has no last gamma, and --model-name refuses a flag it contradicts.
RECIPE = ["--lr", "0.1", "--lr-mode", "cosine", "--warmup-epochs", "1", "--momentum", "0.9", "--wd", "0.0001",
          "--dtype", "float16", "--label-smoothing", "--mixup", "--mixup-alpha", "0.2", "--mixup-off-epoch", "1",
          "--no-wd", "--auto_aug", "--faithful-aug", "--mode", "hybrid", "--batch-size", "8",
          "--cpus", "2", "-j", "1", "--log-interval", "4", "--save-frequency", "1", "--no-progress", "--seed", "1"]


def _rec_flags(rec):
    return ["--use-rec", "--rec-train", rec / "train.rec", "--rec-train-idx", rec / "train.idx",
            "--rec-val", rec / "val.rec", "--rec-val-idx", rec / "val.idx"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from afflib.data.synthetic import make_tiny_imagenet
    root = tmp_path_factory.mktemp("tiny_imagenet")
    make_tiny_imagenet(root / "data", classes=4, per_class=48, val_per_class=12, size=40, seed=0)
    run_script("prepare_imagenet.py", "--train-dir", root / "data" / "train", "--val-dir", root / "data" / "val",
               "--out", root / "rec", "--resize", "0", "--no-progress")
    out = root / "run"
    proc = run_script("train_imagenet.py", *MODEL, *RECIPE, *_rec_flags(root / "rec"), "--num-epochs", "3",
                      "--save-dir", out, "--logging-file", out / "train.log")
    return root, out, proc


@pytest.mark.slow
def test_three_epochs_log_formats_and_learning(tiny_run):
    root, out, proc = tiny_run
    log = (out / "train.log").read_text()
    assert log.startswith("Namespace(") and "float16 needs GPUs" in proc.stdout
    assert len(batch_lrs(log, 0)) == 3 and len(batch_lrs(log, 1)) == 3      # 192 images / 16 per batch
    assert "[Epoch 1] training: loss=" in log and "[Epoch 1] speed: " in log
    history = json.loads((out / "history.json").read_text())["epochs"]
    # measured over --seed 0-4: the loss falls by 0.32-0.48 over the 3 epochs; the best validation error is
    # 0.10-0.42 (mean 0.25)
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    val = validation(log)
    assert min(float(v[0]) for v in val.values()) < 0.6                      # chance: 0.75
    bests = sorted(out.glob("*-imagenet-cifar_aff_resnet20-*-best.params"))
    assert bests and all(p.with_suffix(".states").is_file() for p in bests)


@pytest.mark.slow
def test_eval_reproduces_best_validation(tiny_run):
    root, out, _ = tiny_run
    log = (out / "train.log").read_text()
    best = min(out.glob("*-best.params"), key=lambda p: float(p.name.split("-")[0]))
    epoch = int(best.name.split("-")[-2])
    proc = run_script("eval_imagenet.py", "--model", "cifar_aff_resnet20", "--classes", "4", "--input-size", "32",
                      "--params", best, "--use-rec", "--rec-val", root / "rec" / "val.rec",
                      "--rec-val-idx", root / "rec" / "val.idx", "--batch-size", "5", "--cpus", "2", "--no-progress")
    top1, top5 = validation(log)[epoch]
    assert f"validation: err-top1={top1} err-top5={top5}" in proc.stdout
    assert "images=48" in proc.stdout and "images/sec" in proc.stdout
    # the run's checkpoint alone: model, classes and input size come from its run_config.json
    proc = run_script("eval_imagenet.py", "--params", best, "--use-rec", "--rec-val", root / "rec" / "val.rec",
                      "--rec-val-idx", root / "rec" / "val.idx", "--batch-size", "5", "--cpus", "2", "--no-progress")
    assert f"validation: err-top1={top1} err-top5={top5}" in proc.stdout
    assert "model=cifar_aff_resnet20(classes=4) " in proc.stdout


@pytest.mark.slow
def test_resume_from_epoch_one_continues_the_schedule(tiny_run):
    root, out, _ = tiny_run
    first = (out / "train.log").read_text()
    resumed_dir = root / "resumed"
    run_script("train_imagenet.py", *MODEL, *RECIPE, *_rec_flags(root / "rec"), "--num-epochs", "3",
               "--resume-params", out / "imagenet-cifar_aff_resnet20-0.params",
               "--resume-states", out / "imagenet-cifar_aff_resnet20-0.states", "--resume-epoch", "1",
               "--save-dir", resumed_dir, "--logging-file", resumed_dir / "train.log")
    second = (resumed_dir / "train.log").read_text()
    assert batch_lrs(second, 0) == []
    assert batch_lrs(second, 1) == batch_lrs(first, 1) and len(batch_lrs(first, 1)) == 3
    assert batch_lrs(second, 2) == batch_lrs(first, 2) and len(batch_lrs(first, 2)) == 3


@pytest.mark.slow
def test_sigint_writes_resumable_checkpoint(tiny_run):
    root, _, _ = tiny_run
    out = root / "interrupted"
    cmd = [sys.executable, str(REPO / "scripts" / "train_imagenet.py"), *MODEL, *RECIPE, *_rec_flags(root / "rec"),
           "--num-epochs", "30", "--log-interval", "1", "--save-dir", out, "--logging-file", out / "train.log"]
    proc = subprocess.Popen([str(c) for c in cmd], env=script_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    for line in proc.stdout:
        if line.startswith("Epoch[0] Batch [1]"):
            proc.send_signal(signal.SIGINT)
            break
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr[-2000:]
    assert "SIGINT received at epoch 0" in stderr and "Traceback" not in stderr
    record = json.loads((out / "imagenet-cifar_aff_resnet20-last.json").read_text())
    assert record["next_epoch"] == 0 and record["interrupted_at_batch"] >= 1
    assert not list(out.glob(".*.tmp"))
    # resume: the interrupted epoch runs again, from the saved weights and optimizer state
    run_script("train_imagenet.py", *MODEL, *RECIPE, *_rec_flags(root / "rec"), "--num-epochs", "1",
               "--resume-params", out / "imagenet-cifar_aff_resnet20-last.params", "--save-dir", out,
               "--logging-file", out / "resume.log", "--allow-recipe-change")      # 30 epochs -> 1
    resumed = (out / "resume.log").read_text()
    warmup_lr_after_one_update = float(RECIPE[RECIPE.index("--lr") + 1]) / 12   # 12 updates per warmup epoch
    assert f"at epoch 0 (learning rate {warmup_lr_after_one_update:.6f})" in resumed and "[Epoch 0] validation:" in resumed
    assert json.loads((out / "imagenet-cifar_aff_resnet20-last.json").read_text())["next_epoch"] == 1


def _load_script(name):
    """The command-line tool ``name`` (``afflib.cli.<name>``, what ``scripts/<name>.py`` runs)."""
    return importlib.import_module(f"afflib.cli.{name}")


def test_original_flags_map_to_registry_models(capsys):
    script = _load_script("train_imagenet")
    args = script.parse_args(["--model", "resnet", "--askc-type", "ASKCFuse", "--num-layer", "50", "--last-gamma"])
    assert script.model_from_flags(args) == ("aff_resnet50", {"classes": 1000, "start_layer": 3, "last_gamma": True})
    args = script.parse_args(["--num-layer", "18", "--r", "8"])     # basic blocks (r 4 unless given)
    assert script.model_from_flags(args) == ("aff_resnet18", {"classes": 1000, "start_layer": 3, "last_gamma": False,
                                                              "fusion_r": 8})
    args = script.parse_args(["--model", "resnext", "--askc-type", "ResGlobLocaforGlobLocaCha", "--num-layer", "101",
                              "--fix-last-gamma"])
    name, kwargs = script.model_from_flags(args)
    assert name == "iaff_resnext101_32x4d" and kwargs["original_last_gamma"] is False
    with pytest.raises(ValueError, match="no registry model 'aff_resnext34_32x4d'.*valid depths: 50, 101"):
        script.model_from_flags(script.parse_args(["--model", "resnext", "--num-layer", "34"]))
    with pytest.raises(SystemExit) as stop:          # refused while parsing the flags (exit 2, names the flag)
        script.parse_args(["--num-layer", "35"])
    assert stop.value.code == 2 and "argument --num-layer: invalid choice: 35" in capsys.readouterr().err


@pytest.mark.skipif(mx.context.num_gpus() > 0, reason="checks the message of a machine without GPUs")
def test_original_gpu_command_line_fails_clearly_on_cpu(tmp_path):
    proc = run_script("train_imagenet.py", "--num-gpus", "4", "--dtype", "float16", "--use-rec",
                      "--logging-file", tmp_path / "x.log", check=False)
    assert proc.returncode == 2
    assert "sees no GPU" in proc.stderr and "--cpus" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_eval_of_wrong_model_names_the_closest_one(tiny_run, tmp_path):
    root, out, _ = tiny_run
    best = next(out.glob("*-best.params"))
    proc = run_script("eval_imagenet.py", "--model", "cifar_add_resnet20", "--params", best, check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("error: --model cifar_add_resnet20(classes=4) conflicts")
    alone = tmp_path / best.name                                   # the weights without their run record
    alone.write_bytes(best.read_bytes())
    proc = run_script("eval_imagenet.py", "--model", "cifar_add_resnet20", "--classes", "4", "--params", alone,
                      "--use-rec", "--rec-val", root / "rec" / "val.rec", "--rec-val-idx", root / "rec" / "val.idx",
                      check=False)
    assert proc.returncode == 2 and "does not fit cifar_add_resnet20" in proc.stderr
    assert "unexpected in the file: features.2.0.attention" in proc.stderr
    assert "what differs: fusion: file aff, model add" in proc.stderr
    assert "closest registry model: cifar_aff_resnet20(classes=4) (names and shapes fit" in proc.stderr


def test_model_name_refuses_contradicting_architecture_flags(tmp_path):
    """torchvision's _ovewrite_named_param: each explicit flag that contradicts --model-name is named with both values,
    exit 2, before anything is built or written."""
    proc = run_script("train_imagenet.py", "--model-name", "aff_resnet50", "--r", "8", "--start-layer", "2",
                      "--last-gamma", "--askc-type", "iAFF", "--model", "resnext", "--num-layer", "50",
                      "--save-dir", tmp_path / "run", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and not (tmp_path / "run").exists()
    for message in ("--r 8 conflicts with --model-name aff_resnet50, which has r 16",
                    "--start-layer 2 conflicts with --model-name aff_resnet50, which has start_layer 3",
                    "--last-gamma conflicts with --model-name aff_resnet50, which has last_gamma False",
                    "--askc-type 'iAFF' conflicts with --model-name aff_resnet50, which has askc_type 'aff'",
                    "--model 'resnext' conflicts"):
        assert message in proc.stderr, proc.stderr
    assert "--num-layer" not in proc.stderr.splitlines()[-1]           # equal to the model's: accepted


def test_recipe_sets_the_run_and_logs_overrides(tmp_path, capsys):
    """The recipe's values are defaults (not explicit: they never conflict with --model-name); explicit flags equal
    to the named model pass; overrides are logged; a recipe of the other script is refused."""
    proc = run_script("train_imagenet.py", "--recipe", "imagenet_aff_resnet50", "--model-name", "cifar_aff_resnet20",
                      "--classes", "4", "--input-size", "32", "--lr", "0.1", "--start-layer", "1", "--r", "4",
                      "--askc-type", "ASKCFuse", "--rec-train", tmp_path / "none.rec", "--use-rec", "--logging-file",
                      "", "--save-dir", tmp_path / "run", check=False)
    assert proc.returncode == 2 and "record file not found" in proc.stderr, proc.stderr
    assert not (tmp_path / "run").exists()
    assert "recipe='imagenet_aff_resnet50'" in proc.stdout and "num_epochs=240" in proc.stdout
    assert "recipe field lr overridden by --lr: 0.075 -> 0.1" in proc.stdout
    assert "recipe field model (aff_resnet50) overridden by --model-name: cifar_aff_resnet20" in proc.stdout
    with pytest.raises(SystemExit) as stop:
        _load_script("train_imagenet").parse_cli(["--recipe", "cifar100_aff_resnet32"])
    assert stop.value.code == 2 and "cifar100_aff_resnet32 is a recipe of train_cifar.py, not train_imagenet.py" \
        in capsys.readouterr().err


def _cmd_script_lines():
    import shlex
    lines = (REPO / "cmd_scripts.txt").read_text().splitlines()
    return [shlex.split(line) for line in lines if re.match(r"\.venv/bin/python scripts/train_(cifar|imagenet)\.py ",
                                                            line)]


@pytest.mark.parametrize("argv", _cmd_script_lines(), ids=lambda argv: argv[argv.index("--recipe") + 1])
def test_cmd_scripts_lines_parse_to_their_recipes(argv):
    """The scripts' own parsers read each cmd_scripts.txt line as exactly its recipe (no override)."""
    from afflib.core.flagtable import recipe_args, same_value
    from afflib.core.recipes import load_recipe
    script = _load_script(Path(argv[1]).stem)
    args, use = script.parse_cli(argv[2:])
    recipe = load_recipe(argv[argv.index("--recipe") + 1])
    assert args.recipe == recipe.name and use.overrides == {}
    for dest, value in recipe_args(recipe).items():
        assert same_value(dest, getattr(args, dest), value), dest
