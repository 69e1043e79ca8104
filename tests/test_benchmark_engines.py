"""scripts/benchmark.py --engines: both engines side by side, one process per configuration, alternated rounds."""
import json
from pathlib import Path

import pytest

from afflib.cli import benchmark as script
from afflib.cli import benchmark_engines as engines

TORCH_PYTHON = Path(engines.CHECKOUT) / ".venv-torch" / "bin" / "python"
MICRO = ["--model", "cifar_aff_resnet20", "--layers", "1", "1", "1", "--channels", "4", "4", "8", "8",
         "--classes", "10", "--batch-size", "4", "--input-size", "16"]


def test_defaults_are_the_small_cifar_net_and_every_configuration_has_its_twin():
    args = script.parse_args(["--engines", "all", "--torch-python", script.sys.executable])
    assert (args.model, args.layers, args.channels, args.batch_size, args.input_size) == (
        "cifar_aff_resnet20", [1, 1, 1], [16, 16, 32, 64], 128, 32)
    plans = engines.worker_commands(args)
    assert [label for label, _, _ in plans] == [
        "release cifar_aff_resnet20", "mxnet cifar_aff_resnet20", "mxnet cifar_add_resnet20",
        "torch-eager cifar_aff_resnet20", "torch-eager cifar_add_resnet20",
        "torch-cl-bf16 cifar_aff_resnet20", "torch-cl-bf16 cifar_add_resnet20",
        "torch-compiled cifar_aff_resnet20", "torch-compiled cifar_add_resnet20"]
    twins = {label: twin for label, _, twin in plans if twin}
    assert twins["mxnet cifar_aff_resnet20"] == "mxnet cifar_add_resnet20" and "release cifar_aff_resnet20" not in twins
    release, torch_eager = plans[0][1], plans[3][1]
    assert json.loads(release[-1])["model"] == "textbook:cifar_aff_resnet20"
    assert torch_eager[0] == script.sys.executable and json.loads(torch_eager[-1])["variant"] == "eager"


@pytest.mark.parametrize("flags, message", [
    (["--engines", "mxnet,tf"], "--engines"),
    (["--engines", "mxnet", "--mode", "infer"], "--mode: not available with --engines"),
    (["--engines", "torch-eager", "--torch-python", "/nonexistent/python"], "--torch-python: /nonexistent/python"),
    ([], "--model"),
])
def test_bad_flags_exit_2_naming_the_flag(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        script.parse_args(flags)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.slow
def test_micro_run_prints_the_table_with_ratios_from_the_same_run(tmp_path, capsys):
    """Every configuration in its own worker (MXNet here, torch under .venv-torch when it exists)."""
    chosen = "release,mxnet,torch-eager" if TORCH_PYTHON.is_file() else "release,mxnet"
    out = tmp_path / "engines.json"
    code = script.main(["--engines", chosen, *MICRO, "--iterations", "1", "--rounds", "2", "--warmup", "1",
                        "--threads", "1", "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    rows = json.loads(out.read_text())["results"]
    labels = [r["label"] for r in rows]
    assert labels[:3] == ["release cifar_aff_resnet20", "mxnet cifar_aff_resnet20", "mxnet cifar_add_resnet20"]
    assert all(f"| {label} |" in printed for label in labels)
    by = {r["label"]: r for r in rows}
    base = by["release cifar_aff_resnet20"]["median_images_per_s"]
    for row in rows:
        assert row["median_images_per_s"] > 0
        assert row["x_baseline"] == pytest.approx(row["median_images_per_s"] / base)
    aff, add = by["mxnet cifar_aff_resnet20"], by["mxnet cifar_add_resnet20"]
    assert aff["time_vs_twin"] == pytest.approx(add["median_images_per_s"] / aff["median_images_per_s"])
