#!/usr/bin/env python
"""Render params/README.md from params/released.json (the table of released checkpoints).

    python scripts/render_params_table.py           # rewrite params/README.md
    python scripts/render_params_table.py --check   # exit 1 if params/README.md is out of date
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

try:
    import afflib  # noqa: F401
except ImportError:  # running from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from afflib.model_zoo.released import ReleaseTable, default_table_path, markdown_table

README = default_table_path().with_name("README.md")

HEADER = """\
# Released checkpoints

<!-- Generated from params/released.json by scripts/render_params_table.py: edit the JSON, then re-run it. -->

The checkpoints published by the original release of *Attentional Feature Fusion* (repository
YimianDai/open-aff). `released.json` in this folder is the machine-readable table that
`afflib.get_model(name, pretrained=...)` and `scripts/download_params.py` read; each file is identified by
its git blob SHA-1 (`sha1(b"blob <size>\\0" + content)`, what `git hash-object` prints) and checked
after every download and before every load.

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


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report whether params/README.md is current")
    args = parser.parse_args(argv)
    text = render(ReleaseTable.from_json(default_table_path()))
    current = README.read_text(encoding="utf-8") if README.is_file() else ""
    if args.check:
        if current != text:
            print(f"{README} is out of date: run python scripts/render_params_table.py", file=sys.stderr)
            return 1
        print(f"{README} is up to date")
        return 0
    fd, tmp = tempfile.mkstemp(dir=README.parent, prefix=".README.md.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, README)
    print(f"wrote {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
