"""MXNet segmentation through the classification engine's loop, on real small computations: the scene batches,
the segmentation task's loss and metrics, and the train/eval tools on the generated Fashion-MNIST scenes (a run
folder, checkpoints, resume, overlays, the closing lines, a learning run against the all-background baseline)."""
import json
import os
import sys

import mxnet as mx
import numpy as np
import pytest

from afflib.core.segmetrics import background_baseline
from afflib.core.segrun import load_split, scene_spec
from afflib.core.segscenes import DEFAULT_DATA_DIR
from afflib.core.training import Recipe
from afflib.train.segdata import SceneSource
from afflib.train.tasks import Classification, PixelMeter, Segmentation

RUN_NAME = "fashion-mnist-scenes-cifar_aff_fpn8"
needs_fashion = pytest.mark.skipif(not (DEFAULT_DATA_DIR / "train-images-idx3-ubyte").exists()
                                   and not (DEFAULT_DATA_DIR / "train-images-idx3-ubyte.gz").exists(),
                                   reason=f"Fashion-MNIST IDX files not in {DEFAULT_DATA_DIR}")


def _toy_split(count=10, size=8, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, size, size), dtype=np.uint8)
    masks = (images > 128).astype(np.uint8) * rng.integers(1, 3, (count, 1, 1), dtype=np.uint8)
    return images, masks


# ---------------------------------------------------------------- scene batches
def test_training_batches_shuffle_per_epoch_and_flip_image_with_mask():
    images, masks = _toy_split()
    source = SceneSource(images, masks, 4, True, seed=3, mean=(0.0,), std=(1.0,))
    assert len(source) == 2 and source.num_samples == 8              # full batches only
    first, second = list(source), list(source)                        # epochs 0 and 1
    assert source.epoch == 2
    assert not np.array_equal(source.order(0), source.order(1))
    for batch, chosen in zip(first, np.split(source.order(0), 2)):
        flips = dict(zip(chosen, source.flips(0, chosen)))
        assert batch.pad == 0 and batch.data.shape == (4, 1, 8, 8) and batch.label.shape == (4, 8, 8)
        data, label = batch.data.asnumpy()[:, 0] * 255, batch.label.asnumpy()
        for row, index in enumerate(chosen):
            expect_image = images[index][:, ::-1] if flips[index] else images[index]
            expect_mask = masks[index][:, ::-1] if flips[index] else masks[index]
            np.testing.assert_allclose(data[row], expect_image, atol=1e-3)
            np.testing.assert_array_equal(label[row], expect_mask)
    assert 0 < source.flips(0, np.arange(10)).sum() < len(images)
    np.testing.assert_array_equal(source.flips(0, np.arange(10))[[4, 2]], source.flips(0, np.array([4, 2])))
    again = SceneSource(images, masks, 4, True, seed=3, mean=(0.0,), std=(1.0,))
    again.epoch = 1                                                   # a resumed run sees epoch 1's batches
    np.testing.assert_array_equal(next(iter(again)).label.asnumpy(), second[0].label.asnumpy())


def test_validation_batches_in_order_with_filler_rows_and_normalised():
    images, masks = _toy_split(count=10)
    source = SceneSource(images, masks, 4, False, mean=(0.2,), std=(0.3,))
    batches = list(source)
    assert len(source) == 3 and [b.pad for b in batches] == [0, 0, 2]
    assert all(b.data.shape[0] == 4 for b in batches)                 # static shapes for a hybridized network
    np.testing.assert_array_equal(batches[2].label.asnumpy()[:2], masks[8:])
    np.testing.assert_allclose(batches[0].data.asnumpy()[:, 0], (images[:4] / 255.0 - 0.2) / 0.3, atol=1e-5)


def test_scene_source_refuses_bad_input():
    images, masks = _toy_split(count=3)
    with pytest.raises(ValueError, match="fewer than one batch of 4; lower --batch-size or raise --train-size"):
        SceneSource(images, masks, 4, True)
    with pytest.raises(ValueError, match="expected scenes"):
        SceneSource(images, masks[:, :4], 2, True)


# ---------------------------------------------------------------- the task
def test_segmentation_loss_is_per_image_mean_pixel_cross_entropy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    labels = rng.integers(0, 3, (2, 4, 5))
    loss = Segmentation(3).loss(False)(mx.nd.array(logits), mx.nd.array(labels)).asnumpy()
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    direct = -np.take_along_axis(log_p, labels[:, None], axis=1)[:, 0].reshape(2, -1).mean(axis=1)
    np.testing.assert_allclose(loss, direct, rtol=1e-5)
    with pytest.raises(ValueError, match="distillation"):
        Segmentation(3).loss(True)
    with pytest.raises(ValueError, match="classes must be an integer >= 2"):
        Segmentation(1)


def test_pixel_meter_counts_pixels_and_classification_is_unchanged():
    meter = PixelMeter()
    logits = np.zeros((2, 2, 2, 2), np.float32)
    logits[:, 1, 0, :] = 1.0                                          # predicts class 1 in the top row
    labels = np.array([[[1, 1], [0, 0]], [[1, 0], [0, 0]]])
    meter.update(np.array([0.5, 1.5]), logits, labels)
    assert meter.get() == (pytest.approx(1.0), pytest.approx(7 / 8))
    data, targets, scored = Classification().targets(mx.nd.zeros((2, 1, 2, 2)), mx.nd.array([0, 1]),
                                                     Recipe(num_epochs=1, classes=3), 0, np.random.RandomState(0))
    np.testing.assert_array_equal(targets.asnumpy(), [[1, 0, 0], [0, 1, 0]])


def test_segmentation_evaluate_matches_a_direct_confusion(tmp_path):
    from afflib.core.segmetrics import segmentation_result
    from afflib.model_zoo import get_model
    images, masks = _toy_split(count=6, size=16)
    source = SceneSource(images, masks, 4, False)
    net = get_model("cifar_aff_fpn8", classes=3, in_channels=1)
    net.initialize(mx.init.Xavier(magnitude=2))
    result = Segmentation(3).evaluate(net, source, [mx.cpu()])
    predicted = np.concatenate([net(b.data).argmax(axis=1).asnumpy()[:4 - b.pad] for b in source]).astype(int)
    direct = segmentation_result(predicted, masks.astype(int), 3)
    assert result.samples == 6
    assert result.metrics["miou"] == pytest.approx(direct["miou"])
    assert result.metrics["pixel_accuracy"] == pytest.approx(direct["pixel_accuracy"])
    assert result.top1_error == pytest.approx(1 - direct["miou"])


# ---------------------------------------------------------------- the tools
def _train(argv):
    from afflib.cli import train_segmentation
    return train_segmentation.main([str(a) for a in argv])


def _eval(argv):
    from afflib.cli import eval_segmentation
    return eval_segmentation.main([str(a) for a in argv])


def _history(folder):
    with open(os.path.join(folder, "history.json")) as f:
        data = json.load(f)
    return data["epochs"] if isinstance(data, dict) else data


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Two epochs of a b = 1 AFF-FPN on 128 scenes (64 px), validated on 32."""
    if not (DEFAULT_DATA_DIR / "train-images-idx3-ubyte").exists() and \
            not (DEFAULT_DATA_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"Fashion-MNIST IDX files not in {DEFAULT_DATA_DIR}")
    root = tmp_path_factory.mktemp("segrun")
    cache, folder = root / "cache", root / "run"
    common = ["--train-size", 128, "--test-size", 32, "--batch-size", 16, "--cache-dir", cache, "--no-progress",
              "--log-interval", 0]
    lines = _train(common + ["--num-epochs", 2, "--save-dir", folder, "--overlays", 4])
    return {"common": common, "cache": cache, "folder": str(folder), "lines": lines}


def test_tiny_run_writes_the_run_folder_and_closing_lines(tiny_run):
    folder, lines = tiny_run["folder"], tiny_run["lines"]
    history = _history(folder)
    assert [r["epoch"] for r in history] == [0, 1]
    assert all(0.0 <= r["val_miou"] <= 1.0 and r["val_top1_error"] == pytest.approx(1 - r["val_miou"])
               for r in history)
    assert 0.0 < history[-1]["train_accuracy"] <= 1.0                 # pixel accuracy
    for name in (f"{RUN_NAME}-last.params", f"{RUN_NAME}-last.states", f"{RUN_NAME}.png", f"{RUN_NAME}-overlays.png",
                 f"train_{RUN_NAME}.log", "run_config.json"):
        assert os.path.isfile(os.path.join(folder, name)), name
    assert any(f.endswith("-best.params") for f in os.listdir(folder))
    with open(os.path.join(folder, f"{RUN_NAME}-overlays.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    config = json.load(open(os.path.join(folder, "run_config.json")))
    assert config["scenes"]["canvas"] == 64 and config["dataset"]["classes"] == 11
    assert lines[1] == f"mIoU: {history[-1]['val_miou']:.4f}" and lines[2].startswith("baseline mIoU: 0.")
    log = open(os.path.join(folder, f"train_{RUN_NAME}.log")).read()
    assert "[Epoch 1] validation: mIoU=" in log and lines[1] in log and lines[2] in log
    assert f"final test mIoU: {history[-1]['val_miou']:.4f}" in log


def test_eval_reproduces_the_final_miou(tiny_run, tmp_path):
    params = os.path.join(tiny_run["folder"], f"{RUN_NAME}-last.params")
    out = tmp_path / "overlays.png"
    lines = _eval(["--params", params, "--test-size", 32, "--batch-size", 16, "--cache-dir", tiny_run["cache"],
                   "--no-progress", "--overlays", 2, "--out", out])
    assert lines[1:] == tiny_run["lines"][1:]
    assert lines[0] == tiny_run["lines"][0]
    assert out.is_file()


def test_resume_from_last_continues(tiny_run, tmp_path):
    import shutil
    folder = tmp_path / "run"
    shutil.copytree(tiny_run["folder"], folder)
    lines = _train(tiny_run["common"] + ["--num-epochs", 3, "--resume-from", folder / f"{RUN_NAME}-last.params",
                                         "--allow-recipe-change", "--overlays", 0])
    history = _history(str(folder))
    assert [r["epoch"] for r in history] == [0, 1, 2]
    assert history[:2] == _history(tiny_run["folder"])                # the first two epochs are kept as they were
    assert lines[1] == f"mIoU: {history[-1]['val_miou']:.4f}"
    assert "at epoch 2" in open(folder / f"train_{RUN_NAME}.log").read()


@needs_fashion
def test_binary_task_imperative_model_name_and_its_eval(tmp_path):
    common = ["--test-size", 32, "--batch-size", 16, "--cache-dir", tmp_path / "cache", "--no-progress",
              "--overlays", 0]
    lines = _train(common + ["--binary", 7, "--model-name", "cifar_iaff_fpn8", "--mode", "imperative",
                             "--train-size", 32, "--num-epochs", 1, "--save-dir", tmp_path / "run",
                             "--log-interval", 0])
    config = json.load(open(tmp_path / "run" / "run_config.json"))
    assert config["network"]["text"] == "cifar_iaff_fpn8(classes=2)" and config["dataset"]["classes"] == 2
    assert config["scenes"]["binary"] == 7
    params = tmp_path / "run" / "fashion-mnist-scenes-binary7-cifar_iaff_fpn8-last.params"
    assert _eval(common + ["--params", params]) == lines
    _, masks = load_split(scene_spec(64, 7), False, 32, cache_dir=tmp_path / "cache", progress=False)
    assert lines[2] == f"baseline mIoU: {background_baseline(masks, 2)['miou']:.4f}"


@pytest.mark.slow
@needs_fashion
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_short_run_beats_the_all_background_baseline(seed, tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "segcache"
    lines = _train(["--train-size", 256, "--test-size", 128, "--num-epochs", 2, "--seed", seed, "--cache-dir", cache,
                    "--save-dir", tmp_path_factory.mktemp("learn"), "--no-progress", "--log-interval", 0,
                    "--overlays", 0])
    miou, baseline = float(lines[1].split(": ")[1]), float(lines[2].split(": ")[1])
    # measured (seeds 0, 1, 2, scenes FORMAT_VERSION 2): mIoU 0.1105 / 0.0993 / 0.1171 against 0.0767, a margin
    # of 0.023 to 0.040
    assert miou > baseline + 0.01, lines



# ---------------------------------------------------------------- bad flags
def _exit_status(monkeypatch, capsys, module, argv):
    from importlib import import_module
    tool = import_module(f"afflib.cli.{module}")
    monkeypatch.setattr(sys, "argv", [module] + [str(a) for a in argv])
    with pytest.raises(SystemExit) as stop:
        tool.run()
    return stop.value.code, capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--fusion", "nonsense"], "nonsense"),
    (["--device", "cuda"], "--device is a PyTorch engine flag; add --engine torch"),
    (["--dtype", "bfloat16"], "--dtype bfloat16: the MXNet engine trains segmentation in float32"),
    (["--dataset", "voc"], "--dataset voc reads GluonCV's voc folder: give --data-dir (expected "
                           "<data-dir>/VOC2012/JPEGImages"),
    (["--canvas", "30"], "--canvas 30: must be divisible by 4"),
    (["--num-epochs", "0"], "--num-epochs"),
    (["--model-name", "cifar_aff_fpn8(classes=3)"], "has classes=3, but classes=11 was asked for"),
    pytest.param(["--gpus", "0"], "sees no GPU", marks=pytest.mark.skipif(mx.context.num_gpus() > 0,
                                                                           reason="a GPU is visible")),
])
def test_bad_training_flags_exit_2_with_a_clear_line(monkeypatch, capsys, tmp_path, argv, message):
    status, err = _exit_status(monkeypatch, capsys, "train_segmentation", argv + ["--save-dir", tmp_path / "run"])
    assert status == 2 and message in err
    assert not (tmp_path / "run").exists()


def test_gluoncv_dataset_folder_is_checked(monkeypatch, capsys, tmp_path):
    status, err = _exit_status(monkeypatch, capsys, "train_segmentation",
                               ["--dataset", "ade20k", "--data-dir", tmp_path, "--save-dir", tmp_path / "run"])
    assert status == 2 and f"--data-dir {tmp_path}: not GluonCV's ade20k layout, missing " \
                           f"ADEChallengeData2016/images, ADEChallengeData2016/annotations" in err
    for entry in ("ADEChallengeData2016/images", "ADEChallengeData2016/annotations"):
        (tmp_path / entry).mkdir(parents=True)
    status, err = _exit_status(monkeypatch, capsys, "train_segmentation",
                               ["--dataset", "ade20k", "--data-dir", tmp_path, "--save-dir", tmp_path / "run"])
    assert status == 2 and f"--data-dir {tmp_path}: GluonCV's ADE20KSegmentation cannot read its train split" in err


def test_eval_refuses_a_missing_checkpoint_or_run(monkeypatch, capsys, tmp_path):
    status, err = _exit_status(monkeypatch, capsys, "eval_segmentation", ["--params", tmp_path / "x.params"])
    assert status == 2 and "no such file" in err
    (tmp_path / "x.params").write_bytes(b"")
    status, err = _exit_status(monkeypatch, capsys, "eval_segmentation", ["--params", tmp_path / "x.params"])
    assert status == 2 and "no run_config.json beside it" in err


@needs_fashion
def test_the_scripts_run_the_mxnet_engine_by_default(tmp_path):
    from cli_helpers import run_script
    common = ["--test-size", 16, "--batch-size", 16, "--cache-dir", tmp_path / "cache", "--no-progress",
              "--overlays", 0]
    trained = run_script("train_segmentation.py", *common, "--train-size", 16, "--num-epochs", 1, "--save-dir",
                         tmp_path / "run", "--log-interval", 0)
    config = json.load(open(tmp_path / "run" / "run_config.json"))
    assert "mxnet" in config and config["network"]["name"] == "cifar_aff_fpn8"
    evaluated = run_script("eval_segmentation.py", *common, "--params", tmp_path / "run" / f"{RUN_NAME}-last.params")
    closing = [line for line in trained.stdout.splitlines() if line.startswith(("mIoU: ", "baseline mIoU: "))]
    assert len(closing) == 2 and evaluated.stdout.splitlines()[-2:] == closing
    refused = run_script("train_segmentation.py", "--fusion", "bogus", check=False)
    assert refused.returncode == 2 and "unknown fusion type 'bogus'" in refused.stderr
