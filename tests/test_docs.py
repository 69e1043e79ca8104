"""Issue 13 §7: what README.md and docs/*.md state about the code stays true of it (generated tables current,
recipe names real, decay epochs not spelt out on command lines, run records in today's format, the layout
complete, every measured number dated with its CPU and command). Framework-free: reads files only."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from afflib.core.flagtable import flag_table_markdown
from afflib.core.recipes import list_recipes

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PAGES = [REPO / "README.md"] + sorted(DOCS.glob("*.md"))


def _text(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def _commands(text: str):
    """Documented ``scripts/...`` command lines, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return re.findall(r"(?:\.venv(?:-torch)?/bin/python )?scripts/\S+\.(?:py|sh)[^`\n]*", joined)


FLAG_TABLE_START, FLAG_TABLE_END = "<!-- flag-table:start -->\n", "<!-- flag-table:end -->"


def render_flag_table(text: str) -> str:
    """``text`` (docs/training.md) with the table between the flag-table markers regenerated."""
    if FLAG_TABLE_START not in text or FLAG_TABLE_END not in text:
        raise ValueError("docs/training.md lost its flag-table markers")
    head, rest = text.split(FLAG_TABLE_START, 1)
    return head + FLAG_TABLE_START + flag_table_markdown() + "\n" + FLAG_TABLE_END + rest.split(FLAG_TABLE_END, 1)[1]


def test_flag_table_in_training_md_is_current():
    """docs/training.md holds ``flag_table_markdown()`` between its markers, like the released-files table."""
    text = _text(DOCS / "training.md")
    assert render_flag_table(text) == text, (
        "docs/training.md's flag table is stale: regenerate it with "
        "PYTHONPATH=. .venv/bin/python tests/test_docs.py --write-flag-table")


def test_every_recipe_named_in_the_docs_exists_and_every_recipe_is_listed():
    from afflib.core.segflags import list_seg_recipes
    names = set(list_recipes()) | set(list_seg_recipes())
    for page in PAGES:
        for name in re.findall(r"--recipe ([\w.-]+)", _text(page)):
            if name not in ("NAME", "RECIPE"):
                assert name in names, f"{page.name} runs --recipe {name}: no such recipe ({sorted(names)})"
    training = _text(DOCS / "training.md")
    missing = [n for n in sorted(names) if f"`{n}`" not in training]
    assert not missing, f"docs/training.md does not list the recipes {missing}"


def test_no_documented_command_spells_out_decay_epochs():
    """The release's decay epochs live in the recipes (absolute: 290,440 / 280,430); a command line that repeats
    them drifts (issue 13: 300,450 vs 290,440)."""
    for page in PAGES:
        for command in _commands(_text(page)):
            assert "--lr-decay-epoch" not in command, f"{page.name}: {command}"


def test_run_records_are_described_in_todays_format():
    """``model_spec`` is the older record format (it still loads); the docs describe ``afflib-run/2``."""
    from afflib.core.runrecord import RECORD_FORMAT
    training = _text(DOCS / "training.md")
    assert f'"record_format": "{RECORD_FORMAT}"' in training
    for page in PAGES:
        for line in _text(page).splitlines():
            if "model_spec" in line:
                assert re.search(r"older|earlier|issue-12", line), f"{page.name}: {line.strip()}"


def test_layout_names_every_package_folder():
    """docs/README.md's layout tree has a line for every package folder of the repository."""
    layout = _text(DOCS / "README.md").split("## Layout", 1)[1].split("\n## ", 1)[0]
    folders = {"afflib/core/", "afflib_torch/", "scripts/", "params/", "tests/", "tests_torch/", "tests_core/", "docs/"}
    folders |= {f"{p.parent.relative_to(REPO).as_posix()}/" for root in ("afflib", "afflib_torch")
                for p in (REPO / root).glob("*/__init__.py")}
    lines = {line.split()[0] for line in layout.splitlines() if line and not line[0].isspace()}
    missing = sorted(folders - lines)
    assert not missing, f"docs/README.md's layout lacks {missing}"


def test_console_commands_are_named_after_their_scripts():
    """Every ``afflib-X`` command the docs or setup.py name is the ``scripts/`` tool X (dashes for underscores)."""
    setup = _text(REPO / "setup.py")
    names = set(re.findall(r'"(afflib-[a-z0-9-]+) = ', setup))
    for page in PAGES:
        names |= set(re.findall(r"`(afflib-[a-z0-9-]+)`", _text(page)))
    for name in sorted(names):
        script = REPO / "scripts" / (name[len("afflib-"):].replace("-", "_") + ".py")
        assert script.exists(), f"console command {name} has no scripts/{script.name}"


def _measurement_sections():
    text = _text(DOCS / "performance.md").split("## Measurements", 1)[1]
    for block in re.split(r"(?m)^### ", text)[1:]:
        title, _, body = block.partition("\n")
        yield pytest.param(title, body, id=title)


@pytest.mark.parametrize("title,body", list(_measurement_sections()))
def test_every_measurement_has_date_cpu_and_command(title, body):
    assert re.search(r"20\d\d-\d\d-\d\d", body), f"performance.md '{title}': no date"
    assert "AMD EPYC" in body or re.search(r"NVIDIA [A-Z]\d+", body), f"performance.md '{title}': no CPU/GPU model"
    assert re.search(r"(?:\.venv(?:-torch)?/bin/python |make |PYTHONPATH=\. python |bash scripts/)", body), \
        f"performance.md '{title}': no command"


if __name__ == "__main__":
    import sys
    if sys.argv[1:] == ["--write-flag-table"]:
        page = DOCS / "training.md"
        page.write_text(render_flag_table(_text(page)), encoding="utf-8")
        print(f"wrote the flag table of {page}")
    else:
        sys.exit("usage: tests/test_docs.py --write-flag-table")
