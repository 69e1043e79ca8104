"""Evaluate a segmentation checkpoint with PyTorch: the network and the generated scenes come from the
``run_config.json`` beside ``--params``; prints the test split's pixel accuracy, ``mIoU: 0.xxxx`` and the
all-background ``baseline mIoU: 0.xxxx``, and draws prediction overlays. ``scripts/eval_segmentation.py --engine
torch``."""
from __future__ import annotations

import os
from typing import List, Optional, Sequence

from afflib.core.progress import progress_bar, want_progress
from afflib.core.segflags import parse_eval_segmentation
from afflib.core.segrun import load_split, normalisation, read_segmentation_run, report_end, scene_spec
from afflib.core.training import report_errors

from ..convert import CheckpointMismatch, load_checkpoint
from ..engine import RunConfig
from ..registry import get_model
from ..train.segdata import SegmentationData
from ..train.tasks import Segmentation
from .segment_common import write_overlays

__all__ = ["main", "run"]


def run() -> None:
    """Console entry (``afflib-eval-segmentation --engine torch``)."""
    report_errors(lambda: main(), (ValueError, OSError, CheckpointMismatch))


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    args = parse_eval_segmentation(argv, "torch")
    run_info = read_segmentation_run(args.params)
    scenes = run_info.scenes
    for flag, dest in (("--canvas", "canvas"), ("--binary", "binary")):
        given = getattr(args, dest)
        if given not in (None, 64) and given != scenes.get(dest):
            raise ValueError(f"{flag} {given}: the run at {run_info.path} was trained with {scenes.get(dest)}")
    spec_data = scene_spec(int(scenes["canvas"]), scenes.get("binary"))
    try:
        config = RunConfig.create(args.device, args.channels_last, args.dtype, args.compile)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"--device {args.device} --dtype {args.dtype}: {err}") from None
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    model = load_checkpoint(get_model(run_info.spec_text), args.params).to(config.device)
    mean, std = normalisation()
    progress = want_progress(args.no_progress)
    scenes_test, masks = load_split(spec_data, False, args.test_size, args.data_dir, args.cache_dir, progress)
    data = SegmentationData(scenes_test, masks, args.batch_size, False, 0, mean, std, name="fashion-mnist-scenes test")
    bar = progress_bar(len(data), "test", progress)
    try:
        result = Segmentation(run_info.classes).evaluate(model, data.batches(0), config, lambda n: bar.update(1))
    finally:
        bar.close()
    print(f"{run_info.spec_text}: {result.samples} test scenes in {result.seconds:.1f} s")
    out = args.out or os.path.splitext(args.params)[0] + "-overlays.png"
    draw = (lambda: write_overlays(model, data, config, run_info.classes, spec_data.class_names, args.overlays, out,
                                   run_info.spec_text))
    return report_end(result.metrics["miou"], result.metrics["pixel_accuracy"], masks, run_info.classes, print,
                      draw if args.overlays else None)


if __name__ == "__main__":
    run()
