"""predict.py: dataset presets and class names, per-file errors, table and JSON output, training-run params."""
import importlib
import json
from pathlib import Path

import numpy as np
import mxnet as mx
import pytest
from PIL import Image

import afflib
from afflib.deploy import ImageReadError, dataset_class_names, dataset_preset, list_images, load_model, read_image

REPO = Path(__file__).resolve().parents[1]


def script(name):
    """The command-line tool ``name`` (``afflib.cli.<name>``, what ``scripts/<name>.py`` runs)."""
    return importlib.import_module(f"afflib.cli.{name}")


def write_images(folder: Path):
    rng = np.random.RandomState(0)
    folder.mkdir()
    Image.fromarray(rng.randint(0, 255, (40, 50, 3), dtype=np.uint8)).save(folder / "colour.png")
    Image.fromarray(rng.randint(0, 255, (28, 28), dtype=np.uint8)).save(folder / "grey.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    (folder / "fake.png").write_text("text, not a PNG")
    (folder / "notes.txt").write_text("not an image, and not picked from a folder")


def test_class_names_of_every_dataset():
    imagenet = dataset_class_names("imagenet")
    assert len(imagenet) == 1000 and imagenet[0] == "tench" and imagenet[-1] == "toilet tissue"
    assert dataset_class_names("cifar10")[:2] == ["airplane", "automobile"]
    assert len(dataset_class_names("cifar100")) == 100
    assert len(dataset_class_names("cifar100-coarse")) == 20
    assert dataset_class_names("fashion-mnist")[0] == "T-shirt/top"
    with pytest.raises(ValueError, match="unknown dataset 'mnist'; valid: imagenet, cifar10"):
        dataset_class_names("mnist")


def test_presets_shape_what_the_network_sees():
    image = np.zeros((300, 400, 3), dtype=np.uint8)
    image[:, 200:] = 255                                            # right half white
    imagenet = dataset_preset("imagenet")
    data = imagenet.preprocess(image)
    assert data.shape == (1, 3, 224, 224)
    view = imagenet.network_view(data)
    # resize the short side to 256 (400 -> 341 wide), centre crop 224: the white half starts near column 112
    assert view.shape == (224, 224, 3) and view[:, :110].max() <= 1 and view[:, 114:].min() >= 254
    fashion = dataset_preset("fashion-mnist")
    assert fashion.preprocess(image).shape == (1, 1, 28, 28) and fashion.channels == 1
    assert dataset_preset("cifar10", input_size=40).preprocess(image).shape == (1, 3, 40, 40)


def test_unreadable_files_are_reported_one_by_one(tmp_path):
    write_images(tmp_path / "images")
    paths = list_images([tmp_path / "images", tmp_path / "missing.png"])
    assert [p.name for p in paths] == ["broken.jpg", "colour.png", "fake.png", "grey.jpg", "missing.png"]
    assert read_image(paths[3]).shape == (28, 28, 3)
    with pytest.raises(ImageReadError, match=r"broken.jpg: cannot decode the image \(Truncated File Read\)"):
        read_image(paths[0])
    with pytest.raises(ImageReadError, match="fake.png: not an image file"):
        read_image(paths[2])
    with pytest.raises(ImageReadError, match="missing.png: no such file"):
        read_image(paths[4])


def test_predict_json_and_table(tmp_path, capsys):
    write_images(tmp_path / "images")
    net = load_model("cifar_aff_resnet20", classes=10)
    net.save_parameters(str(tmp_path / "c10.params"))
    predict = script("predict")
    argv = ["--model", "cifar_aff_resnet20", "--dataset", "cifar10", "--params", str(tmp_path / "c10.params"),
            str(tmp_path / "images"), str(tmp_path / "missing.png"), "--topk", "3"]
    assert predict.main(argv + ["--json"]) == 1                     # some files failed
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["model"] == "cifar_aff_resnet20" and report["dataset"] == "cifar10"
    records = {Path(r["path"]).name: r for r in report["predictions"]}
    assert set(records) == {"broken.jpg", "colour.png", "fake.png", "grey.jpg", "missing.png"}
    assert "cannot decode" in records["broken.jpg"]["error"] and "no such file" in records["missing.png"]["error"]
    assert "not an image file" in records["fake.png"]["error"] and records["grey.jpg"]["error"] is None
    assert "missing.png: no such file" in captured.err

    preset = dataset_preset("cifar10")
    expected = mx.nd.softmax(net(preset.preprocess(read_image(tmp_path / "images" / "colour.png"))))[0].asnumpy()
    top = records["colour.png"]["top"]
    assert [g["index"] for g in top] == list(np.argsort(-expected)[:3])
    np.testing.assert_allclose([g["probability"] for g in top], np.sort(expected)[::-1][:3], rtol=1e-5)
    assert [g["name"] for g in top] == [dataset_class_names("cifar10")[g["index"]] for g in top]

    assert predict.main(argv[:6] + [str(tmp_path / "images" / "grey.jpg")]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "model cifar_aff_resnet20, cifar10 preprocessing (32 px)"
    assert table[1].split() == ["file", "rank", "prob", "class"] and len(table) == 2 + 5


def test_predict_with_the_params_of_a_training_run(tmp_path, capsys):
    """A run folder of scripts/train_cifar.py (params + run_config.json): the model and the Fashion-MNIST
    preprocessing come from the run's record (network name + kwargs, dataset), not from its flags."""
    from afflib.core.modelspec import cifar_spec
    from afflib.core.runrecord import RunRecord
    from afflib.train.runner import run_config
    train_args = script("train_cifar").parse_args(["--dataset", "fashion-mnist", "--blocks", "1",
                                                   "--channel-times", "1"])
    spec = cifar_spec("resnet", "ASKCFuse", 1, 1, 1, 10, 1)
    name = spec.text()
    net = afflib.get_model(name)
    net.initialize(mx.init.Xavier())
    run = tmp_path / "run"
    run.mkdir()
    net.save_parameters(str(run / "best.params"))
    config = run_config(train_args, [mx.cpu()], "float32", spec.tag(), RunRecord(spec, "fashion-mnist", 10, 1))
    config["args"] = {"askc_type": "renamed", "blocks": 99}      # the flat copy is for people: nothing reads it
    (run / "run_config.json").write_text(json.dumps(config, default=str))
    write_images(tmp_path / "images")
    predict = script("predict")
    assert predict.main(["--params", str(run / "best.params"), str(tmp_path / "images" / "grey.jpg"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == name and report["dataset"] == "fashion-mnist"
    assert report["predictions"][0]["top"][0]["name"] in dataset_class_names("fashion-mnist")
    with pytest.raises(ValueError, match="--dataset cifar10, but .*best.params was trained on fashion-mnist"):
        predict.main(["--params", str(run / "best.params"), "--dataset", "cifar10", str(tmp_path / "images")])
    with pytest.raises(FileNotFoundError, match="no model given and no run_config.json beside"):
        predict.main(["--params", str(tmp_path / "nowhere.params"), str(tmp_path / "images")])


@pytest.mark.parametrize("fixture", ["run_config_13122a3.json", "run_config_ed509e5.json"])
def test_runs_of_earlier_main_load_from_their_params_alone(fixture, tmp_path):
    """Run folders written by main @13122a3 (flags only) and @ed509e5 (issue 12's model_spec) still load."""
    from afflib.deploy.models import load_from_run
    weights = afflib.get_model("cifar_aff_resnet8(channels=[16,16,32,64], in_channels=1, classes=10)")
    weights.initialize(mx.init.Xavier())
    weights.save_parameters(str(tmp_path / "fashion-mnist-cifar_aff_resnet8-c1-last.params"))
    (tmp_path / "run_config.json").write_bytes((REPO / "tests" / "fixtures" / fixture).read_bytes())
    run = load_from_run(str(tmp_path / "fashion-mnist-cifar_aff_resnet8-c1-last.params"))
    assert run.name == "cifar_aff_resnet8(channels=[16,16,32,64], in_channels=1, classes=10)"
    assert run.dataset == "fashion-mnist" and run.net(mx.nd.zeros((1, 1, 28, 28))).shape == (1, 10)


def test_load_model_takes_afflib_and_gluoncv_names():
    gluoncv_net = load_model("resnet18_v1", classes=5)
    assert gluoncv_net(mx.nd.zeros((1, 3, 64, 64))).shape == (1, 5)
    grey = load_model("cifar_aff_resnet20", classes=10, in_channels=1)
    assert grey(mx.nd.zeros((2, 1, 28, 28))).shape == (2, 10)
    with pytest.raises(ValueError, match="unknown model 'aff_resnet51'. Did you mean: aff_resnet50"):
        load_model("aff_resnet51")
    with pytest.raises(ValueError, match="either pretrained or a params file"):
        load_model("aff_resnet50", pretrained=True, params="x.params")
