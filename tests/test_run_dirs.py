"""Issue 12 §2 and §4: one fresh folder per run, no run overwrites another, resume keeps its recipe, tools refuse to
overwrite outputs without --force, and the log file says why a run stopped. Real runs on a tiny Fashion-MNIST subset."""
import json
import re
import signal

import numpy as np
import pytest
from PIL import Image

from cli_helpers import fashion_subset_or_skip, run_script, run_script_until

NET = ["--model", "resnet", "--askc-type", "ASKCFuse", "--blocks", "1", "--channel-times", "1"]
NAME = "cifar_aff_resnet8-c1"
LAST = f"fashion-mnist-{NAME}-last.params"
LOG = f"train_fashion-mnist-{NAME}.log"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """640 training and 256 test images of the real Fashion-MNIST as IDX files, and a records folder."""
    root = fashion_subset_or_skip(tmp_path_factory, "fmnist_small", 640, 256)
    return ["--dataset", "fashion-mnist", "--data-dir", root, "--rec-dir", root / "rec", *NET, "--batch-size", "64",
            "-j", "0", "--no-progress"]


@pytest.fixture(scope="module")
def finished_run(data, tmp_path_factory):
    """A finished one-epoch run in its default folder (cwd = a temp folder): (cwd, run folder)."""
    cwd = tmp_path_factory.mktemp("cwd")
    run_script("train_cifar.py", *data, "--num-epochs", "1", cwd=cwd)
    runs = list((cwd / "runs").iterdir())
    assert len(runs) == 1
    return cwd, runs[0]


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_default_folder_holds_the_whole_run(finished_run):
    cwd, run = finished_run
    assert sorted(p.name for p in cwd.iterdir()) == ["runs"]                # nothing in the cwd, ./params or ./logs
    assert run.name.startswith(f"{NAME}-fashion-mnist-2") and len(run.name.split("-")[-1]) == 6
    names = {p.name for p in run.iterdir()}
    assert {"run_config.json", "history.json", LOG, LAST, f"fashion-mnist-{NAME}.png"} <= names
    log = (run / LOG).read_text()
    assert log.startswith("Namespace(") and f"run folder: runs/{run.name}" in log and "[Epoch 0] validation" in log


@pytest.mark.slow
def test_second_run_into_a_finished_run_is_refused_then_overwrite(finished_run, data, tmp_path):
    cwd, run = finished_run
    before = _snapshot(run)
    for extra in (["--num-epochs", "1"], ["--num-epochs", "0"], ["--num-epochs", "1", "--lr", "0.05"]):
        proc = run_script("train_cifar.py", *data, *extra, "--save-dir", run, cwd=cwd, check=False)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        line = proc.stderr.strip().splitlines()[-1]
        if extra[1] == "0":   # refused by the flag check, before the folder is looked at
            assert line.endswith("error: argument --num-epochs: expected an integer >= 1, got '0'")
        else:
            assert line.startswith(f"error: --save-dir {run} already holds another run's files (run_config.json, ")
            assert "--overwrite" in line
        assert _snapshot(run) == before                                     # byte-identical, nothing added
    # the same with a copy, so the module's run stays as it is for the other tests
    copy = tmp_path / "copy"
    copy.mkdir()
    for name, content in before.items():
        (copy / name).write_bytes(content)
    run_script("train_cifar.py", *data, "--num-epochs", "1", "--lr", "0.05", "--save-dir", copy, "--overwrite")
    config = json.loads((copy / "run_config.json").read_text())
    assert config["args"]["lr"] == 0.05 and config["args"]["overwrite"] is True


@pytest.mark.slow
def test_failed_validation_writes_nothing(data, tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    no_data = ["--data-dir", tmp_path / "no-such-folder", "--rec-dir", tmp_path / "no-records"]
    for bad in (["--mode", "bogus"], no_data, ["--drop-rate", "0.5"]):
        proc = run_script("train_cifar.py", *data, *bad, "--num-epochs", "1", cwd=cwd, check=False)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert re.match(r"^(train_cifar\.py: )?error: ", proc.stderr.strip().splitlines()[-1])  # argparse's or ours
        assert list(cwd.iterdir()) == []                                    # no runs/, no log, no run_config.json
    proc = run_script("train_cifar.py", *data, "--mode", "bogus", "--save-dir", tmp_path / "out", check=False)
    assert proc.returncode == 2 and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_resume_refuses_a_changed_recipe_unless_allowed(finished_run, data, tmp_path):
    _, original = finished_run
    run = tmp_path / "run"
    run.mkdir()
    for path in original.iterdir():
        (run / path.name).write_bytes(path.read_bytes())
    before = _snapshot(run)
    proc = run_script("train_cifar.py", *data, "--num-epochs", "2", "--lr", "0.05", "--resume-from", run / LAST,
                      check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert f"resume would change the recipe of {run / 'run_config.json'}: --num-epochs 1 -> 2, --lr 0.1 -> 0.05" in line
    assert "--allow-recipe-change" in line and _snapshot(run) == before
    run_script("train_cifar.py", *data, "--num-epochs", "2", "--lr", "0.05", "--resume-from", run / LAST,
               "--allow-recipe-change")
    assert (run / "run_config.json").read_bytes() == before["run_config.json"]   # the original is kept as it was
    resumed = json.loads((run / "run_config.resume-1.json").read_text())
    assert resumed["recipe_changes"] == {"num_epochs": [1, 2], "lr": [0.1, 0.05]}
    assert resumed["resumed_from"] == str(run / LAST)
    assert [e["epoch"] for e in json.loads((run / "history.json").read_text())["epochs"]] == [0, 1]
    log = (run / LOG).read_text()
    assert log.count("Namespace(") == 2 and "resume changes the recipe: --lr 0.1 -> 0.05" in log
    # the changed recipe is now the run's: a later resume compares with it (the newest run_config.resume-N.json)
    proc = run_script("train_cifar.py", *data, "--num-epochs", "2", "--lr", "0.1", "--resume-from", run / LAST,
                      check=False)
    assert proc.returncode == 2 and (f"recipe of {run / 'run_config.resume-1.json'}: --lr 0.05 -> 0.1"
                                     in proc.stderr.strip().splitlines()[-1])
    run_script("train_cifar.py", *data, "--num-epochs", "3", "--lr", "0.05", "--resume-from", run / LAST,
               "--allow-recipe-change")
    assert json.loads((run / "run_config.resume-2.json").read_text())["recipe_changes"] == {"num_epochs": [2, 3]}


def test_nan_loss_stop_is_in_the_log_file(data, tmp_path):
    out = tmp_path / "nan"
    proc = run_script("train_cifar.py", *data, "--num-epochs", "1", "--lr", "1e30", "--save-dir", out, check=False)
    assert proc.returncode == 3
    reason = proc.stderr.strip().splitlines()[-1]
    assert reason.startswith("error: loss is ") and (out / LOG).read_text().rstrip().endswith(reason)


def test_sigterm_stop_is_in_the_log_file(data, tmp_path):
    out = tmp_path / "term"
    status, _, stderr = run_script_until("train_cifar.py", *data, "--num-epochs", "30", "--log-interval", "1",
                                         "--save-dir", out, line_prefix="Epoch[0] Batch [1]",
                                         action=lambda proc: proc.send_signal(signal.SIGTERM))
    assert status == 143, stderr[-2000:]
    reason = stderr.strip().splitlines()[-1]
    assert reason.startswith("interrupted: SIGTERM received at epoch 0")
    assert (out / LOG).read_text().rstrip().endswith(reason)


def test_write_error_stop_is_in_the_log_file(data, tmp_path):
    """The run's folder is replaced by a file mid-run: the checkpoint write fails and the log (elsewhere) says so."""
    out, logs = tmp_path / "vanishing", tmp_path / "logs"

    def replace_folder_by_file(_):
        for path in out.iterdir():
            path.unlink()
        out.rmdir()
        out.write_text("in the way")

    status, _, stderr = run_script_until("train_cifar.py", *data, "--num-epochs", "2", "--log-interval", "1",
                                         "--save-dir", out, "--logging-dir", logs, "--save-plot-dir", "",
                                         line_prefix="Epoch[0] Batch [1]", action=replace_folder_by_file)
    assert status == 2 and "Traceback" not in stderr
    reason = stderr.strip().splitlines()[-1]
    assert reason.startswith("error: ") and str(out) in reason
    assert (logs / LOG).read_text().rstrip().endswith(reason)


@pytest.mark.slow
def test_export_and_gradcam_refuse_existing_outputs(finished_run, tmp_path):
    _, run = finished_run
    prefix = tmp_path / "exported"
    argv = ["--params", run / LAST, "--format", "mxnet", "--batch", "2", "--out", prefix]
    run_script("export.py", *argv)
    files = [tmp_path / "exported-symbol.json", tmp_path / "exported-0000.params"]
    before = [f.read_bytes() for f in files]
    proc = run_script("export.py", *argv, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"error: {files[0]}, {files[1]} already exist; pass --force to overwrite"
    assert [f.read_bytes() for f in files] == before
    run_script("export.py", *argv, "--force")

    Image.fromarray(np.random.RandomState(0).randint(0, 255, (28, 28), dtype=np.uint8)).save(tmp_path / "shoe.png")
    figure = tmp_path / "cams" / "shoe-gradcam.png"
    argv = ["--params", run / LAST, tmp_path / "shoe.png", "--out", tmp_path / "cams"]
    run_script("gradcam.py", *argv)
    before = figure.read_bytes()
    proc = run_script("gradcam.py", *argv, check=False)
    assert proc.returncode == 2 and proc.stderr.strip() == f"error: {figure} already exists; pass --force to overwrite"
    assert figure.read_bytes() == before
    run_script("gradcam.py", *argv, "--force")


def test_run_folder_rules_without_training(tmp_path):
    """The rules of afflib.core.rundir on real folders and files (no training: milliseconds)."""
    from afflib.core.rundir import claim_run_dir, default_run_dir, recipe_changes, run_files
    first = default_run_dir("cifar_aff_resnet8", "fashion-mnist", root=str(tmp_path), now=0)
    (tmp_path / first).mkdir(parents=True)
    assert default_run_dir("cifar_aff_resnet8", "fashion-mnist", root=str(tmp_path), now=0) == first + "-2"
    run = tmp_path / "run"
    run.mkdir()
    (run / ".x.params.123.tmp").write_bytes(b"")                    # a hidden temp file is not another run
    assert run_files(str(run)) == []
    for name in ("a-last.params", "history.json", "run_config.json"):
        (run / name).write_text("{}")
    assert run_files(str(run)) == ["run_config.json", "history.json", "a-last.params"]
    assert recipe_changes({"lr": 0.1, "cpus": 1, "num_epochs": 3}, {"lr": 0.2, "cpus": 2, "num_epochs": 3},
                          "m1", "m2") == {"lr": (0.1, 0.2), "model_name": ("m1", "m2")}
    (run / "run_config.json").write_text("[1, 2]")                  # a resume reads the run's config: named if bad
    with pytest.raises(ValueError, match="run_config.json is not a run configuration"):
        claim_run_dir(str(run), {"lr": 0.1}, "m", resume_params=str(run / "a-last.params"))
    (run / "run_config.json").write_text(json.dumps({"args": {"lr": 0.1}, "model": "m"}))
    claimed = claim_run_dir(str(run), {"lr": 0.1}, "m", resume_params=str(run / "a-last.params"))
    assert claimed.config_name == "run_config.resume-1.json" and claimed.resumed_in_place
    log = tmp_path / "elsewhere.log"
    log.write_text("old")
    with pytest.raises(ValueError, match="elsewhere.log already exists"):
        claim_run_dir(str(tmp_path / "new"), {}, "m", other_outputs=[str(log)])
    assert not (tmp_path / "new").exists()
