"""Issue 12 §5 and §7: every bad flag is one line naming it, exit 2, nothing written; every --help shows defaults;
the README's cheap commands and make targets work as written."""
from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from afflib.core import cliargs
from cli_helpers import REPO, run_script, script_env, undocumented_options

MXNET_SCRIPTS = ["train_cifar.py", "train_imagenet.py", "eval_cifar.py", "eval_imagenet.py", "benchmark.py",
                 "demo.py", "download_params.py", "export.py", "gradcam.py", "launch.py", "pack_fashion_mnist.py",
                 "predict.py", "prepare_imagenet.py", "render_params_table.py", "summary.py"]
TORCH_SCRIPTS = ["convert.py", "eval_torch.py", "benchmark_torch.py"]      # tests_torch/test_cli_args.py

# (script, arguments, flag that the last line of stderr must name); OUT is replaced by the test's output folder.
CIFAR = ["--dataset", "fashion-mnist", "--save-dir", "OUT/params", "--logging-dir", "OUT/logs",
         "--save-plot-dir", "OUT", "--rec-dir", "OUT/rec"]
IMAGENET = ["--save-dir", "OUT/params", "--logging-file", "OUT/train.log"]


def slow(*case):
    return pytest.param(*case, marks=pytest.mark.slow)


BAD_FLAGS = [  # the cases of the issue first, then the other scripts and flags (slow: MXNet's import is seconds)
    ("train_cifar.py", CIFAR + ["--batch-size", "0"], "--batch-size"),
    ("train_cifar.py", CIFAR + ["--batch-size", "-5"], "--batch-size"),
    ("train_cifar.py", CIFAR + ["--lr", "nan"], "--lr"),
    ("train_cifar.py", CIFAR + ["--lr", "-0.1"], "--lr"),
    ("train_cifar.py", CIFAR + ["--num-epochs", "0"], "--num-epochs"),
    ("train_cifar.py", CIFAR + ["--start-layer", "7"], "--start-layer"),
    ("train_cifar.py", CIFAR + ["--start-layer", "0"], "--start-layer"),
    ("train_cifar.py", CIFAR + ["--lr-decay-epoch", "abc"], "--lr-decay-epoch"),
    ("benchmark.py", ["--model", "cifar_aff_resnet20", "--ctx", "gpu", "--json", "OUT/bench.json"], "--ctx"),
    slow("train_cifar.py", CIFAR + ["--momentum", "1.5"], "--momentum"),
    slow("train_cifar.py", CIFAR + ["--dataset", "cifar1000"], "--dataset"),
    slow("train_cifar.py", CIFAR + ["--seed", "-1"], "--seed"),
    slow("train_imagenet.py", IMAGENET + ["--batch-size", "0"], "--batch-size"),
    slow("train_imagenet.py", IMAGENET + ["--lr", "inf"], "--lr"),
    slow("train_imagenet.py", IMAGENET + ["--num-epochs", "0"], "--num-epochs"),
    slow("train_imagenet.py", IMAGENET + ["--start-layer", "7"], "--start-layer"),
    slow("train_imagenet.py", IMAGENET + ["--lr-decay-epoch", "abc"], "--lr-decay-epoch"),
    slow("train_imagenet.py", IMAGENET + ["--num-layer", "35"], "--num-layer"),
    slow("eval_cifar.py", ["--dataset", "fashion-mnist", "--rec-dir", "OUT/rec", "--batch-size", "0"], "--batch-size"),
    slow("eval_imagenet.py", ["--model", "aff_resnet50", "--synthetic", "-1"], "--synthetic"),
    slow("benchmark.py", ["--model", "cifar_aff_resnet20", "--warmup", "-1", "--json", "OUT/bench.json"], "--warmup"),
    slow("export.py", ["--model", "cifar_aff_resnet20", "--batch", "0", "--out", "OUT/net"], "--batch"),
    slow("predict.py", ["--model", "cifar_aff_resnet20", "--topk", "0", "OUT"], "--topk"),
    slow("gradcam.py", ["--model", "cifar_aff_resnet20", "--stage", "0", "--out", "OUT/cams", "OUT"], "--stage"),
    slow("demo.py", ["--out", "OUT/demo", "--epochs", "0"], "--epochs"),
    slow("launch.py", ["-n", "0", "--", "true"], "--num-workers"),
    slow("summary.py", ["--model", "cifar_aff_resnet20", "--depth", "-2"], "--depth"),
    slow("prepare_imagenet.py", ["--train-dir", "OUT", "--out", "OUT/rec", "--quality", "101"], "--quality"),
    slow("download_params.py", ["--root", "OUT/cache", "--timeout", "0", "--all"], "--timeout"),
]


def _case_id(case) -> str:
    script, args, flag = case.values if hasattr(case, "values") else case
    return f"{script}{flag}={args[args.index(flag) + 1] if flag in args else '?'}"


@pytest.mark.parametrize("script,args,flag", BAD_FLAGS, ids=[_case_id(c) for c in BAD_FLAGS])
def test_bad_flag_is_one_line_naming_it_exit_2_nothing_written(script, args, flag, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    proc = run_script(script, *[a.replace("OUT", str(out)) for a in args], cwd=tmp_path, check=False)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert flag in last and "error" in last, last
    assert not any(out.iterdir()), sorted(out.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]      # nor in the working folder


@pytest.mark.slow
@pytest.mark.parametrize("script", MXNET_SCRIPTS)
def test_help_exits_0_and_every_option_is_explained_with_its_default(script):
    proc = run_script(script, "--help")
    assert proc.stdout.startswith("usage:")
    assert undocumented_options(proc.stdout) == []


def test_types_name_the_range_and_accept_the_edges():
    parser = cliargs.make_parser("x")
    parser.add_argument("--n", type=cliargs.int_range(1, 3), default=1, help="n")
    parser.add_argument("--lr", type=cliargs.positive_float, default=0.1, help="rate")
    parser.add_argument("--epochs", type=cliargs.int_list(0), default="40,60", help="epochs")
    parser.add_argument("--kw", type=cliargs.json_object, default=None, help="more (default: none)")
    parser.add_argument("--req", type=cliargs.nonneg_int, required=True, help="needed")
    args = parser.parse_args(["--req", "0", "--n", "3", "--lr", "1e-9", "--epochs", "0, 5,", "--kw", '{"a": 1}'])
    assert (args.n, args.lr, args.epochs, args.kw) == (3, 1e-9, "0, 5,", '{"a": 1}')
    for bad in (["--n", "4"], ["--n", "1.5"], ["--lr", "0"], ["--lr", "nan"], ["--lr=-inf"], ["--epochs", "4,-1"],
                ["--kw", "[1]"], ["--kw", "{a: 1}"], ["--req", "-1"]):
        with pytest.raises(SystemExit) as stop:
            parser.parse_args(["--req", "1"] + bad)
        assert stop.value.code == 2
    text = parser.format_help()
    assert "epochs (default: 40,60)" in text and "rate (default: 0.1)" in text and "needed (required)" in text
    assert "(default: none)" in text and "(default: None)" not in text
    with pytest.raises(argparse.ArgumentTypeError, match=r"expected an integer from 1 to 3, got '7'"):
        cliargs.int_range(1, 3)("7")


# ---- README and docs/ commands (§7) ----------------------------------------------------------------------------

DOC_PAGES = [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))


def _pages_text() -> str:
    return "\n".join(page.read_text(encoding="utf-8") for page in DOC_PAGES)


def readme_commands():
    """Every ``.venv/bin/python scripts/...`` command of the README and the docs/ pages (code blocks, indented or
    inline), with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", _pages_text())
    found = re.findall(r"\.venv(?:-torch)?/bin/python scripts/[^`\n]*", text)
    return list(dict.fromkeys(c.split(" #")[0].strip() for c in found))


def skip_reason(command: str):
    """Why a documented command cannot run in a test (None: it runs offline in seconds)."""
    if command.endswith("--help"):
        return None
    if re.search(r"--gpus|--num-gpus|--ctx gpu|--device cuda|launch\.py", command):
        return "needs GPUs or several processes/machines"
    if re.search(r"--pretrained|--all\b|--verify|download_params\.py \w|--dataset cifar|--teacher", command):
        return "downloads released weights or a ~160 MB data set"
    if re.search(r"\.\.\.|--params|\.params|\.pt\b|--data-dir|--train-tar|--train-dir|--use-rec|photos/|\.png|--out ~",
                 command):
        return "needs a data set or the files of an earlier run"
    if "render_params_table.py" in command and "--check" not in command:
        return "rewrites docs/pretrained.md and params/README.md (tests/test_model_store checks they are current)"
    if re.search(r"train_|demo\.py|benchmark|--table|--synthetic [1-9]|ablate\.py", command):
        return "runs for minutes (make demo, the benchmarks and training have their own tests)"
    return None


def test_readme_names_its_commands_with_the_venv_interpreter():
    for page in DOC_PAGES:
        assert not re.findall(r"(?m)^\s*python3? scripts/", page.read_text(encoding="utf-8")), page
    assert len(readme_commands()) >= 20


def test_readme_is_at_most_200_lines():
    """Issue 13 §7: the README stays short; everything else lives in docs/."""
    lines = (REPO / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= 200, f"README.md has {lines} lines; move detail to a docs/ page"


@pytest.mark.parametrize("command", readme_commands())
def test_cheap_readme_command_runs_as_written(command, tmp_path):
    reason = skip_reason(command)
    if reason:
        pytest.skip(reason)
    argv = shlex.split(command)
    if not (REPO / argv[0]).exists():
        pytest.skip(f"{argv[0]} does not exist: make venv / make venv-torch create it")
    env = script_env()
    env["MXNET_HOME"] = str(tmp_path)           # download_params --list: an empty cache, no network
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("target", sorted(set(re.findall(r"`make ([a-z-]+)", _pages_text()))))
def test_every_readme_make_target_has_a_rule(target):
    proc = subprocess.run(["make", "-n", "-B", target], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Nothing to be done" not in proc.stdout and proc.stdout.strip(), proc.stdout


def _anchors(page: Path) -> set:
    """GitHub's heading anchors of a Markdown page (lower case, punctuation dropped, spaces to hyphens, duplicates
    numbered), plus explicit ``<a id="...">`` anchors."""
    text = re.sub(r"(?ms)^```.*?^```", "", page.read_text(encoding="utf-8"))
    found, seen = set(re.findall(r'<a id="([^"]+)"', text)), {}
    for heading in re.findall(r"(?m)^#{1,6} +(.+?) *$", text):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def _relative_links():
    for page in DOC_PAGES:
        text = re.sub(r"(?ms)^```.*?^```", "", page.read_text(encoding="utf-8"))
        for target in dict.fromkeys(re.findall(r"\]\(([^)\s]+)\)", text)):
            if not re.match(r"[a-z]+:", target):
                yield pytest.param(page, target, id=f"{page.relative_to(REPO)}->{target}")


@pytest.mark.parametrize("page,target", list(_relative_links()))
def test_readme_and_docs_relative_links_resolve(page, target):
    """Every relative link of README.md and docs/*.md names an existing file (and heading, for ``#anchor``)."""
    path, _, anchor = target.partition("#")
    dest = (page.parent / path).resolve() if path else page
    assert dest.exists(), f"{page.relative_to(REPO)} links to {target}: no such file"
    if anchor and dest.suffix == ".md":
        assert anchor in _anchors(dest), f"{page.relative_to(REPO)} links to {target}: no such heading"


def test_make_test_fast_deselects_slow_tests():
    proc = subprocess.run(["make", "-n", "test-fast"], cwd=REPO, capture_output=True, text=True, timeout=60)
    runs = [line for line in proc.stdout.splitlines() if "pytest" in line]
    assert len(runs) == 2 and all('-m "not slow"' in line for line in runs), proc.stdout


def test_release_shell_script_uses_the_checkout_interpreter(tmp_path):
    script = REPO / "scripts" / "train_aff_resnet50.sh"
    env = script_env()
    env["PYTHON"] = sys.executable
    env["SAVE_DIR"] = str(tmp_path / "params")
    proc = subprocess.run(["bash", str(script), "--num-epochs", "0"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "argument --num-epochs" in proc.stderr.splitlines()[-1], proc.stderr
    assert not (tmp_path / "params").exists()
    text = (REPO / "scripts" / "train_release_imagenet.sh").read_text()
    assert "\npython " not in text and ".venv/bin/python" in text


@pytest.mark.parametrize("name,stages", [("cifar_aff_resnet20", 3), ("cifar_aff_resnext29_32x4d", 3),
                                         ("aff_resnet50", 4), ("aff_resnext50_32x4d", 4)])
def test_network_refuses_a_start_layer_past_its_stages(name, stages):
    """A fusion network without any fusion stage (which would still carry the fusion's name) is refused."""
    import afflib
    for bad in (0, stages + 1):
        with pytest.raises(ValueError, match=f"start_layer must be a stage from 1 to {stages}, got {bad}"):
            afflib.get_model(name, start_layer=bad)
