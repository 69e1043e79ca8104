"""The long-skip scenario of the ablation sweep (``scripts/ablate.py --scenario fpn``): its cells are segmentation
runs of ``scripts/train_segmentation.py`` (ResNet-20-b + FPN, the form in the long skips) on the generated
Fashion-MNIST scenes, measured by test mIoU. Framework-free."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Dict, List

from .ablation import preset_r
from .segflags import load_seg_recipe, train_segmentation_parser

__all__ = ["check_fpn", "fpn_settings", "segmentation_command"]


class _SegRecipe:
    """A segmentation recipe as the sweep reads it: its name, fields, and what the cells pass as ``--recipe`` (the
    name of a shipped recipe, or the absolute path of a ``.json`` file)."""

    def __init__(self, name: str, fields: Dict[str, object], reference: str):
        self.name, self.fields, self.reference = name, fields, reference

    def __getitem__(self, key: str) -> object:
        return self.fields[key]


def check_fpn(parser: argparse.ArgumentParser, args: argparse.Namespace, default_recipe: str) -> None:
    """The long-skip scenario: cells are segmentation runs on the generated scenes (both engines)."""
    for flag, value in (("--dataset", args.dataset), ("--coarse-labels", args.coarse_labels),
                        ("--rec-dir", args.rec_dir)):
        if value:
            parser.error(f"{flag}: --scenario fpn trains on the generated fashion-mnist-scenes; drop {flag}")
    if args.engine == "mxnet":
        for flag, value in (("--device", args.device), ("--threads", args.threads)):
            if value:
                parser.error(f"{flag} belongs to the PyTorch engine (--engine torch); with --engine mxnet drop {flag}")
    if args.binary is not None and not 0 <= args.binary <= 9:
        parser.error(f"argument --binary: expected a Fashion-MNIST class 0-9, got {args.binary}")
    name = args.recipe or default_recipe
    try:
        fields = load_seg_recipe(name)
    except ValueError as err:
        parser.error(f"argument --recipe: {err} (--scenario fpn takes a segmentation recipe)")
    reference = str(Path(name).resolve()) if name.endswith(".json") else name
    recipe = _SegRecipe(str(fields.get("name", Path(name).stem)), fields, reference)
    defaults = train_segmentation_parser()
    args.dataset = "fashion-mnist-scenes"
    args.recipe_obj = recipe
    args.epochs = args.num_epochs or int(fields.get("num_epochs") or defaults.get_default("num_epochs"))
    args.channel_times = args.channel_times or int(fields.get("channel_times") or 1)
    args.train_size = args.train_size or int(fields.get("train_size") or 0)
    if args.binary is None:
        args.binary = fields.get("binary")


def segmentation_command(args: argparse.Namespace, cell: Any, run_dir: Path, tool: List[str]) -> List[str]:
    """The long-skip cell: ``scripts/train_segmentation.py`` with the form in the FPN's long skips."""
    r = preset_r(cell.fusion, args.preset)
    command = [*tool, "--engine", args.engine, "--recipe", args.recipe_obj.reference,
               "--fusion", cell.fusion, "--blocks", str(cell.b), "--channel-times", str(args.channel_times),
               "--seed", str(cell.seed), "--save-dir", str(run_dir), "--num-epochs", str(args.epochs),
               "--no-progress", "--overlays", "0"]
    if r is not None:
        command += ["--fusion-r", str(r)]
    if args.train_size:
        command += ["--train-size", str(args.train_size)]
    if args.binary is not None:
        command += ["--binary", str(args.binary)]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    return command


def fpn_settings(args: argparse.Namespace) -> Dict[str, object]:
    """What every cell of an fpn sweep shares (its ``sweep.json``)."""
    return {"engine": args.engine, "dataset": args.dataset, "binary": args.binary, "recipe": args.recipe_obj.name,
            "epochs": args.epochs, "train_size": args.train_size, "channel_times": args.channel_times,
            "preset": args.preset}
