"""Evaluate a segmentation checkpoint with MXNet: the network and the generated scenes come from the
``run_config.json`` beside ``--params``; prints the test split's pixel accuracy, ``mIoU: 0.xxxx`` and the
all-background ``baseline mIoU: 0.xxxx``, and draws prediction overlays. ``scripts/eval_segmentation.py``
(``--engine mxnet``, the default)."""
from __future__ import annotations

from typing import List, Optional, Sequence

from afflib.core.progress import want_progress
from afflib.core.segflags import parse_eval_segmentation
from afflib.core.segrun import end_evaluation, evaluation_inputs
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
    inputs = evaluation_inputs(args, want_progress(args.no_progress))
    contexts = segmentation_contexts(args.gpus)
    net = build_net(inputs.run.spec_text, contexts, args.params)
    data = SceneSource(inputs.scenes, inputs.masks, args.batch_size, False, 0, inputs.mean, inputs.std,
                       name="fashion-mnist-scenes test")
    result = Segmentation(inputs.run.classes).evaluate(net, data, contexts, show_progress=inputs.progress)
    return end_evaluation(inputs, result, lambda out: write_overlays(
        net, data, contexts, inputs.run.classes, inputs.spec.class_names, inputs.overlays, out, inputs.run.spec_text))

if __name__ == "__main__":
    run()
