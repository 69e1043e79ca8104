"""Train a segmentation network with a fusion form in the FPN's long skips, with MXNet: the paper's ResNet-20-b +
FPN on the generated Fashion-MNIST scenes (``afflib.core.segscenes``), through the classification engine's loop,
run folder, checkpoints, resume, log and curves (:func:`afflib.train.runner.run_training` with the segmentation
task: per-pixel cross-entropy, mIoU validation), or on GluonCV's Pascal VOC, ADE20K or COCO
(``--dataset voc|ade20k|coco --data-dir ROOT``, :mod:`afflib.train.gluonseg`). ``scripts/train_segmentation.py``
(``--engine mxnet``, the default); ends with the test split's ``mIoU: 0.xxxx`` and the all-background
``baseline mIoU: 0.xxxx``.
"""
from __future__ import annotations

import os
from typing import List, Optional, Sequence

import mxnet as mx

from afflib.core.logformat import final_miou_line, segmentation_record_line
from afflib.core.rundir import output_folder
from afflib.core.runrecord import RunRecord
from afflib.core.schedule import LRSchedule
from afflib.core.segflags import parse_train_segmentation, scene_settings, segmentation_spec
from afflib.core.segrun import load_split, normalisation, report_end, run_tag, scene_spec
from afflib.model_zoo import get_model
from afflib.train import Recipe, find_resume_point, make_kvstore, setup_logging
from afflib.train.logs import want_progress
from afflib.train.plot import plot_history
from afflib.train.runner import exit_on_error, prepare_net, run_training, seed_everything, start_outputs
from afflib.train.segdata import SceneSource
from afflib.train.session import LocalSession
from afflib.train.tasks import Segmentation

from .segment_common import gluoncv_sources, segmentation_contexts, write_overlays

__all__ = ["main", "run"]


def run() -> None:
    """Console entry (``afflib-train-segmentation``): clear errors and exit codes."""
    exit_on_error(main)


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    """Train as the flags say; returns the closing lines (also logged: pixel accuracy, ``mIoU``, ``baseline
    mIoU``)."""
    args, recipe_lines = parse_train_segmentation(argv, "mxnet")
    if args.mode not in ("hybrid", "imperative"):
        raise ValueError(f"--mode must be hybrid or imperative, got {args.mode!r}")
    session = LocalSession()
    gluoncv = None   # GluonCV's dataset: (train, val) batches, read from --data-dir
    if args.dataset == "fashion-mnist-scenes":
        spec_data = scene_spec(args.canvas, args.binary)
        classes, in_channels, class_names = spec_data.classes, 1, spec_data.class_names
    else:
        gluoncv = gluoncv_sources(args.dataset, args.data_dir, args.crop_size, args.batch_size, args.seed,
                                  args.train_size, args.test_size, session.shard)
        classes, in_channels, class_names = gluoncv[1].classes, 3, gluoncv[1].class_names
    spec = segmentation_spec(args, classes, in_channels)   # a --model-name gets the task's classes and channels
    net = get_model(spec.text())
    contexts = segmentation_contexts(args.gpus)
    name = spec.tag()
    tag = run_tag(args)
    folder = output_folder(args.save_dir, name, tag, args.resume_from)
    log_file = os.path.join(folder, f"train_{tag}-{name}.log") if folder else None
    plot_file = os.path.join(folder, f"{tag}-{name}.png") if folder else None

    args.no_wd = False   # the classification engine's flag: no weight-decay exemptions here
    log = setup_logging(defer_file=True)   # the file opens once everything is checked
    log.info(str(args))
    for line in recipe_lines:
        log.info(line)
    seed_everything(args.seed)
    resume = find_resume_point(args.resume_from) if args.resume_from else None
    prepare_net(net, contexts, "float32", mx.init.Xavier(magnitude=2), resume, args.mode == "hybrid", spec.text())
    progress = want_progress(args.no_progress)
    mean, std = normalisation()
    if gluoncv is None:
        train_scenes, train_masks = load_split(spec_data, True, args.train_size, args.data_dir, args.cache_dir,
                                               progress)
        test_scenes, test_masks = load_split(spec_data, False, args.test_size, args.data_dir, args.cache_dir,
                                             progress)
        train = SceneSource(train_scenes, train_masks, args.batch_size, True, args.seed, mean, std, session.shard,
                            name="fashion-mnist-scenes train")
        test = SceneSource(test_scenes, test_masks, args.batch_size, False, args.seed, mean, std,
                           name="fashion-mnist-scenes test")
    else:
        (train, test), test_masks = gluoncv, None
        log.info("%s from %s: %d training and %d validation images, %dx%d crops, %d classes", args.dataset,
                 args.data_dir, train.count, test.count, args.crop_size, args.crop_size, classes)
    train.epoch = resume.start_epoch if resume is not None else 0   # the resumed epoch's shuffle and flips
    recipe = Recipe(num_epochs=args.num_epochs, classes=classes, log_interval=args.log_interval, seed=args.seed)
    schedule = LRSchedule(args.lr_mode, args.lr, args.num_epochs, len(train), args.warmup_epochs, 0.0,
                          power=args.power)
    run_dir = start_outputs(log, session, folder, args, name, args.resume_from, log_file, plot_file)
    record = RunRecord(spec, args.dataset, classes, in_channels, recipe=args.recipe)
    history = run_training(net, name, tag, train, test, contexts, recipe, schedule, args, log, folder,
                           args.save_period, best_as_accuracy=True, kvstore=make_kvstore("local", contexts),
                           resume=resume, epoch_line=segmentation_record_line, run_dir=run_dir, record=record,
                           session=session, task=Segmentation(classes), optimizer_kind=args.optimizer,
                           extra_config={"scenes": scene_settings(args)})
    if plot_file and history:
        log.info("training curves: %s", plot_history(history, plot_file, f"{spec.text()} on {tag}"))
    if final_miou_line(history):
        log.info(final_miou_line(history))
    last = history[-1]
    draw = (lambda: write_overlays(net, test, contexts, classes, class_names, args.overlays,
                                   os.path.join(folder, f"{tag}-{name}-overlays.png"), spec.text()))
    return report_end(last["val_miou"], last["val_pixel_accuracy"], test_masks, classes, log.info,
                      draw if args.overlays and folder else None,
                      baseline=None if gluoncv is None else test.baseline())


if __name__ == "__main__":
    run()
