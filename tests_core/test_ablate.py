"""The ablation sweep's framework-free parts (afflib.core.ablate, afflib.core.ablate_report) and the Inception
host's registry names: cells and their model specs, the training command of a cell (fresh or resumed), bad flags
(exit 2, one line naming the flag, nothing written), and the report of finished run folders (results.csv, table.md
with the paper's numbers, the PNG). The sweep trained end to end: tests_torch/test_ablate.py."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from afflib.core import ablate
from afflib.core.ablate import Cell, _check, cell_spec, grid, main, make_parser_ablate, settings, train_command
from afflib.core.ablate_report import (PAPER_ACCURACY, Summary, count_parameters, finished_epochs, read_cell,
                                       summarize, table_markdown, versus_add, write_plot, write_results_csv)
from afflib.core.ablation import ABLATION_FORMS, preset_r
from afflib.core.modelspec import ModelSpec, entry, parse_spec
from afflib.core.params_io import save_params
from afflib.core.specs import MODEL_SPECS
from cli_helpers import run_script


def test_inception_host_has_registry_names_of_b_1_to_4_and_any_depth():
    for fusion in ("aff", "iaff", "add"):
        for depth, b in ((8, 1), (14, 2), (20, 3), (26, 4)):
            family, defaults = MODEL_SPECS[f"cifar_{fusion}_inception_resnet{depth}"]
            assert family == "CIFARInceptionResNet" and defaults["layers"] == [b] * 3
            assert defaults["fusion"] == fusion and defaults["channels"] == [64, 64, 128, 256]
    assert entry("cifar_add_inception_resnet38") == ("CIFARInceptionResNet", dict(
        MODEL_SPECS["cifar_add_inception_resnet20"][1], layers=[6, 6, 6]))
    with pytest.raises(ValueError, match=r"CIFAR inception-resnet depth is 6\*blocks\+2"):
        entry("cifar_aff_inception_resnet9")


def test_any_form_is_a_fusion_argument_of_a_named_host():
    spec = ModelSpec.create("cifar_aff_resnet20", fusion="MS-GAU", layers=[1, 1, 1], fusion_r=2)
    assert spec.text() == "cifar_aff_resnet8(fusion_r=2, fusion='ms-gau')"
    assert ModelSpec.create(spec.text(), classes=10, in_channels=1) == parse_spec(
        "cifar_aff_resnet8(fusion_r=2, in_channels=1, classes=10, fusion='ms-gau')")
    assert ModelSpec.create("cifar_aff_inception_resnet8", fusion="iaff", layers=[2, 2, 2]).text() == \
        "cifar_iaff_inception_resnet14"


def test_cells_are_the_grid_and_each_has_its_host_form_and_paper_r():
    cells = grid("inception", ["add", "ms-sa"], [1, 2], [0, 1])
    assert len(cells) == 8 and cells[0] == Cell("inception", "add", 1, 0)
    assert [c.key for c in cells[:3]] == ["inception-add-b1-s0", "inception-add-b1-s1", "inception-add-b2-s0"]
    assert cell_spec(Cell("resnet", "add", 1, 0), 1, "paper").text() == "cifar_add_resnet8(channels=[16,16,32,64])"
    assert cell_spec(Cell("inception", "iaff", 4, 0), 4, "paper").text() == "cifar_iaff_inception_resnet26"
    for form in ABLATION_FORMS:
        spec = cell_spec(Cell("resnet", form, 2, 0), 1, "paper")
        args = dict(MODEL_SPECS["cifar_aff_resnet20"][1], **spec.kwargs)
        assert spec.name.endswith("_resnet14") and args.get("fusion_r", 4) == (preset_r(form) or 4), form
        assert spec.kwargs.get("fusion", spec.name.split("_")[1]) == form
    assert cell_spec(Cell("resnet", "ms-gau", 1, 0), 1, "release").kwargs.get("fusion_r") is None   # r = 4


def _args(tmp_path, *extra):
    parser = make_parser_ablate()
    args = parser.parse_args(["--scenario", "resnet", "--fusions", "add,ms-gau", "--out", str(tmp_path), *extra])
    ablate._check(parser, args)
    return args


def test_a_cells_command_trains_fresh_then_resumes_its_last_checkpoint(tmp_path):
    args = _args(tmp_path, "--train-size", "500", "--num-epochs", "2", "--jobs", "2", "--threads", "1",
                 "--device", "cpu,cpu")
    cell = Cell("resnet", "ms-gau", 1, 3)
    run_dir = tmp_path / "cells" / cell.key
    command = train_command(args, cell, run_dir, 1)
    assert command[1].endswith("scripts/train_cifar.py") and command[-1] == "--overwrite"
    def value(flag):
        return command[command.index(flag) + 1]
    assert value("--engine") == "torch" and value("--recipe") == "ablation_short" and value("--seed") == "3"
    assert value("--model-name") == "cifar_aff_resnet8(channels=[16,16,32,64], fusion_r=2, fusion='ms-gau')"
    assert value("--train-size") == "500" and value("--num-epochs") == "2" and value("--save-dir") == str(run_dir)
    assert value("--threads") == "1" and value("--device") == "cpu" and value("--dataset") == "fashion-mnist"
    run_dir.mkdir(parents=True)
    (run_dir / "fashion-mnist-x-last.params").write_bytes(b"")
    assert "--overwrite" in train_command(args, cell, run_dir, 0)          # a .params without its record
    (run_dir / "fashion-mnist-x-last.json").write_text("{}")
    command = train_command(args, cell, run_dir, 0)
    assert command[-2:] == ["--resume-from", str(run_dir / "fashion-mnist-x-last.params")]


@pytest.mark.parametrize("flags, message", [
    (["--scenario", "fpn", "--dataset", "cifar10"], "--scenario fpn trains on the generated fashion-mnist-scenes"),
    (["--scenario", "fpn", "--recipe", "ablation_short"], "takes a segmentation recipe"),
    (["--scenario", "fpn", "--binary", "12"], "expected a Fashion-MNIST class 0-9"),
    (["--binary", "3"], "--binary belongs to --scenario fpn"),
    (["--fusions", "add,bogus"], "--fusions"),
    (["--blocks", "0"], "--blocks"),
    (["--seeds", "a"], "--seeds"),
    (["--engine", "mxnet", "--train-size", "100"], "--train-size belongs to the PyTorch engine"),
    (["--recipe", "no_such_recipe"], "--recipe"),
    (["--recipe", "imagenet_aff_resnet50"], "not train_cifar.py"),
    (["--coarse-labels"], "--coarse-labels only applies to cifar100"),
    (["--recipe", "ablation_paper", "--dataset", "fashion-mnist"], "trains the 20 CIFAR-100 superclasses"),
    (["--jobs", "0"], "--jobs"),
])
def test_bad_flags_exit_2_naming_the_flag_and_write_nothing(tmp_path, capsys, flags, message):
    argv = ["--scenario", "resnet", "--out", str(tmp_path / "out"), *flags]
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and "Traceback" not in "\n".join(err)
    assert not (tmp_path / "out").exists()


def test_a_sweep_folder_refuses_other_settings(tmp_path, capsys):
    (tmp_path / "sweep.json").write_text(json.dumps({"settings": {"engine": "torch", "dataset": "fashion-mnist",
                                                                  "coarse_labels": False, "recipe": "ablation_short",
                                                                  "epochs": 5, "train_size": 0, "channel_times": 1,
                                                                  "preset": "paper"}}))
    with pytest.raises(SystemExit) as stop:
        main(["--scenario", "resnet", "--fusions", "add", "--seeds", "0", "--out", str(tmp_path)])
    assert stop.value.code == 2
    assert "holds a sweep with epochs=5 (now 3); use another --out" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.json"]


def test_the_wrapper_script_refuses_a_classification_recipe_for_fpn_in_one_line(tmp_path):
    proc = run_script("ablate.py", "--scenario", "fpn", "--recipe", "demo", "--out", tmp_path / "o", check=False)
    last = proc.stderr.splitlines()[-1]
    assert proc.returncode == 2 and "segmentation recipe" in last and "Traceback" not in proc.stderr


def test_fpn_cells_run_the_segmentation_tool_with_the_form_in_the_long_skips(tmp_path):
    parser = make_parser_ablate()
    args = parser.parse_args(["--scenario", "fpn", "--fusions", "ms-gau", "--out", str(tmp_path), "--seeds", "4",
                              "--binary", "3"])
    _check(parser, args)
    assert (args.dataset, args.recipe_obj.name, args.binary) == ("fashion-mnist-scenes", "segmentation_short", 3)
    cell = grid("fpn", args.fusions, [2], args.seeds)[0]
    command = train_command(args, cell, tmp_path / "cells" / cell.key, 0)
    assert command[1].endswith("scripts/train_segmentation.py")
    values = [command[command.index(flag) + 1] for flag in ("--fusion", "--blocks", "--seed", "--fusion-r", "--binary")]
    assert values == ["ms-gau", "2", "4", "2", "3"]
    assert settings(args)["binary"] == 3 and command[-1] == "--overwrite"


def _fake_cell(root: Path, cell: Cell, accuracies, wall=12.0, finished=True) -> Path:
    """A run folder as a training engine leaves it: history.json, a -last set, the sweep's cell.json."""
    run_dir = root / "cells" / cell.key
    run_dir.mkdir(parents=True)
    history = [{"epoch": e, "train_loss": 1.0, "train_accuracy": 0.5, "lr": 0.1, "train_seconds": 2.0,
                "val_top1_error": 1 - a} for e, a in enumerate(accuracies)]
    (run_dir / "history.json").write_text(json.dumps({"epochs": history}))
    save_params(run_dir / "fashion-mnist-m-last.params", {"conv.weight": np.zeros((4, 3, 3, 3), np.float32),
                                                          "bn.gamma": np.ones(4, np.float32),
                                                          "bn.running_mean": np.zeros(4, np.float32)})
    (run_dir / "fashion-mnist-m-last.json").write_text("{}")
    (run_dir / "cell.json").write_text(json.dumps({"scenario": cell.scenario, "fusion": cell.fusion, "b": cell.b,
                                                   "seed": cell.seed, "engine": "torch", "dataset": "fashion-mnist",
                                                   "model": "m", "wall_seconds": wall if finished else None}))
    return run_dir


def test_the_difference_to_add_is_marked_where_it_exceeds_two_standard_errors():
    def row(fusion, mean, std, n=3):
        return Summary("resnet", fusion, 1, mean, std, n, 10, None)
    rows = [row("add", 0.80, 0.01), row("aff", 0.83, 0.01), row("sk", 0.81, 0.02)]
    difference, margin = versus_add(rows[1], rows)
    assert difference == pytest.approx(0.03) and margin == pytest.approx(2 * np.sqrt(2 * 0.01 ** 2 / 3))
    table = table_markdown(rows, [], "fashion-mnist")
    assert "| aff | 1 | 83.00 ± 1.00 | 3 | +3.00 ± 1.63 * |" in table
    assert "| sk | 1 | 81.00 ± 2.00 | 3 | +1.00 ± 2.58 |" in table and "| add | 1 | 80.00 ± 1.00 | 3 | — |" in table


def test_finished_cells_read_back_and_report(tmp_path):
    values = {("aff", 0): 0.80, ("aff", 1): 0.84, ("add", 0): 0.78}
    for (fusion, seed), acc in values.items():
        _fake_cell(tmp_path, Cell("resnet", fusion, 1, seed), [0.5, acc - 0.1, acc])
    unfinished = _fake_cell(tmp_path, Cell("resnet", "add", 1, 1), [0.5])
    assert finished_epochs(str(unfinished), 3) is None and read_cell(str(unfinished), 3) is None
    results = [read_cell(str(tmp_path / "cells" / Cell("resnet", f, 1, s).key), 3) for f, s in values]
    first = results[0]
    assert (first.accuracy, first.best_accuracy, first.epochs, first.parameters) == (pytest.approx(0.80),
                                                                                     pytest.approx(0.80), 3, 112)
    assert count_parameters(str(Path(first.run_dir) / "fashion-mnist-m-last.params")) == 4 * 27 + 4

    write_results_csv(str(tmp_path / "results.csv"), results)
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert [(r["fusion"], r["seed"], r["accuracy"]) for r in rows] == [("aff", "0", "0.8000"), ("aff", "1", "0.8400"),
                                                                      ("add", "0", "0.7800")]
    assert set(rows[0]) >= {"scenario", "fusion", "b", "seed", "parameters", "accuracy", "epochs", "wall_seconds"}

    summary = summarize(results, ["add", "aff"])
    assert [(s.fusion, s.n) for s in summary] == [("add", 1), ("aff", 2)]
    assert summary[1].mean == pytest.approx(0.82) and summary[1].std == pytest.approx(np.std([0.80, 0.84], ddof=1))
    assert summary[0].std is None and summary[1].paper == PAPER_ACCURACY[("resnet", "aff")][0]
    table = table_markdown(summary, ["engine torch"], "fashion-mnist")
    assert "| aff | 1 | 82.00 ± 2.83 | 2 | — | 112 | 76.30 |" in table and "| add | 1 | 78.00 | 1 | — | 112 | 74.00 |" \
        in table                                                   # one add seed: no standard error against it
    assert "label set measured: fashion-mnist" in table and "CIFAR-100, 20 superclasses" in table
    pytest.importorskip("matplotlib")
    path = write_plot(str(tmp_path / "plot.png"), summary, "t")
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
