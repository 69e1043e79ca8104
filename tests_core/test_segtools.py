"""The framework-free parts of the segmentation tools: flags and recipes (afflib.core.segflags), the run's record and
closing lines (segrun), the log lines (logformat) and the overlays PNG (segoverlay)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from afflib.core import logformat
from afflib.core.segflags import (list_seg_recipes, load_seg_recipe, parse_eval_segmentation,
                                  parse_train_segmentation, segmentation_model, segmentation_spec)
from afflib.core.segmetrics import background_baseline
from afflib.core.segoverlay import class_colours, colourise, save_overlays
from afflib.core.segrun import closing_lines, read_segmentation_run, run_tag


def test_recipes_set_defaults_and_explicit_flags_win_and_are_logged():
    assert {"segmentation_paper", "segmentation_short"} <= set(list_seg_recipes())
    args, lines = parse_train_segmentation(["--engine", "torch", "--recipe", "segmentation_paper", "--lr", "0.02"],
                                           "torch")
    paper = load_seg_recipe("segmentation_paper")
    assert (paper["optimizer"], paper["lr"], paper["lr_mode"], paper["batch_size"], paper["num_epochs"]) == \
        ("adagrad", 0.01, "poly", 32, 300)
    assert (args.optimizer, args.num_epochs, args.batch_size, args.binary, args.lr) == ("adagrad", 300, 32, 0, 0.02)
    assert lines[0].startswith("recipe segmentation_paper: ") and lines[1] == "flags over the recipe: lr=0.02"
    short, _ = parse_train_segmentation(["--engine", "torch"], "torch")
    assert (short.recipe, short.train_size, short.test_size, short.binary) == ("segmentation_short", 3000, 500, None)


def test_a_recipe_file_with_an_unknown_field_is_refused_by_name(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"name": "mine", "lr": 0.1, "learning_speed": 3}))
    with pytest.raises(ValueError, match="unknown fields learning_speed"):
        parse_train_segmentation(["--recipe", str(path)], "mxnet")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_train_segmentation(["--recipe", str(tmp_path / "bad.json")], "mxnet")


@pytest.mark.parametrize("argv, engine, message", [
    (["--device", "cuda"], "mxnet", "--device is a PyTorch engine flag"),
    (["--dtype", "bfloat16"], "mxnet", "the MXNet engine trains segmentation in float32"),
    (["--gpus", "0"], "torch", "--gpus is the MXNet engine's flag"),
    (["--dataset", "ade20k"], "torch", "GluonCV's datasets are read by the MXNet engine"),
    (["--dataset", "voc", "--binary", "2"], "mxnet", "--binary applies to --dataset fashion-mnist-scenes only"),
    (["--canvas", "50"], "torch", "divisible by 4"),
    (["--fusion", "magic"], "torch", "magic"),
])
def test_bad_combinations_name_the_flag(argv, engine, message):
    with pytest.raises(ValueError, match=message):
        parse_train_segmentation(["--engine", engine, *argv], engine)


def test_eval_flags_need_params():
    with pytest.raises(SystemExit):
        parse_eval_segmentation([], "torch")
    args = parse_eval_segmentation(["--params", "x.params", "--engine", "torch", "--test-size", "10"], "torch")
    assert (args.params, args.test_size, args.overlays) == ("x.params", 10, 8)


def test_the_model_of_a_run_is_resnet20b_fpn_at_depth_6b_plus_2_with_the_form_and_its_paper_r():
    args, _ = parse_train_segmentation(["--fusion", "MS-GAU", "--blocks", "3", "--channel-times", "2"], "mxnet")
    assert segmentation_model(args, 11, 1) == ("cifar_aff_fpn20(channels=[32, 32, 64, 128], classes=11, "
                                               "in_channels=1, fusion='ms-gau', fusion_r=2)")
    args, _ = parse_train_segmentation(["--fusion", "add"], "mxnet")
    assert segmentation_model(args, 2, 1) == "cifar_add_fpn8(channels=[16, 16, 32, 64], classes=2, in_channels=1)"
    assert segmentation_spec(args, 2, 1).text() == "cifar_add_fpn8(classes=2)"
    args, _ = parse_train_segmentation(["--model-name", "aff_resnet50_fpn", "--fusion-r", "8"], "mxnet")
    assert segmentation_spec(args, 11, 1).text() == "aff_resnet50_fpn(in_channels=1, classes=11)"
    assert run_tag(args) == "fashion-mnist-scenes"
    args, _ = parse_train_segmentation(["--binary", "3"], "mxnet")
    assert run_tag(args) == "fashion-mnist-scenes-binary3"


def test_segmentation_log_lines_round_trip_through_the_parser():
    line = logformat.segmentation_validation_line(4, 0.5123456, 0.9)
    assert line == "[Epoch 4] validation: mIoU=0.512346 pixAcc=0.900000"
    assert logformat.parse_line("INFO:root:" + line) == ("segmentation", {"epoch": 4, "miou": 0.512346,
                                                                          "pixel_accuracy": 0.9})
    runs = logformat.parse_log([logformat.segmentation_validation_line(e, 0.1 * e, 0.8) for e in range(3)])
    assert runs[0].best("miou", highest=True) == (2, 0.2)
    record = {"epoch": 2, "train_accuracy": 0.9, "val_miou": 0.25, "train_loss": 0.3, "lr": 0.01, "train_seconds": 5}
    assert logformat.segmentation_record_line(record).startswith("[Epoch 2] train pixAcc=0.900000 val mIoU=0.250000")
    assert logformat.final_miou_line([record]) == "final test mIoU: 0.2500"
    assert logformat.final_miou_line([dict(record, val_miou=None)]) is None


def test_closing_lines_give_miou_then_the_all_background_baseline():
    masks = np.zeros((2, 4, 4), np.uint8)
    masks[0, :2, :2] = 3
    lines = closing_lines(0.61234, 0.9, masks, 11)
    baseline = background_baseline(masks, 11)
    assert lines[-2:] == ["mIoU: 0.6123", f"baseline mIoU: {baseline['miou']:.4f}"]
    assert baseline["miou"] == pytest.approx((28 / 32) / 2) and lines[0].startswith("pixel accuracy: 0.9000")


def test_a_run_record_is_read_beside_its_checkpoint_or_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        read_segmentation_run(str(tmp_path / "x.params"))
    params = tmp_path / "x.params"
    params.write_bytes(b"")
    with pytest.raises(ValueError, match="no run_config.json beside it"):
        read_segmentation_run(str(params))
    (tmp_path / "run_config.json").write_text(json.dumps({"network": {"text": "cifar_aff_fpn8"}}))
    with pytest.raises(ValueError, match="not the run_config.json of a train_segmentation run"):
        read_segmentation_run(str(params))
    (tmp_path / "run_config.json").write_text(json.dumps({
        "network": {"text": "cifar_aff_fpn8(classes=2)"}, "dataset": {"classes": 2, "in_channels": 1},
        "scenes": {"canvas": 64, "binary": 3}}))
    run = read_segmentation_run(str(params))
    assert (run.spec_text, run.classes, run.scenes["binary"]) == ("cifar_aff_fpn8(classes=2)", 2, 3)


def test_overlays_png_has_a_row_per_scene_and_distinct_class_colours(tmp_path):
    pytest.importorskip("matplotlib")
    colours = class_colours(11)
    assert tuple(colours[0]) == (0, 0, 0) and len({tuple(c) for c in colours}) == 11
    masks = np.arange(16, dtype=np.uint8).reshape(1, 4, 4) % 11
    assert (colourise(masks[0], 11)[0, 1] == colours[1]).all()
    images = np.random.default_rng(0).integers(0, 255, (5, 16, 16), dtype=np.uint8)
    path = save_overlays(str(tmp_path / "o.png"), images, np.zeros((5, 16, 16), int), np.ones((5, 16, 16), int), 11,
                         ["background"] + [f"c{k}" for k in range(10)], "title")
    from matplotlib.image import imread
    picture = imread(path)
    assert picture.shape[0] > picture.shape[1] and not list(tmp_path.glob(".*tmp*"))
