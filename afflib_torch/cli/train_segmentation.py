"""Train a segmentation network with a fusion form in the FPN's long skips, with PyTorch: the paper's ResNet-20-b +
FPN on the generated Fashion-MNIST scenes (``afflib.core.segscenes``), through the classification engine's loop,
run folder, checkpoints, resume, log and curves (the task differs: per-pixel cross-entropy, mIoU validation).
Chosen by ``scripts/train_segmentation.py --engine torch``; ends with the test split's ``mIoU: 0.xxxx`` and the
all-background ``baseline mIoU: 0.xxxx``.
"""
from __future__ import annotations

import os
from typing import List, Optional, Sequence


from afflib.core.logformat import final_miou_line, segmentation_record_line
from afflib.core.progress import want_progress
from afflib.core.rundir import output_folder
from afflib.core.runlog import open_run
from afflib.core.runrecord import RunRecord
from afflib.core.schedule import LRSchedule
from afflib.core.segflags import parse_train_segmentation, scene_settings, segmentation_spec
from afflib.core.segrun import load_split, normalisation, report_end, run_tag, scene_spec
from afflib.core.training import Recipe

from ..registry import get_model
from ..train.checkpoint import load_resume_state
from ..train.runner import begin_run, exit_on_error, init_weights, run_training, save_plot
from ..train.segdata import SegmentationData
from ..train.session import TorchSession
from ..train.tasks import Segmentation
from .segment_common import write_overlays

__all__ = ["main", "run"]


def run() -> None:
    """Console entry (``afflib-train-segmentation --engine torch``): clear errors and exit codes."""
    exit_on_error(main)


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    args, recipe_lines = parse_train_segmentation(argv, "torch")
    if args.dataset != "fashion-mnist-scenes":
        raise ValueError(f"--dataset {args.dataset}: the PyTorch engine trains on fashion-mnist-scenes")
    spec_data = scene_spec(args.canvas, args.binary)
    classes = spec_data.classes
    spec = segmentation_spec(args, classes, 1)
    name = spec.tag()
    tag = run_tag(args)
    folder = output_folder(args.save_dir, name, tag, args.resume_from)
    log_file = os.path.join(folder, f"train_{tag}-{name}.log") if folder else None
    plot_file = os.path.join(folder, f"{tag}-{name}.png") if folder else None

    args.no_wd = False
    session = TorchSession()
    log, config = begin_run(args, recipe_lines, session)
    session.device = config.device
    model = init_weights(get_model(spec.text()), "xavier")
    resume = load_resume_state(args.resume_from, model, None, log) if args.resume_from else None
    progress = want_progress(args.no_progress)
    mean, std = normalisation()
    train_scenes, train_masks = load_split(spec_data, True, args.train_size, args.data_dir, args.cache_dir, progress)
    test_scenes, test_masks = load_split(spec_data, False, args.test_size, args.data_dir, args.cache_dir, progress)
    train = SegmentationData(train_scenes, train_masks, args.batch_size, True, args.seed, mean, std,
                             name="fashion-mnist-scenes train")
    test = SegmentationData(test_scenes, test_masks, args.batch_size, False, args.seed, mean, std,
                            name="fashion-mnist-scenes test")
    recipe = Recipe(num_epochs=args.num_epochs, classes=classes, log_interval=args.log_interval, dtype=args.dtype,
                    seed=args.seed)
    schedule = LRSchedule(args.lr_mode, args.lr, args.num_epochs, len(train), args.warmup_epochs, 0.0,
                          power=args.power)
    run_dir = open_run(log, folder, args, name, args.resume_from, log_file, plot_file, True)
    record = RunRecord(spec, args.dataset, classes, 1, recipe=args.recipe)
    history = run_training(model, name, tag, train, test, config, recipe, schedule, args, log, folder,
                           args.save_period, True, session, resume, run_dir, record,
                           epoch_line=segmentation_record_line, task=Segmentation(classes),
                           optimizer_kind=args.optimizer, extra_config={"scenes": scene_settings(args)})
    save_plot(history, plot_file, f"{spec.text()} on {tag}", log)
    if final_miou_line(history):
        log.info(final_miou_line(history))
    last = history[-1]
    draw = (lambda: write_overlays(model.to(config.device), test, config, classes, spec_data.class_names,
                                   args.overlays, os.path.join(folder, f"{tag}-{name}-overlays.png"), spec.text()))
    return report_end(last["val_miou"], last["val_pixel_accuracy"], test_masks, classes, log.info,
                      draw if args.overlays and folder else None)


if __name__ == "__main__":
    run()
