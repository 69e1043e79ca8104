#!/usr/bin/env python
"""Render params/README.md, and the released-files table in docs/pretrained.md, from afflib/core/released.json.

    .venv/bin/python scripts/render_params_table.py           # rewrite them
    .venv/bin/python scripts/render_params_table.py --check   # exit 1 if any is out of date
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import List, Optional


from afflib.core.cliargs import make_parser  # noqa: E402
from afflib.core.released import ReleaseTable, default_table_path, markdown_table

REPO = Path(__file__).resolve().parents[1]
README = REPO / "params" / "README.md"
DOCS = REPO / "docs" / "pretrained.md"
START, END = "<!-- released-table:start -->\n", "<!-- released-table:end -->"

HEADER = """\
# Released checkpoints

<!-- Generated from afflib/core/released.json by scripts/render_params_table.py: edit the JSON, then re-run it. -->

The checkpoints published by the original release of *Attentional Feature Fusion* (repository
YimianDai/open-aff). `afflib/core/released.json` (package data) is the machine-readable table that
`afflib.get_model` / `afflib_torch.get_model(name, pretrained=...)` and `afflib-download-params` read; each file is
identified by its git blob SHA-1 (`sha1(b"blob <size>\\0" + content)`, what `git hash-object` prints) and
checked after every download and before every load.

"""

FOOTER = """
- ImageNet numbers are top-1 error on the 50,000 validation images (224 center crop); CIFAR numbers are
  top-1 accuracy on the CIFAR-100 test set, scored on the file's own label set.
- Every CIFAR file has a 100-way output layer, also the runs trained on the 20 coarse labels: loading a
  `'coarse'` file gives a 100-output network whose outputs 0-19 are the superclass scores (take the arg-max
  over those 20). These coarse runs are the CIFAR numbers of the paper and of the release README.
- `pretrained=True` loads the file marked "or `True`"; `cifar_aff_resnext38_32x4d` has only a coarse-label
  file, so `True` loads it with a warning (pass `'coarse'` to ask for it explicitly).
- Cached as `<model>[-<tag>]-<first 8 hex digits of the SHA-1>.params` in `$MXNET_HOME/models`
  (default `~/.mxnet/models`).
"""


def render(table: ReleaseTable) -> str:
    """The full text of params/README.md for ``table``."""
    return HEADER + markdown_table(table) + FOOTER


def render_docs(table: ReleaseTable, docs: str) -> str:
    """``docs`` with the text between the released-table markers replaced by the table."""
    if START not in docs or END not in docs:
        raise ValueError(f"{DOCS} lacks the markers {START.strip()} and {END}")
    head, rest = docs.split(START, 1)
    return head + START + markdown_table(table) + END + rest.split(END, 1)[1]


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)
    print(f"wrote {path}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--check", action="store_true", help="only report whether the rendered files are current")
    args = parser.parse_args(argv)
    table = ReleaseTable.from_json(default_table_path())
    targets = {README: lambda current: render(table), DOCS: lambda current: render_docs(table, current)}
    stale = 0
    for path, make in targets.items():
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        text = make(current)
        if current == text:
            print(f"{path} is up to date")
        elif args.check:
            stale += 1
            print(f"{path} is out of date: run python scripts/render_params_table.py", file=sys.stderr)
        else:
            _write(path, text)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
