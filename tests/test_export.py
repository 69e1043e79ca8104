"""Export: MXNet symbol files and ONNX (opset 13) give the network's outputs back through their runtimes."""
import importlib

import numpy as np
import mxnet as mx
import pytest

from afflib.deploy import load_model
from afflib.deploy.export import check_mxnet_export, check_onnx_export, export_mxnet, export_onnx



def require_onnx():
    pytest.importorskip("onnx", reason="ONNX export needs onnx<=1.18: pip install 'afflib[onnx]'")
    pytest.importorskip("onnxruntime", reason="checking ONNX files needs onnxruntime: pip install 'afflib[onnx]'")


def script(name):
    """The command-line tool ``name`` (``afflib.cli.<name>``, what ``scripts/<name>.py`` runs)."""
    return importlib.import_module(f"afflib.cli.{name}")


def randomized(name, **kwargs):
    """Random weights with non-trivial BatchNorm statistics, so that folding them in the export is tested."""
    mx.random.seed(0)
    net = load_model(name, **kwargs)
    rng = np.random.RandomState(0)
    for pname, param in net.collect_params().items():
        if pname.endswith(("running_var", "gamma")):
            param.set_data(mx.nd.array(rng.uniform(0.5, 1.5, param.shape)))
        elif pname.endswith(("running_mean", "beta")):
            param.set_data(mx.nd.array(rng.normal(0, 0.1, param.shape)))
    return net


@pytest.mark.parametrize("name, shape", [
    pytest.param("aff_resnet50", (1, 3, 224, 224), marks=pytest.mark.slow),
    pytest.param("iaff_resnext50_32x4d", (1, 3, 224, 224), marks=pytest.mark.slow),
    ("cifar_aff_resnext29_32x4d", (1, 3, 32, 32)),
])
def test_onnx_dynamic_batch_matches_mxnet(tmp_path, name, shape):
    require_onnx()
    import onnx
    net = randomized(name)
    path = export_onnx(net, tmp_path / f"{name}.onnx", shape, dynamic_batch=True)
    model = onnx.load(str(path))
    assert model.opset_import[0].version == 13
    assert [i.name for i in model.graph.input] == ["data"]          # weights are initializers only
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 0   # free batch dimension
    assert "MatMul" in {node.op_type for node in model.graph.node}   # the fusion blocks' global mean/broadcast
    checks = check_onnx_export(net, path, shape, batches=(1, 3))
    assert [c.batch for c in checks] == [1, 3]
    for check in checks:
        assert check.max_abs_output > 1e-3
        assert check.relative < 1e-4, check


def test_onnx_fixed_batch_and_mxnet_symbol_files(tmp_path):
    require_onnx()
    import onnx
    net = randomized("cifar_iaff_resnet20", classes=10)
    shape = (2, 3, 32, 32)
    path = export_onnx(net, tmp_path / "fixed.onnx", shape, dynamic_batch=False)
    dims = [d.dim_value for d in onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim]
    assert dims == [2, 3, 32, 32]
    assert check_onnx_export(net, path, shape, batches=(2,))[0].relative < 1e-4
    symbol_file, params_file = export_mxnet(net, tmp_path / "sym" / "net", shape)
    assert symbol_file.name == "net-symbol.json" and params_file.name == "net-0000.params"
    assert sorted(p.name for p in (tmp_path / "sym").iterdir()) == ["net-0000.params", "net-symbol.json"]
    for check in check_mxnet_export(net, symbol_file, params_file, shape, batches=(1, 5)):
        assert check.max_abs_diff <= 1e-6 * check.max_abs_output


def test_export_script_writes_and_checks_a_cifar_model(tmp_path, capsys):
    require_onnx()
    net = randomized("cifar_aff_resnet20", classes=10)
    net.save_parameters(str(tmp_path / "c10.params"))
    export = script("export")
    argv = ["--model", "cifar_aff_resnet20", "--dataset", "cifar10", "--params", str(tmp_path / "c10.params"),
            "--out", str(tmp_path / "out" / "c10")]
    assert export.main(argv + ["--format", "onnx", "--batch", "dynamic"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "out" / "c10.onnx").is_file()
    assert "batch 1: max |onnxruntime - MXNet|" in out and "batch 3:" in out
    assert export.main(argv + ["--format", "mxnet", "--batch", "4"]) == 0
    assert "batch 4: max |SymbolBlock.imports - MXNet| = 0" in capsys.readouterr().out
    with pytest.raises(ValueError, match="--batch must be 'dynamic' or a positive batch size, got '0'"):
        export.main(argv + ["--batch", "0"])
    with pytest.raises(ValueError, match="give --pretrained or --params FILE"):
        export.main(["--model", "cifar_aff_resnet20"])
