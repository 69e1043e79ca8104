"""Evaluate a segmentation checkpoint with MXNet: the network and the generated scenes come from the
``run_config.json`` beside ``--params``; prints the test split's pixel accuracy, ``mIoU: 0.xxxx`` and the
all-background ``baseline mIoU: 0.xxxx``, and draws prediction overlays. A run on GluonCV's datasets is
evaluated on their validation split with its training's crop size (``--data-dir`` defaults to the run's).
``scripts/eval_segmentation.py`` (``--engine mxnet``, the default)."""
from __future__ import annotations

import argparse
import os
from typing import List, Optional, Sequence

from afflib.core.progress import want_progress
from afflib.core.segflags import parse_eval_segmentation
from afflib.core.segrun import SegmentationRun, end_evaluation, evaluation_inputs, read_segmentation_run, report_end
from afflib.train.nets import build_net
from afflib.train.runner import exit_on_error
from afflib.train.segdata import SceneSource
from afflib.train.tasks import Segmentation

from .segment_common import gluoncv_sources, segmentation_contexts, write_overlays

__all__ = ["main", "run"]


def run() -> None:
    """Console entry (``afflib-eval-segmentation``): clear errors and exit codes."""
    exit_on_error(main)


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    """Evaluate as the flags say; returns the closing lines (also printed)."""
    args = parse_eval_segmentation(argv, "mxnet")
    run = read_segmentation_run(args.params)
    dataset = run.scenes.get("dataset", "fashion-mnist-scenes")
    if args.dataset not in ("fashion-mnist-scenes", dataset):
        raise ValueError(f"--dataset {args.dataset}: the run at {run.path} was trained on {dataset}")
    contexts = segmentation_contexts(args.gpus)
    if dataset != "fashion-mnist-scenes":
        return evaluate_gluoncv(args, run, dataset, contexts)
    inputs = evaluation_inputs(args, want_progress(args.no_progress))
    net = build_net(inputs.run.spec_text, contexts, args.params)
    data = SceneSource(inputs.scenes, inputs.masks, args.batch_size, False, 0, inputs.mean, inputs.std,
                       name="fashion-mnist-scenes test")
    result = Segmentation(inputs.run.classes).evaluate(net, data, contexts, show_progress=inputs.progress)
    return end_evaluation(inputs, result, lambda out: write_overlays(
        net, data, contexts, inputs.run.classes, inputs.spec.class_names, inputs.overlays, out, inputs.run.spec_text))


def evaluate_gluoncv(args: argparse.Namespace, run: SegmentationRun, dataset: str, contexts: Sequence) -> List[str]:
    """A run on GluonCV's ``dataset``: its validation split at the run's crop size; returns the closing lines."""
    data_dir = args.data_dir or run.scenes.get("data_dir")
    _, data = gluoncv_sources(dataset, data_dir, int(run.scenes["crop_size"]), args.batch_size, 0, 0,
                              args.test_size, train=False)
    net = build_net(run.spec_text, contexts, args.params)
    result = Segmentation(run.classes).evaluate(net, data, contexts, show_progress=want_progress(args.no_progress))
    print(f"{run.spec_text}: {result.samples} {dataset} validation images in {result.seconds:.1f} s")
    out = args.out or os.path.splitext(args.params)[0] + "-overlays.png"
    draw = (lambda: write_overlays(net, data, contexts, run.classes, data.class_names, args.overlays, out,
                                   run.spec_text))
    return report_end(result.metrics["miou"], result.metrics["pixel_accuracy"], None, run.classes, print,
                      draw if args.overlays else None, baseline=data.baseline())


if __name__ == "__main__":
    run()
