"""scripts/eval_torch.py and its data readers on small generated files and (when present) Fashion-MNIST."""
import gzip
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import afflib_torch
from afflib_torch.convert import save_checkpoint
from afflib_torch.data import (DataFormatError, imagenet_batches, imagenet_folder, load_cifar_test,
                               load_fashion_mnist_test, read_idx)

ROOT = Path(__file__).resolve().parents[1]
SMALL = '{"layers": [1, 1, 1], "channels": [8, 8, 16, 32]}'


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> None:
    data = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data += array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def run_eval(*args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "eval_torch.py"), "--threads", "1",
                           *map(str, args)], capture_output=True, text=True)


def test_idx_reader_round_trip_and_bad_files(tmp_path):
    images = np.random.RandomState(0).randint(0, 256, (5, 28, 28))
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(5), compress=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "t10k-images-idx3-ubyte.gz"), images)
    x, y = load_fashion_mnist_test(str(tmp_path))
    assert x.shape == (5, 1, 28, 28) and y.tolist() == [0, 1, 2, 3, 4]
    raw = (tmp_path / "t10k-labels-idx1-ubyte").read_bytes()
    (tmp_path / "cut").write_bytes(raw[:-1])
    with pytest.raises(DataFormatError, match="cut: .*truncated"):
        read_idx(tmp_path / "cut")
    (tmp_path / "junk").write_bytes(b"\x89PNG....")
    with pytest.raises(DataFormatError, match="junk: not an IDX file"):
        read_idx(tmp_path / "junk")
    with pytest.raises(DataFormatError, match="Fashion-MNIST test images: none of"):
        load_fashion_mnist_test(str(tmp_path / "missing"))


def test_cifar_binary_reader_fine_and_coarse_labels(tmp_path):
    rng = np.random.RandomState(1)
    pixels = rng.randint(0, 256, (3, 3072)).astype(np.uint8)
    records = np.concatenate([np.array([[4, 41], [0, 7], [19, 99]], np.uint8), pixels], axis=1)
    (tmp_path / "test.bin").write_bytes(records.tobytes())
    images, fine = load_cifar_test(str(tmp_path), "cifar100")
    _, coarse = load_cifar_test(str(tmp_path), "cifar100", coarse=True)
    assert fine.tolist() == [41, 7, 99] and coarse.tolist() == [4, 0, 19]
    np.testing.assert_array_equal(images.reshape(3, -1), pixels)
    (tmp_path / "test.bin").write_bytes(records.tobytes()[:-10])
    with pytest.raises(DataFormatError, match="not a whole number of 3074-byte records"):
        load_cifar_test(str(tmp_path), "cifar100")


def test_eval_script_reports_the_errors_the_model_makes(tmp_path):
    """Generated CIFAR-10 binary file; the script's error equals a direct computation with the same model."""
    torch.manual_seed(0)
    net = afflib_torch.get_model("cifar_aff_resnet20", layers=[1, 1, 1], channels=[8, 8, 16, 32], classes=10)
    save_checkpoint(net, tmp_path / "net.params")
    rng = np.random.RandomState(2)
    pixels = rng.randint(0, 256, (40, 3, 32, 32)).astype(np.uint8)
    with torch.no_grad():
        mean = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
        std = torch.tensor([0.2023, 0.1994, 0.2010]).view(1, 3, 1, 1)
        predictions = net.eval()((torch.from_numpy(pixels).float() / 255 - mean) / std).argmax(1).numpy()
    labels = predictions.copy()
    labels[:10] = (labels[:10] + 1) % 10  # exactly 10 of 40 wrong
    records = np.concatenate([labels.astype(np.uint8)[:, None], pixels.reshape(40, -1)], axis=1)
    (tmp_path / "test_batch.bin").write_bytes(records.tobytes())
    result = run_eval("--dataset", "cifar10", "--model", "cifar_aff_resnet20", "--model-kwargs", SMALL,
                      "--params", tmp_path / "net.params", "--data-dir", tmp_path, "--batch-size", 16,
                      "--json", tmp_path / "r.json")
    assert result.returncode == 0, result.stderr
    assert "images=40" in result.stdout and "test accuracy: 0.7500 (error 0.2500" in result.stdout
    assert "images/sec" in result.stdout


def test_eval_script_names_what_does_not_fit(tmp_path):
    save_checkpoint(afflib_torch.get_model("cifar_aff_resnet20", layers=[1, 1, 1], channels=[8, 8, 16, 32],
                                           classes=10), tmp_path / "net.params")
    result = run_eval("--dataset", "cifar100", "--model", "cifar_aff_resnet20", "--model-kwargs", SMALL,
                      "--params", tmp_path / "net.params", "--data-dir", tmp_path)
    assert result.returncode != 0 and "output.weight (file (10, 32), model (100, 32))" in result.stderr


def test_fashion_mnist_test_split_from_the_debian_files(tmp_path):
    """The real IDX files (when installed): 10,000 images, 1,000 per class, the published pixel mean."""
    try:
        images, labels = load_fashion_mnist_test()
    except DataFormatError as exc:
        pytest.skip(f"Fashion-MNIST absent: {exc}")
    assert images.shape == (10000, 1, 28, 28) and np.bincount(labels).tolist() == [1000] * 10
    assert abs(images.mean() / 255 - 0.2860) < 0.005
    net = afflib_torch.get_model("cifar_add_resnet20", layers=[1, 1, 1], channels=[8, 8, 16, 32], classes=10,
                                 in_channels=1)
    save_checkpoint(net, tmp_path / "fm.params")
    result = run_eval("--dataset", "fashion-mnist", "--model", "cifar_add_resnet20", "--model-kwargs", SMALL,
                      "--params", tmp_path / "fm.params", "--limit", 500, "--batch-size", 250)
    assert result.returncode == 0, result.stderr
    assert "dataset=fashion-mnist images=500" in result.stdout


def test_imagenet_folder_evaluation_resizes_crops_and_scores(tmp_path):
    """A val/<class>/ tree of generated JPEGs of different sizes; top-1/top-5 lines as eval_imagenet.py."""
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.RandomState(4)
    for c, name in enumerate(["n01", "n02", "n03"]):
        (tmp_path / "val" / name).mkdir(parents=True)
        for i in range(2):
            pixels = rng.randint(0, 256, (40 + 9 * i, 56 - 5 * c, 3)).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "val" / name / f"{i}.jpg")
    torch.manual_seed(0)
    net = afflib_torch.get_model("add_resnet50", layers=[1, 1, 1, 1], classes=3)
    save_checkpoint(net, tmp_path / "net.pt")
    result = run_eval("--dataset", "imagenet", "--model", "add_resnet50", "--model-kwargs", '{"layers": [1, 1, 1, 1]}',
                      "--classes", 3, "--params", tmp_path / "net.pt", "--data-dir", tmp_path, "--input-size", 32,
                      "--batch-size", 4, "-j", 2, "--json", tmp_path / "r.json")
    assert result.returncode == 0, result.stderr
    assert "images=6 (3 classes)" in result.stdout and "err-top5=0.000000" in result.stdout
    items, classes = imagenet_folder(str(tmp_path))
    assert classes == ["n01", "n02", "n03"] and [label for _, label in items] == [0, 0, 1, 1, 2, 2]
    images, labels = next(imagenet_batches(items, 6, input_size=32, workers=1))
    assert images.shape == (6, 3, 32, 32)
    with torch.no_grad():
        errors = int((net.eval()(images).argmax(1) != labels).sum())
    assert json.loads((tmp_path / "r.json").read_text())["top1_error"] == pytest.approx(errors / 6)


def test_eval_crop_keeps_the_centre_of_the_shorter_side_resized_image(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    from afflib_torch.data import _load_eval_image
    pixels = np.zeros((100, 200, 3), np.uint8)
    pixels[:, 75:125] = 255  # a white vertical band in the middle
    Image.fromarray(pixels).save(tmp_path / "band.png")
    crop = _load_eval_image(tmp_path / "band.png", input_size=56, crop_ratio=0.875)  # shorter side -> 64
    assert crop.shape == (3, 56, 56)
    columns = crop[0].mean(0)
    assert columns[28] == 255 and columns[0] == 0 and columns[-1] == 0
