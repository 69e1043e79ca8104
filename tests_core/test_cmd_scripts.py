"""cmd_scripts.txt and scripts/*.sh name recipes and add only machine flags; each recipe with a release counterpart
equals the Namespace line of the release's log (decay epochs counted after warmup there); no script docstring
repeats a recipe's numbers. Framework-free: the command lines are read with shlex, not run."""
from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from afflib.core import logformat
from afflib.core.flagtable import FLAG_TABLE, recipe_args, release_mismatches, same_value
from afflib.core.recipes import list_recipes, load_recipe

from test_recipes import original_logs

REPO = Path(__file__).resolve().parents[1]
TRAINING = {"scripts/train_cifar.py": "train_cifar", "scripts/train_imagenet.py": "train_imagenet"}
# What a command line may add to a recipe: where the data and outputs are, which devices, how many workers.
MACHINE_FLAGS = {"--use-rec", "--rec-train", "--rec-train-idx", "--rec-val", "--rec-val-idx", "--data-dir",
                 "--rec-dir", "--num-gpus", "--gpus", "--cpus", "-j", "--num-data-workers", "--save-dir",
                 "--logging-file", "--logging-dir", "--save-plot-dir", "--kvstore", "--no-progress"}
SWITCHES = {"--use-rec", "--no-progress"}


def command_lines() -> List[Tuple[int, str]]:
    """(line number, text) of every command in cmd_scripts.txt (lines that are neither comments nor blank)."""
    lines = (REPO / "cmd_scripts.txt").read_text().splitlines()
    return [(n, line) for n, line in enumerate(lines, 1) if line.strip() and not line.lstrip().startswith("#")]


def training_lines() -> List[Tuple[int, str]]:
    return [(n, line) for n, line in command_lines() if shlex.split(line)[1] in TRAINING]


def flags_of(tokens: List[str]) -> Dict[str, Any]:
    """``{--flag: value}`` of a tokenised command (a flag followed by another flag, or last, is a switch)."""
    flags: Dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        assert token.startswith("-"), f"stray argument {token!r}"
        if "=" in token:
            key, value = token.split("=", 1)
            flags[key] = value
        elif token in SWITCHES or i + 1 == len(tokens) or tokens[i + 1].startswith("--"):
            flags[token] = True
        else:
            flags[token] = tokens[i + 1]
            i += 1
        i += 1
    return flags


def _typed(text: Any, like: Any) -> Any:
    if isinstance(like, bool) or text is True:
        return text
    return type(like)(text)


def test_every_command_runs_a_script_of_the_checkout_with_its_interpreter():
    assert len(training_lines()) >= 10
    for number, line in command_lines():
        tokens = shlex.split(line)
        assert tokens[0] == ".venv/bin/python" and (REPO / tokens[1]).is_file(), f"cmd_scripts.txt:{number}"


@pytest.mark.parametrize("number,line", training_lines(), ids=lambda v: str(v)[:40])
def test_training_line_equals_the_recipe_it_names(number, line):
    tokens = shlex.split(line)
    script = TRAINING[tokens[1]]
    flags = flags_of(tokens[2:])
    assert "--recipe" in flags, f"cmd_scripts.txt:{number} names no --recipe"
    recipe = load_recipe(flags.pop("--recipe"))
    assert recipe.script == script
    expected = recipe_args(recipe)
    dests = {row.flag(script): row.flag(script).lstrip("-").replace("-", "_") for row in FLAG_TABLE
             if row.flag(script)}
    dests.update({"--faithful-aug": "faithful_aug"})
    for flag, value in flags.items():
        if flag in MACHINE_FLAGS:
            continue
        assert flag in dests, f"cmd_scripts.txt:{number}: {flag} is neither a recipe field nor a machine flag"
        dest = dests[flag]
        assert same_value(dest, _typed(value, expected[dest]), expected[dest]), \
            f"cmd_scripts.txt:{number}: {flag} {value} differs from recipe {recipe.name}: {expected[dest]!r}"
    devices = (len(flags["--gpus"].split(",")) if "--gpus" in flags else
               int(flags.get("--num-gpus", flags.get("--cpus", recipe["devices"]))))
    assert devices == recipe["devices"], f"cmd_scripts.txt:{number}: {devices} devices, recipe {recipe['devices']}"


def test_every_recipe_has_a_command_line():
    named = {flags_of(shlex.split(line)[2:])["--recipe"] for _, line in training_lines()}
    assert named == set(list_recipes())


def test_shell_scripts_run_recipes_and_add_only_machine_flags():
    wrappers = sorted((REPO / "scripts").glob("train_*50.sh"))
    assert len(wrappers) == 4
    imagenet = {name for name in list_recipes() if load_recipe(name).script == "train_imagenet"}
    named = set()
    for path in wrappers:
        match = re.search(r'train_release_imagenet\.sh" (\S+) (\S+) "\$@"', path.read_text())
        assert match, path
        named.add(match.group(1))
    assert named == imagenet
    text = (REPO / "scripts" / "train_release_imagenet.sh").read_text()
    command = text[text.index("scripts/train_imagenet.py"):]
    used = set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", command))
    table = {row.imagenet for row in FLAG_TABLE if row.imagenet} | {"--faithful-aug"}
    assert "${BATCH_SIZE:+--batch-size" in command             # only when BATCH_SIZE asks to override the recipe
    assert "--recipe" in used and not (used & table - {"--batch-size"}), used & table
    assert used - {"--recipe", "--batch-size"} <= MACHINE_FLAGS, used - MACHINE_FLAGS


@pytest.mark.parametrize("name", [n for n in list_recipes() if load_recipe(n)["release"]])
def test_recipe_equals_the_release_namespace(name):
    recipe = load_recipe(name)
    release = recipe["release"]
    lines = (original_logs() / release["log"]).read_text(encoding="utf-8", errors="replace").splitlines()
    namespace = logformat.parse_namespace(lines[release["line"] - 1])
    assert release_mismatches(recipe, namespace) == []
    for field in ("num_epochs", "batch_size", "lr", "warmup_epochs", "mixup_off_epoch", "askc_type", "model"):
        assert field in namespace, field                      # the comparison covered the main fields


def test_docstrings_point_to_recipes_instead_of_repeating_them():
    for name in TRAINING.values():       # the tools' modules (scripts/<name>.py is a wrapper; --help shows this)
        module = REPO / "afflib" / "cli" / f"{name}.py"
        doc = ast.get_docstring(ast.parse(module.read_text()))
        assert "--recipe" in doc and "afflib/core/recipes" in doc, module
        assert not re.search(r"--(lr-decay-epoch|lr|num-epochs|warmup-epochs)\b", doc), module
    text = (REPO / "cmd_scripts.txt").read_text()
    assert "docs/readme/" not in text and "docs/training.md" in text
