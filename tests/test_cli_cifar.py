"""train_cifar.py / eval_cifar.py end to end: Fashion-MNIST subset through records, CIFAR-100 coarse/fine labels."""
import gzip
import json
import re

import numpy as np
import pytest

from cli_helpers import fashion_subset_or_skip, run_script

SMALL_NET = ["--model", "resnet", "--askc-type", "ASKCFuse", "--blocks", "1", "--channel-times", "1"]


@pytest.fixture(scope="module")
def fashion_subset(tmp_path_factory):
    """The first 3,000 training and 1,000 test images of the real Fashion-MNIST, as IDX files in a temp folder."""
    return fashion_subset_or_skip(tmp_path_factory, "fmnist", 3000, 1000)


@pytest.mark.slow
def test_fashion_mnist_short_run_learns_and_eval_agrees(fashion_subset, tmp_path):
    out = tmp_path / "out"
    common = ["--dataset", "fashion-mnist", "--data-dir", fashion_subset, "--rec-dir", tmp_path / "rec"]
    # --batch-size 16 per CPU context (32 per step, 94 steps an epoch): at 32 (47 steps) the final accuracy
    # over seeds 0-7 spread from 0.398 to 0.702 (mean 0.608); at 16 seeds 0-6 gave 0.702-0.733 (mean 0.719).
    proc = run_script("train_cifar.py", *common, *SMALL_NET, "--batch-size", "16", "--cpus", "2", "--num-epochs", "2",
                      "--lr", "0.2", "--cosine", "--warmup-epochs", "1", "--label-smoothing", "--no-wd",
                      "--save-dir", out, "--logging-dir", out, "--save-plot-dir", out, "--save-period", "1",
                      "--no-progress", "--log-interval", "20")
    assert "packing Fashion-MNIST" in proc.stdout
    lines = re.findall(r"^\[Epoch (\d)\] train=([\d.]+) val=([\d.]+) loss=([\d.]+) lr: [\d.]+ time: [\d.]+$",
                       proc.stdout, flags=re.M)
    assert [l[0] for l in lines] == ["0", "1"]
    accuracy = float(lines[-1][2])
    assert accuracy > 0.6                                    # chance: 0.1; measured 0.702-0.733 (see above)
    assert float(lines[1][3]) < float(lines[0][3])           # training loss falls
    png = out / "fashion-mnist-cifar_aff_resnet8-c1.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    best_epoch = max(range(2), key=lambda e: float(lines[e][2]))
    assert (out / ("%.4f-fashion-mnist-cifar_aff_resnet8-c1-%d-best.params" % (float(lines[best_epoch][2]),
                                                                               best_epoch))).is_file()
    proc = run_script("eval_cifar.py", *common, *SMALL_NET, "--params", out / "fashion-mnist-cifar_aff_resnet8-c1-last.params",
                      "--no-progress")
    assert "images=1000" in proc.stdout and f"test accuracy: {accuracy:.4f}" in proc.stdout

    # a NaN loss stops the run, names epoch and batch, and leaves the last good checkpoint alone
    last = out / "fashion-mnist-cifar_aff_resnet8-c1-last.params"
    before = last.read_bytes()
    proc = run_script("train_cifar.py", *common, *SMALL_NET, "--batch-size", "16", "--num-epochs", "3", "--lr", "1e30",
                      "--resume-from", last, "--save-dir", out, "--logging-dir", "", "--save-plot-dir", "",
                      "--no-progress", "--allow-recipe-change", check=False)     # a resume with another recipe
    assert proc.returncode == 3 and re.search(r"loss is (NaN|infinite) at epoch 2 batch \d+", proc.stderr)
    assert last.read_bytes() == before
    assert json.loads((out / "fashion-mnist-cifar_aff_resnet8-c1-last.json").read_text())["next_epoch"] == 2


def _write_cifar100(folder, n, seed):
    """CIFAR-100 binary records: coarse label byte, fine label byte, 3072 image bytes; class = brightness."""
    rng = np.random.RandomState(seed)
    fine = rng.randint(0, 100, size=n)
    coarse = fine % 20
    images = (rng.rand(n, 3072) * 60 + (coarse[:, None] * 10)).astype(np.uint8)
    rows = np.concatenate([coarse[:, None], fine[:, None], images], axis=1).astype(np.uint8)
    return rows.tobytes()


@pytest.mark.parametrize("coarse", [True, False])
def test_cifar100_label_sets(tmp_path, coarse):
    data = tmp_path / "cifar-100-binary"
    data.mkdir()
    (data / "train.bin").write_bytes(_write_cifar100(data, 64, 0))
    (data / "test.bin").write_bytes(_write_cifar100(data, 24, 1))
    out = tmp_path / "out"
    flags = ["--coarse-labels"] if coarse else []
    proc = run_script("train_cifar.py", "--dataset", "cifar100", *flags, "--data-dir", tmp_path, *SMALL_NET,
                      "--batch-size", "16", "--num-epochs", "1", "--lr", "0.05", "-j", "0", "--save-dir", out,
                      "--logging-dir", "", "--save-plot-dir", "", "--no-progress")
    tag = "cifar100-coarse" if coarse else "cifar100"
    last = out / f"{tag}-cifar_aff_resnet8-c1-last.params"
    import mxnet as mx
    assert mx.nd.load(str(last))["output.bias"].shape == ((20,) if coarse else (100,))
    val_acc = re.search(r"^\[Epoch 0\] train=[\d.]+ val=([\d.]+)", proc.stdout, flags=re.M).group(1)
    proc = run_script("eval_cifar.py", "--dataset", "cifar100", *flags, "--data-dir", tmp_path, *SMALL_NET,
                      "--params", last, "-j", "0", "--no-progress")
    assert "images=24" in proc.stdout and f"test accuracy: {float(val_acc):.4f}" in proc.stdout
    assert ("(20 coarse labels)" in proc.stdout) == coarse


def test_coarse_labels_refused_outside_cifar100(tmp_path):
    proc = run_script("train_cifar.py", "--dataset", "cifar10", "--coarse-labels", "--logging-dir", "", check=False)
    assert proc.returncode == 2 and "--coarse-labels only applies to cifar100" in proc.stderr


def test_model_name_refuses_contradicting_architecture_flags(tmp_path):
    """An explicit --blocks/--channel-times/--start-layer/--deep-stem/--askc-type/--model that contradicts
    --model-name is refused by name with both values (exit 2); values equal to the model's are accepted."""
    proc = run_script("train_cifar.py", "--model-name", "cifar_aff_resnet32", "--blocks", "3", "--channel-times", "4",
                      "--start-layer", "2", "--deep-stem", "--askc-type", "AFF", "--save-dir", tmp_path / "run",
                      check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and not (tmp_path / "run").exists()
    error = proc.stderr.splitlines()[-1]
    assert "--blocks 3 conflicts with --model-name cifar_aff_resnet32, which has blocks 5" in error
    assert "--start-layer 2 conflicts with --model-name cifar_aff_resnet32, which has start_layer 1" in error
    assert "--deep-stem conflicts with --model-name cifar_aff_resnet32, which has deep_stem False" in error
    assert "--channel-times" not in error and "--askc-type" not in error      # equal to the model's


def test_pretrained_eval_takes_the_released_file_of_the_label_set(tmp_path):
    """--pretrained: CIFAR-100 fine labels -> the 'fine' file, --coarse-labels -> the 'coarse' file scored on its
    outputs 0-19 (every released CIFAR file has 100 outputs); no released file for the label set -> exit 2 naming
    the files that exist, before anything is downloaded."""
    import mxnet as mx
    from afflib.cli.eval_cifar import FirstOutputs, released_for
    coarse, scored = released_for("cifar_aff_resnet32", "cifar100", True)
    assert (coarse.tag, coarse.classes, scored) == ("coarse", 100, 20)
    fine, scored = released_for("cifar_aff_resnet32", "cifar100", False)
    assert (fine.tag, fine.classes, scored) == ("fine", 100, 100)
    with pytest.raises(ValueError, match="cifar_aff_resnext38_32x4d' has no released file 'fine'"):
        released_for("cifar_aff_resnext38_32x4d", "cifar100", False)     # its only file is coarse
    net = mx.gluon.nn.Dense(100, in_units=3)
    net.initialize()
    x = mx.nd.ones((2, 3))
    assert FirstOutputs(net, 20)(x).shape == (2, 20)
    assert (FirstOutputs(net, 20)(x) == net(x)[:, :20]).asnumpy().all()
    proc = run_script("eval_cifar.py", "--dataset", "cifar10", "--model-name", "cifar_aff_resnet32", "--pretrained",
                      "--data-dir", tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "has no released file 'cifar10'" in proc.stderr and "pretrained='coarse'" in proc.stderr
