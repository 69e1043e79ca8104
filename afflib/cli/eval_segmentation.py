"""Evaluate a segmentation checkpoint with MXNet: the network and the generated scenes come from the
``run_config.json`` beside ``--params``; prints the test split's pixel accuracy, ``mIoU: 0.xxxx`` and the
all-background ``baseline mIoU: 0.xxxx``, and draws prediction overlays. ``scripts/eval_segmentation.py``
(``--engine mxnet``, the default)."""
from __future__ import annotations

import os
from typing import List, Optional, Sequence

from afflib.core.progress import want_progress
from afflib.core.segflags import parse_eval_segmentation
from afflib.core.segrun import load_split, normalisation, read_segmentation_run, report_end, scene_spec
from afflib.train.nets import build_net
from afflib.train.runner import exit_on_error
from afflib.train.segdata import SceneSource
from afflib.train.tasks import Segmentation

from .segment_common import refuse_gluoncv_dataset, segmentation_contexts, write_overlays

__all__ = ["main", "run"]


def run() -> None:
    """Console entry (``afflib-eval-segmentation``): clear errors and exit codes."""
    exit_on_error(main)


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    """Evaluate as the flags say; returns the closing lines (also printed)."""
    args = parse_eval_segmentation(argv, "mxnet")
    if args.dataset != "fashion-mnist-scenes":
        refuse_gluoncv_dataset(args.dataset, args.data_dir)
    run_info = read_segmentation_run(args.params)
    scenes = run_info.scenes
    for flag, dest in (("--canvas", "canvas"), ("--binary", "binary")):
        given = getattr(args, dest)
        if given not in (None, 64) and given != scenes.get(dest):
            raise ValueError(f"{flag} {given}: the run at {run_info.path} was trained with {scenes.get(dest)}")
    spec_data = scene_spec(int(scenes["canvas"]), scenes.get("binary"))
    contexts = segmentation_contexts(args.gpus)
    net = build_net(run_info.spec_text, contexts, args.params)
    mean, std = normalisation()
    progress = want_progress(args.no_progress)
    scenes_test, masks = load_split(spec_data, False, args.test_size, args.data_dir, args.cache_dir, progress)
    data = SceneSource(scenes_test, masks, args.batch_size, False, 0, mean, std, name="fashion-mnist-scenes test")
    result = Segmentation(run_info.classes).evaluate(net, data, contexts, show_progress=progress)
    print(f"{run_info.spec_text}: {result.samples} test scenes in {result.seconds:.1f} s")
    out = args.out or os.path.splitext(args.params)[0] + "-overlays.png"
    draw = (lambda: write_overlays(net, data, contexts, run_info.classes, spec_data.class_names, args.overlays, out,
                                   run_info.spec_text))
    return report_end(result.metrics["miou"], result.metrics["pixel_accuracy"], masks, run_info.classes, print,
                      draw if args.overlays else None)


if __name__ == "__main__":
    run()
