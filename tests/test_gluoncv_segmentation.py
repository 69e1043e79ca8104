"""GluonCV's segmentation datasets in the MXNet engine, on a tiny synthetic folder in Pascal VOC's layout (no real
VOC here): the batches (GluonCV's crops, ImageNet normalisation, -1 for ignored pixels, seeded per epoch), the
ignore label in the loss and the pixel meter (hand-made numbers), a one-epoch training run with its run folder and
closing lines, its evaluation, and the clear errors of a bad folder."""
import glob
import json
import os

import mxnet as mx
import numpy as np
import pytest
from PIL import Image

from afflib.train.gluonseg import IMAGENET_MEAN, IMAGENET_STD, GluonSegSource, open_gluoncv_split
from afflib.train.tasks import PixelMeter, Segmentation
from test_segmentation_mxnet import _exit_status

TRAIN_IDS = [f"2007_{i:06d}" for i in range(6)]
VAL_IDS = [f"2008_{i:06d}" for i in range(3)]


def _picture(rng, height, width):
    """An RGB image with two coloured rectangles on noise, and its VOC mask: class ids, 255 on their borders."""
    image = rng.integers(0, 60, (height, width, 3)).astype(np.uint8)
    mask = np.zeros((height, width), np.uint8)
    for _ in range(2):
        label = int(rng.integers(1, 21))
        top, left = int(rng.integers(0, height // 2)), int(rng.integers(0, width // 2))
        bottom, right = top + int(rng.integers(8, height // 2)), left + int(rng.integers(8, width // 2))
        image[top:bottom, left:right] = (40 + 10 * label, 250 - 10 * label, 120)
        mask[top:bottom, left:right] = 255              # VOC's void border around each object
        mask[top + 1:bottom - 1, left + 1:right - 1] = label
    return image, mask


def make_voc(root, seed=0):
    """A VOC2012 folder as GluonCV's VOCSegmentation reads it (its 'train' split reads trainval.txt)."""
    rng = np.random.default_rng(seed)
    base = root / "VOC2012"
    for folder in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (base / folder).mkdir(parents=True, exist_ok=True)
    for name in TRAIN_IDS + VAL_IDS:
        image, mask = _picture(rng, int(rng.integers(40, 56)), int(rng.integers(40, 64)))
        Image.fromarray(image).save(base / "JPEGImages" / f"{name}.jpg", quality=95)
        Image.fromarray(mask, mode="L").save(base / "SegmentationClass" / f"{name}.png")
    lists = base / "ImageSets" / "Segmentation"
    (lists / "train.txt").write_text("\n".join(TRAIN_IDS) + "\n")
    (lists / "val.txt").write_text("\n".join(VAL_IDS) + "\n")
    (lists / "trainval.txt").write_text("\n".join(TRAIN_IDS + VAL_IDS) + "\n")
    return root


@pytest.fixture(scope="module")
def voc(tmp_path_factory):
    return make_voc(tmp_path_factory.mktemp("voc"))


def test_batches_have_gluoncv_crops_normalisation_and_ignore_pixels(voc):
    val = GluonSegSource(open_gluoncv_split("voc", str(voc), False, 32), 2, False, name="voc val")
    assert (val.classes, val.count, len(val), val.class_names[0]) == (21, 3, 2, "background")
    batches = list(val.batches(0))
    assert [b.pad for b in batches] == [0, 1]
    assert batches[0].data.shape == (2, 3, 32, 32) and batches[0].label.shape == (2, 32, 32)
    labels = np.concatenate([b.label.asnumpy()[:2 - b.pad] for b in batches])
    assert set(np.unique(labels)) <= set(range(-1, 21)) and (labels == -1).any() and (labels > 0).any()
    # validation: GluonCV's own centre crop, then the ImageNet mean and std on the 0..1 scale
    image, mask = open_gluoncv_split("voc", str(voc), False, 32)[1]
    expected = (image.asnumpy() / 255.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(batches[0].data.asnumpy()[1], expected.transpose(2, 0, 1), atol=1e-5)
    np.testing.assert_array_equal(batches[0].label.asnumpy()[1], mask.asnumpy())
    # training: full batches of GluonCV's random crops, the same for a seed and epoch, another epoch another order
    train = GluonSegSource(open_gluoncv_split("voc", str(voc), True, 32), 4, True, seed=3, count=8)
    again = GluonSegSource(open_gluoncv_split("voc", str(voc), True, 32), 4, True, seed=3, count=8)
    assert (train.count, len(train), train.num_samples) == (8, 2, 8)
    first, repeat = list(train.batches(0)), list(again.batches(0))
    assert all(b.pad == 0 and b.data.shape == (4, 3, 32, 32) for b in first)
    for a, b in zip(first, repeat):
        np.testing.assert_array_equal(a.data.asnumpy(), b.data.asnumpy())
        np.testing.assert_array_equal(a.label.asnumpy(), b.label.asnumpy())
    other = list(train.batches(1))
    assert not np.array_equal(first[0].data.asnumpy(), other[0].data.asnumpy())
    assert iter(train) is not None and train.epoch == 1


def test_loss_meter_and_confusion_ignore_negative_labels():
    # one image, 2 classes, 3 pixels: logits favour class 0, 1, 0; labels 0, 1, ignored
    logits = np.array([[[[2.0, 0.0, 5.0]], [[0.0, 1.0, -5.0]]]], np.float32)
    labels = np.array([[[0, 1, -1]]], np.float32)
    loss = Segmentation(2).loss(False)(mx.nd.array(logits), mx.nd.array(labels)).asnumpy()
    nll_0 = np.log(1 + np.exp(-2.0))                     # pixel 0: -log softmax(2, 0)[0]
    nll_1 = np.log(1 + np.exp(-1.0))                     # pixel 1: -log softmax(0, 1)[1]
    np.testing.assert_allclose(loss, [(nll_0 + nll_1) / 2], rtol=1e-5)
    all_ignored = Segmentation(2).loss(False)(mx.nd.array(logits), mx.nd.array(-np.ones_like(labels))).asnumpy()
    np.testing.assert_array_equal(all_ignored, [0.0])
    meter = PixelMeter()
    meter.update(loss, logits, labels)                   # 2 of 2 labelled pixels right; the ignored one not counted
    assert meter.get() == pytest.approx(((nll_0 + nll_1) / 2, 1.0))
    meter.update(np.array([1.0]), logits, np.array([[[1, 1, 1]]]))   # 1 of 3 right
    assert meter.get()[1] == pytest.approx(3 / 5)


def _tool(module, argv):
    from importlib import import_module
    return import_module(f"afflib.cli.{module}").main([str(a) for a in argv])


@pytest.fixture(scope="module")
def voc_run(voc, tmp_path_factory):
    folder = tmp_path_factory.mktemp("vocrun") / "run"
    lines = _tool("train_segmentation", ["--dataset", "voc", "--data-dir", voc, "--crop-size", 32, "--batch-size", 3,
                                         "--num-epochs", 1, "--lr", 0.05, "--save-dir", folder, "--overlays", 2,
                                         "--no-progress", "--log-interval", 0])
    return {"folder": str(folder), "lines": lines}


def test_a_voc_run_writes_its_folder_and_closing_lines(voc_run):
    folder, lines = voc_run["folder"], voc_run["lines"]
    config = json.load(open(os.path.join(folder, "run_config.json")))
    assert config["dataset"]["classes"] == 21 and config["dataset"]["in_channels"] == 3
    assert config["scenes"]["dataset"] == "voc" and config["scenes"]["crop_size"] == 32
    assert "in_channels=3" in config["network"]["text"] and "classes=21" in config["network"]["text"]
    history = json.load(open(os.path.join(folder, "history.json")))
    history = history["epochs"] if isinstance(history, dict) else history
    assert len(history) == 1 and 0.0 <= history[0]["val_miou"] <= 1.0
    assert 0.0 < history[0]["train_accuracy"] <= 1.0
    assert glob.glob(os.path.join(folder, "voc-*-last.params")) and glob.glob(os.path.join(folder, "*-overlays.png"))
    assert lines[0].startswith("pixel accuracy: ") and lines[1] == f"mIoU: {history[0]['val_miou']:.4f}"
    assert lines[2].startswith("baseline mIoU: 0.")
    log = open(glob.glob(os.path.join(folder, "train_*.log"))[0]).read()
    assert "voc from" in log and "9 training and 3 validation images, 32x32 crops, 21 classes" in log
    assert lines[1] in log and lines[2] in log


def test_eval_of_the_voc_run_reproduces_its_miou(voc_run, tmp_path, capsys):
    params = glob.glob(os.path.join(voc_run["folder"], "voc-*-last.params"))[0]
    lines = _tool("eval_segmentation", ["--params", params, "--batch-size", 2, "--out", tmp_path / "o.png",
                                        "--no-progress"])
    assert lines == voc_run["lines"]
    assert (tmp_path / "o.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "3 voc validation images" in capsys.readouterr().out


def test_a_bad_folder_or_flag_exits_2_with_a_clear_line(monkeypatch, capsys, tmp_path):
    root = make_voc(tmp_path / "voc")
    run = ["--dataset", "voc", "--crop-size", 32, "--save-dir", tmp_path / "run"]
    status, err = _exit_status(monkeypatch, capsys, "train_segmentation", run + ["--data-dir", tmp_path])
    assert status == 2 and f"--data-dir {tmp_path}: not GluonCV's voc layout, missing VOC2012/JPEGImages" in err
    (root / "VOC2012" / "JPEGImages" / f"{VAL_IDS[0]}.jpg").unlink()
    status, err = _exit_status(monkeypatch, capsys, "train_segmentation", run + ["--data-dir", root])
    assert status == 2 and f"--data-dir {root}: GluonCV's VOCSegmentation cannot read its train split" in err
    status, err = _exit_status(monkeypatch, capsys, "train_segmentation", ["--crop-size", 32])
    assert status == 2 and "--crop-size applies to GluonCV's datasets" in err
    status, err = _exit_status(monkeypatch, capsys, "train_segmentation", run[:2] + ["--crop-size", 30])
    assert status == 2 and "--crop-size 30: must be divisible by 4" in err
    assert not (tmp_path / "run").exists()


def test_ade20k_layout_shifts_labels_and_ignores_its_zero(tmp_path):
    # ADE20K's masks: 0 unlabelled, 1..150 the classes; GluonCV subtracts 1, so 0 becomes the ignore label -1
    rng = np.random.default_rng(1)
    base = tmp_path / "ADEChallengeData2016"
    for split in ("training", "validation"):
        (base / "images" / split).mkdir(parents=True)
        (base / "annotations" / split).mkdir(parents=True)
        for k in (2, 0, 1):   # listed in whatever order the folder gives: the source sorts them
            image, mask = _picture(rng, 40, 48)
            mask = np.where(mask == 255, 0, mask.astype(np.int32) * 7).astype(np.uint8)   # classes up to 140
            Image.fromarray(image).save(base / "images" / split / f"ADE_{split}_{k}.jpg")
            Image.fromarray(mask, mode="L").save(base / "annotations" / split / f"ADE_{split}_{k}.png")
    val = GluonSegSource(open_gluoncv_split("ade20k", str(tmp_path), False, 32), 3, False, name="ade20k val")
    assert val.classes == 150 and val.class_names[0] == "wall"
    assert [os.path.basename(p) for p in val.dataset.images] == [f"ADE_validation_{k}.jpg" for k in range(3)]
    raw = np.array(Image.open(val.dataset.masks[0]).resize((38, 32), Image.NEAREST))   # short side 40 -> 32
    label = next(iter(val.batches(0))).label.asnumpy()[0]
    np.testing.assert_array_equal(label, raw[:, 3:35].astype(np.int32) - 1)
    assert (label == -1).any() and label.max() <= 139 and len(val) == 1
