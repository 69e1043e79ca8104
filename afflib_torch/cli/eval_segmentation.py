"""Evaluate a segmentation checkpoint with PyTorch: the network and the generated scenes come from the
``run_config.json`` beside ``--params``; prints the test split's pixel accuracy, ``mIoU: 0.xxxx`` and the
all-background ``baseline mIoU: 0.xxxx``, and draws prediction overlays. ``scripts/eval_segmentation.py --engine
torch``."""
from __future__ import annotations

from typing import List, Optional, Sequence

from afflib.core.progress import progress_bar, want_progress
from afflib.core.segflags import parse_eval_segmentation
from afflib.core.segrun import end_evaluation, evaluation_inputs
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
    try:
        config = RunConfig.create(args.device, args.channels_last, args.dtype, args.compile)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"--device {args.device} --dtype {args.dtype}: {err}") from None
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    inputs = evaluation_inputs(args, want_progress(args.no_progress))
    model = load_checkpoint(get_model(inputs.run.spec_text), args.params).to(config.device)
    data = SegmentationData(inputs.scenes, inputs.masks, args.batch_size, False, 0, inputs.mean, inputs.std,
                            name="fashion-mnist-scenes test")
    bar = progress_bar(len(data), "test", inputs.progress)
    try:
        result = Segmentation(inputs.run.classes).evaluate(model, data.batches(0), config, lambda n: bar.update(1))
    finally:
        bar.close()
    return end_evaluation(inputs, result, lambda out: write_overlays(
        model, data, config, inputs.run.classes, inputs.spec.class_names, inputs.overlays, out, inputs.run.spec_text))

if __name__ == "__main__":
    run()
