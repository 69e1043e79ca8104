"""Recipes as data (afflib.core.recipes), the flag table and --recipe/--model-name parsing (afflib.core.flagtable),
and the release's log lines (afflib.core.logformat). Framework-free: runs in both environments."""
from __future__ import annotations

import argparse
import ast
import json
import math
import os
from pathlib import Path

import pytest

from afflib.core import logformat
from afflib.core.flagtable import (FLAG_TABLE, explicit_dests, model_name_conflicts, parse_with_recipe, recipe_args,
                                   release_args)
from afflib.core.modelspec import cifar_spec
from afflib.core.recipes import RECIPE_DIR, RecipeError, list_recipes, load_recipe, validate_recipe
from afflib.core.specs import canonical_fusion

REPO = Path(__file__).resolve().parents[1]
RELEASE_RUNS = {"imagenet_aff_resnet50", "imagenet_iaff_resnet50", "imagenet_aff_resnext50_32x4d",
                "imagenet_iaff_resnext50_32x4d", "cifar100_aff_resnet32", "cifar100_aff_resnext47_32x4d",
                "cifar100_coarse_aff_resnet32", "cifar100_coarse_aff_resnext38_32x4d",
                "cifar100_coarse_aff_resnext47_32x4d"}


ABLATION = {"ablation_paper", "ablation_short"}      # scripts/ablate.py (tests_core/test_ablate.py)


def test_every_release_run_and_the_demo_is_a_valid_recipe():
    assert set(list_recipes()) == RELEASE_RUNS | {"demo"} | ABLATION
    for name in list_recipes():
        recipe = load_recipe(name)
        assert recipe.name == name and recipe.builtin
        assert load_recipe(str(RECIPE_DIR / f"{name}.json"))["lr"] == recipe["lr"]     # by path as well


@pytest.mark.parametrize("name", sorted(RELEASE_RUNS | {"demo"} | ABLATION))
def test_model_fields_build_the_registry_name(name):
    recipe = load_recipe(name)
    model = recipe["model"]
    if recipe.script == "train_cifar":
        spec = cifar_spec(model["family"], model["fusion"], model["blocks"], model["channel_times"],
                          model["start_layer"], 10, 3, model["deep_stem"])
        assert spec.name == model["registry"]
    else:
        suffix = "_32x4d" if model["family"] == "resnext" else ""
        assert f"{canonical_fusion(model['fusion'])}_{model['family']}{model['depth']}{suffix}" == model["registry"]


def test_release_decay_epochs_are_the_recipe_epochs_plus_warmup():
    recipe = load_recipe("cifar100_coarse_aff_resnext38_32x4d")
    assert recipe["decay_epochs"] == [280, 430] and recipe["warmup_epochs"] == 20
    assert recipe_args(recipe)["lr_decay_epoch"] == "280,430"
    assert release_args(recipe)["lr_decay_epoch"] == "300,450"
    cosine = load_recipe("imagenet_aff_resnet50")
    assert "lr_decay_epoch" not in recipe_args(cosine) and recipe_args(cosine)["lr_mode"] == "cosine"
    assert recipe_args(load_recipe("demo"))["cosine"] is True


def _write(tmp_path, **changes):
    fields = json.loads((RECIPE_DIR / "cifar100_aff_resnet32.json").read_text())
    fields.update(changes)
    for key in [k for k, v in changes.items() if v is ...]:
        del fields[key]
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(fields))
    return path


@pytest.mark.parametrize("changes,message", [
    ({"lr_mode": "cos"}, "field 'lr_mode' must be one of \"step\", \"cosine\", \"poly\", got \"cos\""),
    ({"epochs": "640"}, "field 'epochs' must be an integer >= 1, got \"640\""),
    ({"learning_rate": 0.1}, "unknown field 'learning_rate'; valid: name, about, script"),
    ({"wd": ...}, "missing field 'wd'"),
    ({"augmentation": "imagenet_autoaugment"}, "field 'augmentation' must be one of cifar_crop_flip, "
                                               "cifar_autoaugment for train_cifar"),
    ({"model": {"family": "resnet"}}, "missing field 'model.registry'"),
    ({"init": "msra"}, "field 'init': train_cifar initialises with 'xavier'"),
    ({"decay_epochs": [290, -1]}, "field 'decay_epochs' must be null or a list of integers >= 0"),
])
def test_bad_recipe_files_are_refused_naming_file_and_field(tmp_path, changes, message):
    path = _write(tmp_path, **changes)
    with pytest.raises(RecipeError) as err:
        load_recipe(str(path))
    assert str(err.value).startswith(f"recipe file {path}: ") and message in str(err.value)


def test_unknown_recipe_and_unreadable_file(tmp_path):
    with pytest.raises(RecipeError, match=r"unknown recipe 'cifar100_aff_resnet23'\. Did you mean: "
                                          r"cifar100_aff_resnet32.*Valid names: ablation_paper, ablation_short, "
                                          r"cifar100_aff_resnet32, "):
        load_recipe("cifar100_aff_resnet23")
    bad = tmp_path / "bad.json"
    bad.write_text("{'lr': 0.1}")
    with pytest.raises(RecipeError, match=r"recipe file .*bad\.json: not valid JSON"):
        load_recipe(str(bad))
    with pytest.raises(RecipeError, match="recipe file not found: .*missing.json"):
        load_recipe(str(tmp_path / "missing.json"))
    with pytest.raises(RecipeError, match="expected a JSON object"):
        validate_recipe([1, 2])


def test_flag_table_covers_every_recipe_field():
    fields = set(json.loads((RECIPE_DIR / "imagenet_aff_resnet50.json").read_text()))
    fields |= set(json.loads((RECIPE_DIR / "demo.json").read_text()))
    model = {f"model.{k}" for name in ("demo", "imagenet_aff_resnet50") for k in load_recipe(name)["model"]}
    covered = {row.field for row in FLAG_TABLE}
    assert (fields - {"name", "about", "script", "model", "release"}) | model <= covered


def _parser():
    """The flags that matter here, as the training scripts define them."""
    p = argparse.ArgumentParser(prog="train_cifar.py")
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--coarse-labels", action="store_true")
    p.add_argument("--model", default="resnet")
    p.add_argument("--askc-type", default="ASKCFuse")
    p.add_argument("--blocks", type=int, default=3)
    p.add_argument("--channel-times", type=int, default=4)
    p.add_argument("--start-layer", type=int, default=1)
    p.add_argument("--deep-stem", action="store_true")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--lr-decay-epoch", default="40,60")
    p.add_argument("--mixup", action="store_true")
    p.add_argument("--recipe", default=None)
    p.add_argument("--model-name", default="")
    return p


def test_recipe_sets_defaults_and_explicit_flags_override():
    args, use = parse_with_recipe(_parser(), ["--recipe", "cifar100_coarse_aff_resnet32", "--lr", "0.1",
                                              "--blocks", "5"], "train_cifar")
    assert args.recipe == "cifar100_coarse_aff_resnet32" and args.coarse_labels and args.mixup
    assert args.lr == 0.1 and args.lr_decay_epoch == "290,440" and args.blocks == 5
    assert use.overrides == {"lr": (0.2, 0.1)}                 # --blocks 5 equals the recipe: no override
    assert use.lines()[1] == "recipe field lr overridden by --lr: 0.2 -> 0.1"
    args, use = parse_with_recipe(_parser(), ["--lr", "0.3"], "train_cifar")
    assert args.recipe is None and use.lines() == [] and args.lr == 0.3


def test_recipe_of_the_other_script_or_unknown_exits_2(capsys):
    for argv, message in ((["--recipe", "imagenet_aff_resnet50"], "imagenet_aff_resnet50 is a recipe of "
                                                                  "train_imagenet.py, not train_cifar.py"),
                          (["--recipe", "nope"], "argument --recipe: unknown recipe 'nope'")):
        with pytest.raises(SystemExit) as stop:
            parse_with_recipe(_parser(), argv, "train_cifar")
        assert stop.value.code == 2 and message in capsys.readouterr().err


def test_explicit_means_given_not_default():
    parser = _parser()
    assert explicit_dests(parser, ["--blocks", "3", "--mixup"]) == {"blocks", "mixup"}
    assert explicit_dests(parser, []) == set()


def test_model_name_refuses_contradicting_flags_and_accepts_equal_ones(capsys):
    assert model_name_conflicts("cifar_aff_resnet32", {"blocks": 5, "channel_times": 4, "start_layer": 1,
                                                       "askc_type": "ASKCFuse", "model": "resnet"}, "train_cifar") == []
    problems = model_name_conflicts("aff_resnet50", {"r": 8, "start_layer": 3, "num_layer": 101}, "train_imagenet")
    assert problems == ["--num-layer 101 conflicts with --model-name aff_resnet50, which has num_layer 50; drop the "
                        "flag or name a model that has it",
                        "--r 8 conflicts with --model-name aff_resnet50, which has r 16; drop the flag or name a "
                        "model that has it"]
    assert model_name_conflicts("aff_resnet50(last_gamma=True)", {"last_gamma": True}, "train_imagenet") == []
    with pytest.raises(SystemExit) as stop:
        parse_with_recipe(_parser(), ["--model-name", "cifar_aff_resnet32", "--deep-stem", "--askc-type", "iAFF"],
                          "train_cifar")
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "--askc-type 'iAFF' conflicts with --model-name cifar_aff_resnet32, which has " \
                                    "askc_type 'aff'" in err and "--deep-stem conflicts" in err


def test_demo_trains_the_demo_recipe():
    """``make demo``'s defaults and the training flags it passes are the demo recipe's (the module imports no
    framework: it runs the MXNet tools in subprocesses)."""
    from afflib.cli import demo
    defaults = demo.parse_args([])
    recipe = load_recipe("demo")
    model = recipe["model"]
    assert (defaults.epochs, defaults.batch_size, defaults.cpus, defaults.lr, defaults.warmup_epochs) == (
        recipe["epochs"], recipe["batch_per_device"], recipe["devices"], recipe["lr"], recipe["warmup_epochs"])
    assert (defaults.blocks, defaults.channel_times, defaults.start_layer, canonical_fusion(defaults.fusion)) == (
        model["blocks"], model["channel_times"], model["start_layer"], canonical_fusion(model["fusion"]))
    assert demo.recipe_flags() == ["--cosine", "--label-smoothing", "--no-wd", "--mode", "hybrid", "--save-period", 0,
                                   "--log-interval", 100]
    assert not recipe["mixup"] and recipe["dataset"] == "fashion-mnist" and model["family"] == "resnet"


def test_log_lines_round_trip():
    lines = [logformat.namespace_line({"lr": 0.1, "askc_type": "ASKCFuse", "resume_from": None}),
             logformat.batch_line(0, 49, 1391.035831, [("loss", 0.026319)], 0.0003),
             logformat.training_line(0, [("loss", 2.302585), ("accuracy", 0.1)]),
             logformat.speed_line(0, 2106.7, 621.887258),
             logformat.validation_line(0, 0.959224, 0.878308),
             logformat.cifar_epoch_line(1, 0.5, 0.25, 1.5, 0.2, 29.449320)]
    assert lines[0] == "Namespace(askc_type='ASKCFuse', lr=0.1, resume_from=None)"      # sorted, as the release
    assert lines[1] == "Epoch[0] Batch [49]\tSpeed: 1391.035831 samples/sec\tloss=0.026319\tlr=0.000300"
    assert lines[3] == "[Epoch 0] speed: 2106 samples/sec\ttime cost: 621.887258"
    runs = logformat.parse_log(["INFO:root:" + lines[0], *lines[1:], "noise"])
    assert len(runs) == 1 and runs[0].namespace == {"lr": 0.1, "askc_type": "ASKCFuse", "resume_from": None}
    assert runs[0].batches == [{"batch": 49, "speed": 1391.035831, "loss": 0.026319, "lr": 0.0003, "epoch": 0}]
    assert runs[0].epochs[0] == {"loss": 2.302585, "accuracy": 0.1, "speed": 2106.0, "seconds": 621.887258,
                                 "top1_error": 0.959224, "top5_error": 0.878308}
    assert runs[0].epochs[1] == {"train": 0.5, "val": 0.25, "loss": 1.5, "lr": 0.2, "seconds": 29.44932}
    assert runs[0].best("top1_error", highest=False) == (0, 0.959224)


def original_logs() -> Path:
    """The release's logs (``AFFLIB_ORIGINAL_LOGS``, else the shared reference folder beside the checkout)."""
    folder = Path(os.environ.get("AFFLIB_ORIGINAL_LOGS", REPO.parent / "shared" / "reference" / "original_logs"))
    if not folder.is_dir():
        pytest.skip(f"the release's logs are not here ({folder}; set AFFLIB_ORIGINAL_LOGS)")
    return folder


@pytest.mark.parametrize("name", sorted(RELEASE_RUNS))
def test_release_logs_parse_and_give_the_recipes_results(name):
    release = load_recipe(name)["release"]
    path = original_logs() / release["log"]
    runs = logformat.parse_log(path.read_text(encoding="utf-8", errors="replace"))
    run = next(r for r in runs if r.line == release["line"])
    assert len(run.epochs) == load_recipe(name)["epochs"]
    if name.startswith("imagenet"):
        best = 100 * run.best("top1_error", highest=False)[1]
    else:
        best = 100 * run.best("val", highest=True)[1]
    assert f"{best:.2f}%" in release["result"], (best, release["result"])
    assert not math.isnan(best)
    assert ast.literal_eval(repr(run.namespace)) == run.namespace
